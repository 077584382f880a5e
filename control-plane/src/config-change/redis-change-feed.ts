// Fans committed changes out to every control-plane replica over Redis pub/sub, so a change made
// through one replica reaches proxies connected to another. Each replica handles its own changes
// directly (no round trip through Redis) and ignores their echo, so each change is announced once per
// replica; a periodic revision poll in the stream server covers messages lost while Redis was away.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ChangeFeed } from './change-feed';
import { RedisChannel } from '../common/redis-channel';
import type { BumpedEnvironment } from './revision-ledger';

export interface ConfigChange {
  environment: string;
  revision: number;
  serviceId: string;
  /** The replica that announced it (it ignores its own echo). Absent in messages of older replicas. */
  origin?: string;
}

export interface ChangeListener {
  (change: ConfigChange): void;
}

export class RedisChangeFeed implements ChangeFeed {
  private readonly channel: RedisChannel<ConfigChange>;
  private readonly listeners: ChangeListener[] = [];
  private readonly origin = randomUUID();

  constructor(redisUrl: string, namespace: string, logger: Logger) {
    this.channel = new RedisChannel(redisUrl, `${namespace}:config-changes`, logger);
  }

  /** Never fails: without Redis a replica still serves its own changes, and polls for the others'. */
  start(): Promise<void> {
    return this.channel.subscribe((change) => {
      if (change.origin === this.origin) return; // told directly when it was announced
      for (const listener of this.listeners) listener(change);
    });
  }

  onChange(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  async environmentsChanged(changes: BumpedEnvironment[], serviceId: string): Promise<void> {
    await Promise.all(changes.map((change) => this.announce(change.handle, change.revision, serviceId)));
  }

  /** Tells this replica's listeners and every other replica that `environment` reached `revision`. */
  async announce(environment: string, revision: number, serviceId: string): Promise<void> {
    const message = { environment, revision, serviceId, origin: this.origin };
    for (const listener of this.listeners) listener(message);
    // Best effort: the change is committed already; other replicas' polls catch up if this is lost.
    await this.channel.publish(message);
  }

  async stop(): Promise<void> {
    this.channel.close();
  }
}
