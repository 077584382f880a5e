// The ioredis clients handed to BullMQ, so that this process, not BullMQ, decides how they end.
// BullMQ cannot close a queue or worker whose Redis is away: Worker.close() waits for an 'end' event
// a reconnecting client never emits, and a Queue's client keeps reconnecting after a failed close
// (taskforcesh/bullmq#4656). A client we own can always be disconnected, which stops its retries.
import type { RedisOptions } from 'ioredis';
import { createRedisClient, type RedisClient } from '../common/redis-connection';

/** Options for every client handed to BullMQ (it requires maxRetriesPerRequest: null on a worker's). */
export const BULLMQ_CLIENT_OPTIONS = {
  maxRetriesPerRequest: null,
  // Back within 2 s of Redis returning (BullMQ's own default backs off to 20 s).
  retryStrategy: (attempt: number) => Math.min(attempt * 200, 2_000),
} satisfies RedisOptions;

/**
 * Resolves true once `promise` settles (either way), or false if `ms` pass, or `giveUp` settles,
 * first. Never rejects.
 */
export async function settlesWithin(promise: Promise<unknown>, ms: number, giveUp?: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const given = giveUp?.then(() => false as const, () => false as const) ?? expired;
  try {
    return await Promise.race([promise.then(() => true, () => true), expired, given]);
  } finally {
    clearTimeout(timer);
  }
}

export class OwnedRedisClients {
  private readonly clients = new Set<RedisClient>();
  /** The clients made by create(): BullMQ shares these and never closes them itself. */
  private readonly created = new Set<RedisClient>();

  /** `redisUrl`: one Redis or a cluster (common/redis-connection.ts). */
  constructor(private readonly redisUrl: string) {}

  /** A new client; the copies BullMQ makes of it (`duplicate()`, e.g. a worker's blocking connection) are owned too. */
  create(options: RedisOptions): RedisClient {
    const client = this.own(createRedisClient(this.redisUrl, options));
    this.created.add(client);
    return client;
  }

  /** True when every client is connected and ready: false while Redis is away or a client is reconnecting. */
  get allReady(): boolean {
    return [...this.clients].every((client) => client.status === 'ready');
  }

  /**
   * Resolves once a client made by create() is not ready or loses its connection. The copies are
   * left out: BullMQ disconnects those on purpose while it closes (e.g. a worker's blocking one).
   */
  connectionLost(): Promise<void> {
    return new Promise((resolve) => {
      for (const client of this.created) {
        if (client.status !== 'ready') resolve();
        else client.once('close', () => resolve());
      }
    });
  }

  /**
   * Ends every client: QUIT when it is ready (until its connection has closed, bounded by
   * `quitTimeoutMs`), an immediate disconnect otherwise, which also cancels its reconnection.
   * Never rejects, never waits on Redis past the bound; commands still queued are abandoned.
   */
  async close(quitTimeoutMs = 1_000): Promise<void> {
    await Promise.all(
      [...this.clients].map(async (client) => {
        if (client.status === 'ready') {
          const ended = new Promise((resolve) => client.once('end', resolve));
          await settlesWithin(Promise.all([client.quit(), ended]), quitTimeoutMs);
        }
        if (client.status !== 'end') client.disconnect();
      }),
    );
  }

  private own<C extends RedisClient>(client: C): C {
    this.clients.add(client);
    // Errors reach the logs through the queue's or worker's 'error' event; this only keeps ioredis
    // from printing "Unhandled error event" for a client BullMQ has let go of.
    client.on('error', () => undefined);
    // Redis.duplicate(options) and Cluster.duplicate(startupNodes, options): arguments passed through.
    const duplicate = client.duplicate.bind(client) as (...args: unknown[]) => C;
    client.duplicate = ((...args: unknown[]) => this.own(duplicate(...args))) as C['duplicate'];
    return client;
  }
}
