import type { BumpedEnvironment } from './revision-ledger';

/**
 * Told, after a transaction commits, which environments got a new revision. The config service
 * (and later the rollout queue) subscribe to it; the default does nothing.
 */
export interface ChangeFeed {
  environmentsChanged(changes: BumpedEnvironment[], serviceId: string): void | Promise<void>;
}

export const SILENT_CHANGE_FEED: ChangeFeed = { environmentsChanged: () => undefined };

/**
 * Several feeds told in order (config push first, then rollouts), each started without waiting for
 * the one before it to finish its Redis round trips; done when all are.
 */
export function composeChangeFeeds(...feeds: ChangeFeed[]): ChangeFeed {
  return {
    async environmentsChanged(changes, serviceId) {
      await Promise.all(feeds.map((feed) => feed.environmentsChanged(changes, serviceId)));
    },
  };
}

export interface BackgroundChangeFeed extends ChangeFeed {
  environmentsChanged(changes: BumpedEnvironment[], serviceId: string): void;
  drain(): Promise<void>;
}

/**
 * A feed told without being waited for: the mutation that committed the change answers at once, and
 * the announcements' Redis round trips (pub/sub to the other replicas, the deployments' PENDING
 * event, the rollout job) go on behind it. What they carry is committed already, and each has its
 * own net: the config streams' revision poll, the rollout sweeper (PENDING deployments without a
 * job). The feed is still told synchronously, so this replica's own config streams hear of the
 * change before the mutation answers. `drain()` waits for the announcements under way (shutdown).
 */
export function backgroundChangeFeed(feed: ChangeFeed, onError: (error: unknown) => void): BackgroundChangeFeed {
  const pending = new Set<Promise<void>>();
  return {
    environmentsChanged(changes, serviceId) {
      let told: Promise<void>;
      try {
        told = Promise.resolve(feed.environmentsChanged(changes, serviceId));
      } catch (error) {
        told = Promise.reject(error);
      }
      const tracked: Promise<void> = told.catch(onError).finally(() => pending.delete(tracked));
      pending.add(tracked);
    },
    async drain() {
      await Promise.all(pending);
    },
  };
}
