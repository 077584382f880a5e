// Consumer keys as the proxy knows them: SHA-256 (hex) of the key → what the key grants.
import { createHash } from 'node:crypto';
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

/**
 * Immutable. Lookup hashes the presented key and does one or two Map hits on the digest, so its timing
 * depends on the digest, not on how much of a stored key the presented one shares; keys themselves are
 * never held.
 *
 * An index updated by a delta shares the previous one's base map (never mutated) and carries the
 * changes in a small overlay (a grant, or null for a removed key), so one change costs the size of the
 * overlay, not the number of keys. Once the overlay outgrows an eighth of the base, it is folded into a
 * new base: a copy of every key, paid once per that many changes.
 */
export class ConsumerKeyIndex {
  private constructor(
    private readonly base: ReadonlyMap<string, ConsumerKeyGrant>,
    private readonly overlay: ReadonlyMap<string, ConsumerKeyGrant | null>,
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
    return new ConsumerKeyIndex(grants, new Map(), grants.size);
  }

  /**
   * A new index with `removedHashes` gone and `upserted` added or replaced (removals first, so a key
   * both removed and upserted ends up present). Throws on a malformed hash or one upserted twice.
   */
  withChanges(upserted: readonly ConsumerKeyMessage[], removedHashes: readonly string[], organizationOfService: (serviceId: string) => string | undefined): ConsumerKeyIndex {
    const overlay = new Map(this.overlay);
    let size = this.size;
    const set = (hash: string, grant: ConsumerKeyGrant | null): void => {
      const had = this.grantFor(hash, overlay) !== undefined;
      size += (grant === null ? 0 : 1) - (had ? 1 : 0);
      // A removal of a key only the base never held needs no tombstone.
      if (grant === null && !this.base.has(hash)) overlay.delete(hash);
      else overlay.set(hash, grant);
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
    if (overlay.size < Math.max(MIN_OVERLAY_BEFORE_COMPACTION, this.base.size / 8)) return new ConsumerKeyIndex(this.base, overlay, size);
    const base = new Map(this.base);
    for (const [hash, grant] of overlay) {
      if (grant === null) base.delete(hash);
      else base.set(hash, grant);
    }
    return new ConsumerKeyIndex(base, new Map(), base.size);
  }

  /** The grant of a key, unless unknown or past its expiry (`now`: epoch ms). */
  lookup(presentedKey: string, now: number = Date.now()): ConsumerKeyGrant | undefined {
    const grant = this.grantFor(hashConsumerKey(presentedKey), this.overlay);
    return grant?.expiresAt !== undefined && grant.expiresAt <= now ? undefined : grant;
  }

  private grantFor(hash: string, overlay: ReadonlyMap<string, ConsumerKeyGrant | null>): ConsumerKeyGrant | undefined {
    const changed = overlay.get(hash);
    if (changed !== undefined) return changed ?? undefined;
    return this.base.get(hash);
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

/** The key_hash the control plane stores for a consumer key. */
export function hashConsumerKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
