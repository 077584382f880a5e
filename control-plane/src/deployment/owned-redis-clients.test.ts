import { freePort as closedPort } from '../../../test/support/free-port';
import { OwnedRedisClients, settlesWithin } from './owned-redis-clients';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

describe('settlesWithin', () => {
  it('is true for a promise that resolves or rejects, false for one that never settles', async () => {
    expect(await settlesWithin(Promise.resolve('done'), 1_000)).toBe(true);
    expect(await settlesWithin(Promise.reject(new Error('refused')), 1_000)).toBe(true);
    expect(await settlesWithin(new Promise(() => undefined), 10)).toBe(false);
  });

  it('is false as soon as `giveUp` settles first', async () => {
    expect(await settlesWithin(new Promise(() => undefined), 60_000, Promise.resolve())).toBe(false);
    expect(await settlesWithin(Promise.resolve(), 60_000, new Promise(() => undefined))).toBe(true);
  });
});

describe('OwnedRedisClients', () => {
  it('ends ready clients and the copies made of them', async () => {
    const clients = new OwnedRedisClients(REDIS_URL);
    const client = clients.create({ maxRetriesPerRequest: null });
    const copy = client.duplicate();
    await Promise.all([client.ping(), copy.ping()]);
    expect(clients.allReady).toBe(true);
    await clients.close();
    expect([client.status, copy.status]).toEqual(['end', 'end']);
  });

  it('notices a lost connection of a client it made, but not a copy BullMQ closes on purpose', async () => {
    const clients = new OwnedRedisClients(REDIS_URL);
    const client = clients.create({ maxRetriesPerRequest: null, disconnectTimeout: 100 });
    const copy = client.duplicate();
    await Promise.all([client.ping(), copy.ping()]);
    let lost = false;
    const losing = clients.connectionLost().then(() => (lost = true));
    await copy.quit();
    await client.ping(); // one round trip later, still not lost
    expect(lost).toBe(false);
    const admin = clients.create({});
    await admin.call('CLIENT', 'KILL', 'ID', String(await client.call('CLIENT', 'ID')));
    await losing;
    await clients.close();
  });

  it('closes promptly while Redis is unreachable, instead of waiting for a reconnection', async () => {
    const clients = new OwnedRedisClients(`redis://127.0.0.1:${await closedPort()}`);
    // disconnectTimeout: ioredis keeps a timer that long for the socket a reconnecting client already lost.
    const client = clients.create({ maxRetriesPerRequest: null, retryStrategy: () => 50, disconnectTimeout: 100 });
    await new Promise((resolve) => client.once('reconnecting', resolve));
    expect(clients.allReady).toBe(false);
    // A hang here is the failure (BullMQ's own close waits for an 'end' that never comes).
    expect(await settlesWithin(clients.close(), 10_000)).toBe(true);
    const reconnections = jest.fn();
    client.on('reconnecting', reconnections);
    // Past several retry intervals of 50 ms: a disconnected client does not try again.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(reconnections).not.toHaveBeenCalled();
  });
});
