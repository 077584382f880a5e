// Consumer keys as the proxy knows them: SHA-256 (hex) of the key → what the key grants.
import { hash } from 'node:crypto';
import type { ConsumerKeyMessage } from '../config-stream/wire-types';
import type { RateLimitPolicy } from './compiled-snapshot';
import { compileRateLimit } from './compile-rate-limit';

export interface ConsumerKeyGrant {
  readonly connectionId: string;
  readonly serviceId: string;
  readonly projectId: string;
  /** The organization of the key's service: a key is only ever "not allowed" (403) inside its own. */
  readonly organizationId: string;
  /**
   * The connection's own quota, replacing its service's connectionQuota; undefined: the service's
   * applies. A policy without any max makes the connection unlimited.
   */
  readonly quotaOverride?: RateLimitPolicy;
  /** Epoch ms from which the key is refused (a rotated key's grace period ends); undefined: never. */
  readonly expiresAt?: number;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Overlay entries a delta-updated index carries before folding them into a new base (at least this many). */
const MIN_OVERLAY_BEFORE_COMPACTION = 1024;
/** Changes the small top overlay carries before they are folded into the overlay below it. */
const TOP_OVERLAY_ENTRIES = 256;

type Overlay = ReadonlyMap<string, ConsumerKeyGrant | null>;
const EMPTY_OVERLAY: Overlay = new Map();

/**
 * Immutable. Lookup hashes the presented key and does one to three Map hits on the digest, so its
 * timing depends on the digest, not on how much of a stored key the presented one shares; keys
 * themselves are never held.
 *
 * An index updated by a delta shares the previous one's maps (never mutated) and carries the changes
 * in overlays (a grant, or null for a removed key) over the base: a top one of at most
 * TOP_OVERLAY_ENTRIES, copied by each delta, folded into the one below it once full; that one, once it
 * outgrows an eighth of the base, is folded into a new base (a copy of every key). So one change costs
 * a few hundred entries copied, whatever the number of keys: at 50 changes/s and 100,000 keys, copying
 * a single overlay of up to 12,500 entries per delta was most of a proxy's work (bench:scale).
 */
export class ConsumerKeyIndex {
  private constructor(
    private readonly base: ReadonlyMap<string, ConsumerKeyGrant>,
    /** Older changes over the base. */
    private readonly middle: Overlay,
    /** The latest changes, over `middle`. */
    private readonly top: Overlay,
    readonly size: number,
  ) {}

  /**
   * Build-time only. Throws on a malformed or duplicate hash. A key whose service the snapshot does not
   * hold can authorize nothing here, so it is left out (it then answers like an unknown key).
   */
  static build(keys: readonly ConsumerKeyMessage[], organizationOfService: (serviceId: string) => string | undefined): ConsumerKeyIndex {
    const grants = new Map<string, ConsumerKeyGrant>();
    const seen = new Set<string>();
    for (const key of keys) {
      const hash = checkedHash(key);
      if (seen.has(hash)) throw new Error(`two consumer keys share one key_hash (connection ${key.connection_id})`);
      seen.add(hash);
      const grant = grantOf(key, organizationOfService);
      if (grant !== undefined) grants.set(hash, grant);
    }
    return new ConsumerKeyIndex(grants, EMPTY_OVERLAY, EMPTY_OVERLAY, grants.size);
  }

  /**
   * A new index with `removedHashes` gone and `upserted` added or replaced (removals first, so a key
   * both removed and upserted ends up present). Throws on a malformed hash or one upserted twice.
   */
  withChanges(upserted: readonly ConsumerKeyMessage[], removedHashes: readonly string[], organizationOfService: (serviceId: string) => string | undefined): ConsumerKeyIndex {
    const top = new Map(this.top);
    let size = this.size;
    const set = (hash: string, grant: ConsumerKeyGrant | null): void => {
      const had = this.grantIn(hash, top) !== undefined;
      size += (grant === null ? 0 : 1) - (had ? 1 : 0);
      // A removal of a key no map below holds needs no tombstone.
      if (grant === null && !this.heldBelowTop(hash)) top.delete(hash);
      else top.set(hash, grant);
    };
    for (const removed of removedHashes) {
      const hash = removed.toLowerCase();
      if (!SHA256_HEX.test(hash)) throw new Error(`removed key_hash "${removed.slice(0, 80)}" is not SHA-256 hex`);
      set(hash, null);
    }
    const seen = new Set<string>();
    for (const key of upserted) {
      const hash = checkedHash(key);
      if (seen.has(hash)) throw new Error(`two consumer keys share one key_hash (connection ${key.connection_id})`);
      seen.add(hash);
      set(hash, grantOf(key, organizationOfService) ?? null);
    }
    if (top.size < TOP_OVERLAY_ENTRIES) return new ConsumerKeyIndex(this.base, this.middle, top, size);
    const middle = new Map(this.middle);
    for (const [hash, grant] of top) {
      if (grant === null && !this.base.has(hash)) middle.delete(hash);
      else middle.set(hash, grant);
    }
    if (middle.size < Math.max(MIN_OVERLAY_BEFORE_COMPACTION, this.base.size / 8)) return new ConsumerKeyIndex(this.base, middle, EMPTY_OVERLAY, size);
    const base = new Map(this.base);
    for (const [hash, grant] of middle) {
      if (grant === null) base.delete(hash);
      else base.set(hash, grant);
    }
    return new ConsumerKeyIndex(base, EMPTY_OVERLAY, EMPTY_OVERLAY, base.size);
  }

