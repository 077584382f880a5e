// A Redis pub/sub channel carrying JSON messages between control-plane replicas and workers.
// Publishing is best effort (callers keep a polling fallback); subscribers resubscribe on reconnect.
import type { Logger } from 'pino';
import { createRedisClient, type RedisClient } from './redis-connection';

/**
 * How long a message published while the channel's first connection is still being made waits for it.
 * Without the wait such a message was dropped (the publisher keeps no offline queue, so that a Redis
 * that is away never holds a publisher up for longer than this, and only once).
 */
const FIRST_CONNECTION_WAIT_MS = 2_000;

export class RedisChannel<T> {
  private readonly publisher: RedisClient;
  private subscriber: RedisClient | null = null;
  private readonly handlers: Array<(message: T) => void> = [];
  private subscribed: Promise<void> | null = null;
  private readonly firstConnection: Promise<void>;

  constructor(
    private readonly redisUrl: string,
    readonly name: string,
    private readonly logger: Logger,
  ) {
    // Auto-pipelining: the messages published in one turn (a batch of rollouts ending together) leave in one write.
    this.publisher = createRedisClient(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, enableAutoPipelining: true, retryStrategy: (n) => Math.min(n * 200, 2000) });
    this.publisher.on('error', () => undefined);
    const connected = this.publisher.connect().catch(() => undefined);
    this.firstConnection = Promise.race([connected, new Promise<void>((resolve) => setTimeout(resolve, FIRST_CONNECTION_WAIT_MS).unref())]);
  }

  /**
   * Adds a handler; resolves once the channel is subscribed (or, when Redis cannot be reached, at
   * once: the subscription is replayed on every reconnect).
   */
  subscribe(handler: (message: T) => void): Promise<void> {
    this.handlers.push(handler);
    if (this.subscribed) return this.subscribed;
    const subscriber = createRedisClient(this.redisUrl, { maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(n * 200, 2000) });
    subscriber.on('error', (error: Error) => this.logger.debug({ err: error.message, channel: this.name }, 'redis channel error'));
    subscriber.on('message', (_channel: string, payload: string) => {
      let message: T;
      try {
        message = JSON.parse(payload) as T;
      } catch {
        this.logger.warn({ channel: this.name }, 'ignoring a malformed message');
        return;
      }
      for (const h of this.handlers) h(message);
    });
    this.subscriber = subscriber;
    this.subscribed = subscriber.subscribe(this.name).then(
      () => undefined,
      (error: unknown) => {
        this.logger.warn({ err: error instanceof Error ? error.message : String(error), channel: this.name }, 'Redis unreachable: not subscribed yet (retried on reconnect)');
      },
    );
    return this.subscribed;
  }

  async publish(message: T): Promise<void> {
    await this.firstConnection;
    await this.publisher.publish(this.name, JSON.stringify(message)).catch((error: unknown) => {
      this.logger.debug({ err: error instanceof Error ? error.message : String(error), channel: this.name }, 'redis publish failed');
    });
  }

  close(): void {
    this.publisher.disconnect();
    this.subscriber?.disconnect();
  }
}
