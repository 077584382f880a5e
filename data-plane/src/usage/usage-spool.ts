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
/** Longest unacknowledged() waits for a Redis connection in progress (the client's connect timeout). */
const CONNECT_WAIT_MS = 1000;

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
      connectTimeout: CONNECT_WAIT_MS,
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
   * Called when the proxy reaches the control plane, which may be before its own Redis connection is
   * up (commands are not queued while it connects): it waits for that connection attempt first, at
   * most CONNECT_WAIT_MS, rather than fail and leave the orphans for the next periodic look.
   */
  async unacknowledged(minAgeMs: number): Promise<UsageBatchMessage[]> {
    await this.connection();
    if (this.redis.status !== 'ready') throw new Error(`Redis is not reachable (connection ${this.redis.status})`);
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

  /**
   * Resolves when the connection in progress is ready or has failed (the client then reconnects on
   * its own schedule), at once when none is in progress, and after CONNECT_WAIT_MS at most.
   */
  private connection(): Promise<void> {
    const status = this.redis.status;
    if (status !== 'connecting' && status !== 'connect') return Promise.resolve();
    return new Promise((resolve) => {
      const outcomes = ['ready', 'reconnecting', 'end'] as const;
      const done = (): void => {
        clearTimeout(timer);
        for (const outcome of outcomes) this.redis.off(outcome, done);
        resolve();
      };
      const timer = setTimeout(done, CONNECT_WAIT_MS);
      timer.unref();
      for (const outcome of outcomes) this.redis.once(outcome, done);
    });
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
