// Usage batches the control plane has not acknowledged yet, kept in Redis so that they survive the
// proxy: a proxy restarted (or crashed) while the control plane is away leaves its batches here, and
// any proxy of the environment re-sends them once it reaches the control plane. The control plane
// applies a batch id once, so a batch re-sent by two proxies is still counted once.
import type { Logger } from 'pino';
import type { UsageBatchMessage } from '../config-stream/wire-types';
import { createRedisClient, type RedisClient } from '../redis/redis-connection';

export interface UsageSpoolOptions {
  /** One Redis or a cluster, as TokenBudgetOptions.redisUrl. */
  readonly redisUrl: string;
  /** Prefix of the keys (TOKENGATE_REDIS_NAMESPACE); default `tokengate`. */
  readonly keyPrefix?: string;
  readonly environment: string;
  readonly proxyId: string;
  readonly logger: Logger;
  readonly now?: () => number;
}

interface SpooledBatch {
  readonly spooledAt: number;
  readonly proxyId: string;
  readonly batch: UsageBatchMessage;
}

/**
 * The control plane remembers applied batch ids for 7 days; a batch spooled longer than this might be
 * applied twice, so it is dropped instead (with an error log).
 */
export const MAX_SPOOL_AGE_MS = 6 * 24 * 3600_000;

export class UsageSpool {
  private readonly redis: RedisClient;
  /** One hash per environment: one key, so one slot on a cluster; every command here names it alone. */
  private readonly key: string;
  private readonly now: () => number;

  constructor(private readonly options: UsageSpoolOptions) {
    this.now = options.now ?? Date.now;
    this.key = `${options.keyPrefix ?? 'tokengate'}:usage-spool:${options.environment}`;
    this.redis = createRedisClient(options.redisUrl, {
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      connectTimeout: 1000,
      commandTimeout: 2000,
      retryStrategy: (attempt: number) => Math.min(100 * attempt, 2000),
    });
    this.redis.on('error', () => undefined); // failures surface per command
  }

  /** Stores a batch until `remove`; rejects when Redis cannot take it now. */
  async put(batch: UsageBatchMessage): Promise<void> {
    const entry: SpooledBatch = { spooledAt: this.now(), proxyId: this.options.proxyId, batch };
    await this.redis.hset(this.key, batch.batch_id, JSON.stringify(entry));
  }

  async remove(batchId: string): Promise<void> {
    await this.redis.hdel(this.key, batchId);
  }

  /**
   * Batches spooled at least `minAgeMs` ago, by any proxy of the environment (this one included: its
   * memory may have dropped them). Entries too old to re-send safely, or unreadable, are deleted.
   */
  async unacknowledged(minAgeMs: number): Promise<UsageBatchMessage[]> {
    const now = this.now();
    const found: UsageBatchMessage[] = [];
    const expired: string[] = [];
    let cursor = '0';
    do {
      const [next, fields] = await this.redis.hscan(this.key, cursor, 'COUNT', 500);
      cursor = next;
      for (let i = 0; i + 1 < fields.length; i += 2) {
        const entry = parseEntry(fields[i + 1]);
        if (entry === null || now - entry.spooledAt > MAX_SPOOL_AGE_MS) expired.push(fields[i]);
        else if (now - entry.spooledAt >= minAgeMs) found.push(entry.batch);
      }
    } while (cursor !== '0');
    if (expired.length > 0) {
      this.options.logger.error({ batches: expired.length }, 'usage batches spooled for too long (or unreadable) dropped: the control plane may have forgotten their ids');
      await this.redis.hdel(this.key, ...expired);
    }
    return found;
  }

  async close(): Promise<void> {
    this.redis.disconnect();
    await Promise.resolve();
  }
}

function parseEntry(text: string): SpooledBatch | null {
  try {
    const entry = JSON.parse(text) as SpooledBatch;
    return typeof entry.spooledAt === 'number' && typeof entry.batch?.batch_id === 'string' && Array.isArray(entry.batch.records) ? entry : null;
  } catch {
    return null;
  }
}
