import type { BumpedEnvironment } from './revision-ledger';

/**
 * Told, after a transaction commits, which environments got a new revision. The config service
 * (and later the rollout queue) subscribe to it; the default does nothing.
 */
export interface ChangeFeed {
  environmentsChanged(changes: BumpedEnvironment[], serviceId: string): void | Promise<void>;
}

export const SILENT_CHANGE_FEED: ChangeFeed = { environmentsChanged: () => undefined };
