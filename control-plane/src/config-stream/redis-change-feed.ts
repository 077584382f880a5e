// Fans committed changes out to every control-plane replica over Redis pub/sub, so a change made
// through one replica reaches proxies connected to another. Each replica also handles its own
// changes directly (no round trip through Redis), and a periodic revision poll in the stream server
// covers messages lost while Redis was away.
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ChangeFeed } from '../deployment/change-feed';
import type { BumpedEnvironment } from '../deployment/revision-ledger';


export interface ChangeListener {
  (change: { environment: string; revision: number; serviceId: string }): void;
}

export class RedisChangeFeed implements ChangeFeed {
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly listeners: ChangeListener[] = [];

  private readonly channel: string;

  constructor(redisUrl: string, namespace: string, private readonly logger: Logger) {
    this.channel = `${namespace}:config-changes`;
    const options = { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: (attempt: number) => Math.min(attempt * 200, 5000) };
    this.publisher = new Redis(redisUrl, options);
    this.subscriber = new Redis(redisUrl, { ...options, maxRetriesPerRequest: null, enableOfflineQueue: true });
    for (const client of [this.publisher, this.subscriber]) client.on('error', (error: Error) => this.logger.warn({ err: error.message }, 'redis (config changes) error'));
    this.subscriber.on('message', (_channel: string, payload: string) => {
      try {
        const change = JSON.parse(payload) as { environment: string; revision: number; serviceId: string };
        for (const listener of this.listeners) listener(change);
      } catch {
        this.logger.warn('ignoring a malformed config-change message');
      }
    });
  }

  /** Never fails: without Redis a replica still serves its own changes, and polls for the others'. */
  async start(): Promise<void> {
    // Subscribing before connecting queues the command, so it is replayed on every (re)connect.
    const subscribed = this.subscriber.subscribe(this.channel);
    subscribed.catch(() => undefined);
    try {
      await Promise.all([this.publisher.connect(), subscribed]);
    } catch (error) {
      this.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'Redis unreachable: config changes of other replicas arrive by polling until it returns');
    }
  }

  onChange(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  async environmentsChanged(changes: BumpedEnvironment[], serviceId: string): Promise<void> {
    for (const change of changes) await this.announce(change.handle, change.revision, serviceId);
  }

  /** Tells this replica's listeners and every other replica that `environment` reached `revision`. */
  async announce(environment: string, revision: number, serviceId: string): Promise<void> {
    const message = { environment, revision, serviceId };
    for (const listener of this.listeners) listener(message);
    // Best effort: the change is committed already; other replicas' polls catch up if this is lost.
    await this.publisher.publish(this.channel, JSON.stringify(message)).catch((error: unknown) => {
      this.logger.warn({ err: error instanceof Error ? error.message : String(error), environment }, 'could not publish a config change');
    });
  }

  async stop(): Promise<void> {
    this.subscriber.disconnect();
    this.publisher.disconnect();
  }
}
