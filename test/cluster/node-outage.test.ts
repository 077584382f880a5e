// A Redis Cluster master lost and back: the master serving a budget's slot is killed; both proxies
// keep serving on their leases (and say so in /metrics); when it returns, empty, the proxies leave
// the degraded mode and the shared counters on the cluster hold every token exactly once.
import OpenAI from 'openai';
import type { DataPlaneHandle } from '../../data-plane/src/main';
import { budgetWindowKey } from '../../data-plane/src/rate-limit/token-budget';
import { windowAt } from '../../data-plane/src/rate-limit/windows';
import { type Gateway, startGateway } from '../support/gateway-harness';
import { PrivateRedisCluster } from '../support/redis-cluster';
import { waitFor } from '../support/wait';

const CLOCK = Date.UTC(2031, 0, 15, 12, 0, 30);
/** The fake reports 11 prompt + 7 completion tokens per call. */
const PER_CALL = 18;
let cluster: PrivateRedisCluster;
let gw: Gateway;
let second: DataPlaneHandle;

beforeAll(async () => {
  cluster = await PrivateRedisCluster.start();
  // Leases of 30% per proxy: each call reserves a prompt upper bound, several times what it uses.
  gw = await startGateway({ rateLimiting: { clock: () => CLOCK, redisUrl: cluster.url, leaseShare: 0.3, leaseCap: 0.9 } }, { REDIS_URL: cluster.url });
  second = await gw.startProxy();
  await gw.cp.ok(
    'mutation($s: ID!) { configureServiceEnvironment(serviceId: $s, environment: "production", input: {rateLimit: {timeUnit: DAY, maxTotalTokens: 1000}}) { id } }',
    { s: gw.services.openai.id },
    gw.tenant.tokens.engineer,
  );
  await gw.settle();
});
afterAll(async () => {
  await gw?.stop();
  await cluster?.stop();
});

const call = (proxy: DataPlaneHandle) =>
  new OpenAI({ baseURL: `${proxy.url}/acme/openai`, apiKey: gw.services.openai.key, maxRetries: 0 })
    .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 10 })
    .then(() => 200, (error: { status?: number }) => error.status ?? 0);

async function degraded(proxy: DataPlaneHandle): Promise<number> {
  const text = await (await fetch(`${proxy.url}/metrics`)).text();
  return Number(/^tokengate_rate_limit_degraded{environment="production"} (\d+)/m.exec(text)?.[1]);
}

const windowKey = () => budgetWindowKey(gw.cp.redisNamespace, 'production', gw.services.openai.id, windowAt('DAY', CLOCK));

async function sharedTotal(): Promise<number> {
  const client = cluster.client();
  try {
    return Number(await client.hget(windowKey(), 't'));
  } finally {
    client.disconnect();
  }
}

it('degrades to its leases while the budget’s master is down and recovers without lost or doubled counts', async () => {
  expect(await call(gw.proxy)).toBe(200);
  expect(await call(second)).toBe(200);
  await waitFor(async () => (await sharedTotal()) === 2 * PER_CALL, 'the settled counters');

  const port = await cluster.nodeOf(windowKey());
  await cluster.stopNode(port);
  expect([await call(gw.proxy), await call(second), await call(gw.proxy)]).toEqual([200, 200, 200]);
  // Admitted out of their leases, the calls did not wait for Redis: each proxy learns of the outage
  // when its next flush (within 5 ms of a call, failing within its 1 s deadline) does not get through.
  await waitFor(async () => (await degraded(gw.proxy)) === 1 && (await degraded(second)) === 1, 'both proxies to notice the outage', 30_000);

  await cluster.startNode(port); // empty: a restart without persistence
  await waitFor(async () => (await degraded(gw.proxy)) === 0 && (await degraded(second)) === 0, 'both proxies to leave the degraded mode', 30_000);
  // Before (2 calls, pushed again since the node lost them) + during (3 calls): every token once.
  await waitFor(async () => (await sharedTotal()) === 5 * PER_CALL, 'the shared counters to hold every token', 30_000);
  expect(await call(second)).toBe(200);
  await waitFor(async () => (await sharedTotal()) === 6 * PER_CALL, 'the last call to settle');
});
