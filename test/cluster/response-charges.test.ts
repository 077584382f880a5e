// Background Responses charged once (ADR 007) with the proxies' shared state on a Redis Cluster (three
// masters started by the test): the charge script runs on the one key of each response, whichever
// master owns its slot, and two proxies agree on every response.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { ResponseCharges } from '../../data-plane/src/usage/response-charges';
import { PrivateRedisCluster } from '../support/redis-cluster';

const logger = pino({ level: 'silent' });
let cluster: PrivateRedisCluster;
const opened: ResponseCharges[] = [];

beforeAll(async () => {
  cluster = await PrivateRedisCluster.start();
});
afterAll(async () => {
  for (const charges of opened) charges.close();
  await cluster?.stop();
});

function proxy(): ResponseCharges {
  const charges = new ResponseCharges({ redisUrl: cluster.url, keyPrefix: `tg-cluster-charges-${process.pid}`, environment: 'production', logger, ttlSeconds: 60 });
  opened.push(charges);
  return charges;
}

const FINAL = { promptTokens: 50, completionTokens: 40 };
const NOTHING = { promptTokens: 0, completionTokens: 0 };

it('charges each background response once across two proxies, less its cut streams, on every master', async () => {
  const [a, b] = [proxy(), proxy()];
  // 60 responses: their keys fall in slots of all three masters.
  const ids = Array.from({ length: 60 }, () => `resp_${randomBytes(8).toString('hex')}`);
  const charged = await Promise.all(
    ids.map(async (id, i) => {
      const cut = i % 2 === 0 ? await a.charge('svc', id, { promptTokens: 12, completionTokens: 3 }, false) : NOTHING;
      const first = await b.charge('svc', id, FINAL, true);
      const again = await a.charge('svc', id, FINAL, true);
      return { cut, first, again };
    }),
  );
  charged.forEach(({ cut, first, again }, i) => {
    if (i % 2 === 0) {
      expect(cut).toEqual({ promptTokens: 12, completionTokens: 3 });
      expect(first).toEqual({ promptTokens: 38, completionTokens: 37 });
    } else {
      expect(first).toEqual(FINAL);
    }
    expect(again).toEqual(NOTHING);
  });
  const masters = await Promise.all(ids.map((id) => cluster.nodeOf(`tg-cluster-charges-${process.pid}:response-charge:production:svc:${id}`)));
  expect(new Set(masters).size).toBe(3);
});
