// Reads the token counters the proxies share in Redis (one hash per budget window: fields p, c and t
// are the prompt, completion and total tokens used; the proxies' own ledger fields are ignored).
// Read-only, and bounded in time: a GraphQL field waiting on it must answer, with an error if need be.
import { GraphQLError } from 'graphql';
import { createRedisClient, type RedisClient } from '../common/redis-connection';
import { SERVICE_UNAVAILABLE } from '../graphql/database-unavailable';

export interface WindowCounters {
  prompt: number;
  completion: number;
  total: number;
}

/** What Connection.budgets needs from Redis; a test may stand in for it. */
export interface BudgetCounterReader {
  /** Prefix of every key of this installation (TOKENGATE_REDIS_NAMESPACE). */
  readonly namespace: string;
  /** The counters of each hash, in order (0 where the key or a field is missing). @throws SERVICE_UNAVAILABLE */
  read(keys: readonly string[]): Promise<WindowCounters[]>;
}

export const DEFAULT_COUNTER_TIMEOUT_MS = 1_000;

export function countersUnavailable(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: SERVICE_UNAVAILABLE } });
}

function count(value: string | null): number {
  const parsed = value === null ? 0 : Number.parseInt(value, 10);
  return Number.isFinite(parsed) && parsed > 0 ? parsed : 0;
}

export class BudgetCounters implements BudgetCounterReader {
  private readonly redis: RedisClient;

  /** `redisUrl`: one Redis or a cluster (common/redis-connection.ts). Connects on first use. */
  constructor(
    redisUrl: string,
    readonly namespace: string,
    private readonly timeoutMs: number = DEFAULT_COUNTER_TIMEOUT_MS,
  ) {
    this.redis = createRedisClient(redisUrl, {
      lazyConnect: true,
      // Queued while (re)connecting, but never past the timeout, and not retried on another connection.
      commandTimeout: timeoutMs,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    });
    // Failures reach the caller as the command's rejection; this keeps ioredis from printing them.
    this.redis.on('error', () => undefined);
  }

  async read(keys: readonly string[]): Promise<WindowCounters[]> {
    if (keys.length === 0) return [];
    let timer: NodeJS.Timeout | undefined;
    // A cluster queues commands while it (re)discovers its slots without a per-command timeout: the
    // bound is kept here for both kinds of client.
    const timedOut = () => countersUnavailable(`the token counters in Redis did not answer within ${this.timeoutMs} ms; retry shortly`);
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(timedOut()), this.timeoutMs);
    });
    try {
      // One HMGET per key: keys of different services or environments may sit on different cluster nodes.
      const replies = await Promise.race([Promise.all(keys.map((key) => this.redis.hmget(key, 'p', 'c', 't'))), expired]);
      return replies.map(([p, c, t]) => ({ prompt: count(p), completion: count(c), total: count(t) }));
    } catch (error) {
      if (error instanceof GraphQLError) throw error;
      if (error instanceof Error && error.message === 'Command timed out') throw timedOut();
      throw countersUnavailable('the token counters in Redis cannot be read right now; retry shortly');
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.redis.disconnect();
  }
}
