import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { freePort as closedPort } from '../../../test/support/free-port';
import { BudgetCounters } from './budget-counters';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/** A TCP server that accepts connections and never answers: Redis hung, or a firewall eating replies. */
async function silentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe('BudgetCounters', () => {
  it('reads p, c and t of each hash, 0 where a key or field is missing, ignoring the proxies\' ledger fields', async () => {
    const namespace = `tg-unit-${randomBytes(4).toString('hex')}`;
    const writer = new Redis(REDIS_URL);
    const counters = new BudgetCounters(REDIS_URL, namespace);
    try {
      await writer.hset(`${namespace}:a`, { p: '120', c: '30', t: '150', 'p:proxy-1': '999', 'c:proxy-1': '999' });
      await writer.hset(`${namespace}:b`, { t: '7' });
      expect(await counters.read([`${namespace}:a`, `${namespace}:b`, `${namespace}:none`])).toEqual([
        { prompt: 120, completion: 30, total: 150 },
        { prompt: 0, completion: 0, total: 7 },
        { prompt: 0, completion: 0, total: 0 },
      ]);
      expect(await counters.read([])).toEqual([]);
    } finally {
      await writer.del(`${namespace}:a`, `${namespace}:b`);
      writer.disconnect();
      counters.close();
    }
  });

  it('answers SERVICE_UNAVAILABLE within its timeout when Redis accepts the connection but never replies', async () => {
    const silent = await silentServer();
    const counters = new BudgetCounters(silent.url, 'tokengate', 200);
    try {
      const started = Date.now();
      const error = await counters.read(['tokengate:rl:{production:s}:MINUTE:0']).then(() => null, (e: unknown) => e);
      expect(error).toMatchObject({ message: 'the token counters in Redis did not answer within 200 ms; retry shortly', extensions: { code: 'SERVICE_UNAVAILABLE' } });
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      counters.close();
      await silent.close();
    }
  });

  it('answers SERVICE_UNAVAILABLE when nothing listens', async () => {
    const counters = new BudgetCounters(`redis://127.0.0.1:${await closedPort()}`, 'tokengate', 200);
    try {
      await expect(counters.read(['k'])).rejects.toMatchObject({ extensions: { code: 'SERVICE_UNAVAILABLE' } });
    } finally {
      counters.close();
    }
  });
});
