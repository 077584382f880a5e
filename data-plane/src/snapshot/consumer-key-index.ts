// Consumer keys as the proxy knows them: SHA-256 (hex) of the key → what the key grants.
import { createHash } from 'node:crypto';
import type { ConsumerKeyMessage } from '../config-stream/wire-types';

export interface ConsumerKeyGrant {
  readonly connectionId: string;
  readonly serviceId: string;
  readonly projectId: string;
  /** The organization of the key's service: a key is only ever "not allowed" (403) inside its own. */
  readonly organizationId: string;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Immutable. Lookup hashes the presented key and does one Map hit on the digest, so its timing depends on
 * the digest, not on how much of a stored key the presented one shares; keys themselves are never held.
 */
export class ConsumerKeyIndex {
  private constructor(private readonly grants: ReadonlyMap<string, ConsumerKeyGrant>) {}

  /**
   * Build-time only. Throws on a malformed or duplicate hash. A key whose service the snapshot does not
   * hold can authorize nothing here, so it is left out (it then answers like an unknown key).
   */
  static build(keys: readonly ConsumerKeyMessage[], organizationOfService: (serviceId: string) => string | undefined): ConsumerKeyIndex {
    const grants = new Map<string, ConsumerKeyGrant>();
    const seen = new Set<string>();
    for (const key of keys) {
      const hash = key.key_hash.toLowerCase();
      if (!SHA256_HEX.test(hash)) throw new Error(`consumer key of connection ${key.connection_id} has a key_hash that is not SHA-256 hex`);
      if (seen.has(hash)) throw new Error(`two consumer keys share one key_hash (connection ${key.connection_id})`);
      seen.add(hash);
      const organizationId = organizationOfService(key.service_id);
      if (organizationId === undefined) continue;
      grants.set(hash, Object.freeze({ connectionId: key.connection_id, serviceId: key.service_id, projectId: key.project_id, organizationId }));
    }
    return new ConsumerKeyIndex(grants);
  }

  get size(): number {
    return this.grants.size;
  }

  lookup(presentedKey: string): ConsumerKeyGrant | undefined {
    return this.grants.get(hashConsumerKey(presentedKey));
  }
}

/** The key_hash the control plane stores for a consumer key. */
export function hashConsumerKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
