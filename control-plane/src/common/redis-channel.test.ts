import { pino } from 'pino';
import { freePort as closedPort } from '../../../test/support/free-port';
import { RedisChannel } from './redis-channel';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const logger = pino({ level: 'silent' });
const channels: Array<RedisChannel<unknown>> = [];
afterEach(() => {
  for (const channel of channels.splice(0)) channel.close();
});

function channel<T>(url: string, name: string): RedisChannel<T> {
  const made = new RedisChannel<T>(url, name, logger);
  channels.push(made as RedisChannel<unknown>);
  return made;
}

it('delivers a message published while the publisher is still making its first connection', async () => {
  const name = `tg-channel-first-${process.pid}-${Date.now()}`;
  const heard: Array<{ n: number }> = [];
  let delivered: () => void = () => undefined;
  const arrived = new Promise<void>((resolve) => (delivered = resolve));
  await channel<{ n: number }>(REDIS_URL, name).subscribe((message) => {
    heard.push(message);
    delivered();
  });

  // Published in the same turn as the channel is made: its connection has not been opened yet.
  await channel<{ n: number }>(REDIS_URL, name).publish({ n: 1 });
  await arrived;
  expect(heard).toEqual([{ n: 1 }]);
});

it('gives up on a Redis that cannot be reached instead of holding the publisher', async () => {
  const unreachable = `redis://127.0.0.1:${await closedPort()}`;
  // Resolves (the message is lost, as publishing is best effort) rather than hanging or throwing.
  await expect(channel<{ n: number }>(unreachable, 'tg-channel-unreachable').publish({ n: 1 })).resolves.toBeUndefined();
});