  /** The grant of a key, unless unknown or past its expiry (`now`: epoch ms). */
  lookup(presentedKey: string, now: number = Date.now()): ConsumerKeyGrant | undefined {
    const known = KNOWN_KEY_HASHES.get(presentedKey);
    const hash = known ?? hashConsumerKey(presentedKey);
    const grant = this.grantIn(hash, this.top);
    if (known === undefined && grant !== undefined) rememberKeyHash(presentedKey, hash);
    return grant?.expiresAt !== undefined && grant.expiresAt <= now ? undefined : grant;
  }

  /** The grant of `hash` with `top` as the top overlay. */
  private grantIn(hash: string, top: Overlay): ConsumerKeyGrant | undefined {
    const latest = top.get(hash);
    if (latest !== undefined) return latest ?? undefined;
    const older = this.middle.get(hash);
    if (older !== undefined) return older ?? undefined;
    return this.base.get(hash);
  }

  /** Whether the base or the middle overlay holds an entry (a grant or a tombstone) for `hash`. */
  private heldBelowTop(hash: string): boolean {
    return this.middle.has(hash) || this.base.has(hash);
  }
}

function checkedHash(key: ConsumerKeyMessage): string {
  const hash = key.key_hash.toLowerCase();
  if (!SHA256_HEX.test(hash)) throw new Error(`consumer key of connection ${key.connection_id} has a key_hash that is not SHA-256 hex`);
  return hash;
}

function grantOf(key: ConsumerKeyMessage, organizationOfService: (serviceId: string) => string | undefined): ConsumerKeyGrant | undefined {
  const organizationId = organizationOfService(key.service_id);
  if (organizationId === undefined) return undefined;
  const grant: { -readonly [K in keyof ConsumerKeyGrant]: ConsumerKeyGrant[K] } = { connectionId: key.connection_id, serviceId: key.service_id, projectId: key.project_id, organizationId };
  if (key.expires_at_unix_ms !== '0' && key.expires_at_unix_ms !== '') {
    const expiresAt = Number(key.expires_at_unix_ms);
    if (!Number.isSafeInteger(expiresAt)) throw new Error(`consumer key of connection ${key.connection_id}: expires_at_unix_ms "${key.expires_at_unix_ms}" is not a time`);
    grant.expiresAt = expiresAt;
  }
  if (key.quota_override !== null) {
    try {
      grant.quotaOverride = compileRateLimit(key.quota_override);
    } catch (error) {
      throw new Error(`consumer key of connection ${key.connection_id}: quota_override: ${(error as Error).message}`);
    }
  }
  return Object.freeze(grant);
}

/**
 * The hashes of keys that were found live, by key: an app sends the same key on every request, and a
 * Map lookup costs a small fraction of SHA-256. Only keys that matched a grant are remembered, so
 * unknown or guessed keys never fill it; a hash is a function of the key alone, so an entry stays right
 * across snapshots (a revoked key's hash simply finds no grant). Bounded: emptied when full.
 */
const KNOWN_KEY_HASHES = new Map<string, string>();
const KNOWN_KEY_HASHES_MAX = 10_000;

function rememberKeyHash(key: string, hash: string): void {
  if (KNOWN_KEY_HASHES.size >= KNOWN_KEY_HASHES_MAX) KNOWN_KEY_HASHES.clear();
  KNOWN_KEY_HASHES.set(key, hash);
}

/** The key_hash the control plane stores for a consumer key (one-shot: no Hash object per request). */
export function hashConsumerKey(key: string): string {
  return hash('sha256', key, 'hex');
}
