import { backgroundChangeFeed, type ChangeFeed } from './change-feed';
import type { BumpedEnvironment } from './revision-ledger';

const CHANGE = [{ handle: 'production', revision: 7 }] as unknown as BumpedEnvironment[];

describe('backgroundChangeFeed', () => {
  it('tells the feed at once, does not wait for it, and drains what is under way', async () => {
    const told: string[] = [];
    let finish!: () => void;
    const slow: ChangeFeed = {
      environmentsChanged(changes, serviceId) {
        told.push(`${serviceId}@${changes[0].revision}`);
        return new Promise<void>((resolve) => (finish = resolve));
      },
    };
    const feed = backgroundChangeFeed(slow, () => undefined);
    expect(feed.environmentsChanged(CHANGE, 'svc')).toBeUndefined();
    expect(told).toEqual(['svc@7']);
    let drained = false;
    const draining = feed.drain().then(() => (drained = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(drained).toBe(false);
    finish();
    await draining;
    expect(drained).toBe(true);
  });

  it('reports a feed that fails, synchronously or later, instead of rejecting unhandled', async () => {
    const errors: unknown[] = [];
    const feed = backgroundChangeFeed(
      {
        environmentsChanged(_changes, serviceId) {
          if (serviceId === 'sync') throw new Error('sync failure');
          return Promise.reject(new Error('async failure'));
        },
      },
      (error) => errors.push((error as Error).message),
    );
    feed.environmentsChanged(CHANGE, 'sync');
    feed.environmentsChanged(CHANGE, 'async');
    await feed.drain();
    expect(errors.sort()).toEqual(['async failure', 'sync failure']);
  });
});
