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
