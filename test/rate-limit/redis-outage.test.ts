// Redis stopped and restarted mid-test: the proxies keep serving on their leases (or, fail-open, on
// their local share), say so in /metrics, and when Redis is back the shared counters hold every token
// exactly once. With leases, four proxies together never admit more than the budget.
import OpenAI from 'openai';
import type { DataPlaneHandle } from '../../data-plane/src/main';
import { type Gateway, startGateway } from '../support/gateway-harness';
import { degradedGauge, redisTotalTokens } from '../support/budget-observers';
import { PrivateRedis } from '../support/redis-server';
import { waitFor } from '../support/wait';

const CLOCK = Date.UTC(2031, 0, 15, 12, 0, 30);
let redis: PrivateRedis;
let gw: Gateway;
let second: DataPlaneHandle;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  // Leases of 30% per proxy: the calls below reserve a prompt upper bound, several times what they use.
  gw = await startGateway({ rateLimiting: { clock: () => CLOCK, redisUrl: redis.url, leaseShare: 0.3, leaseCap: 0.9, usageReportIntervalMs: 100 } });
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
  await redis?.stop();
});

const call = (proxy: DataPlaneHandle) =>
  new OpenAI({ baseURL: `${proxy.url}/acme/openai`, apiKey: gw.services.openai.key, maxRetries: 0 })
    .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 10 })
    .then(() => 200, (error: { status?: number }) => error.status ?? 0);

const degraded = degradedGauge;
const redisTotal = () => redisTotalTokens(redis, gw.cp.redisNamespace, gw.services.openai.id);

it('degrades to local counters and recovers without lost or doubled counts', async () => {
  // 18 tokens per call (the fake reports 11 + 7).
  expect(await call(gw.proxy)).toBe(200);
  expect(await call(second)).toBe(200);
  expect(await redisTotal()).toBe(36);

  await redis.stop();
  const during = [await call(gw.proxy), await call(second), await call(gw.proxy)];
  expect(during).toEqual([200, 200, 200]);
  expect(await degraded(gw.proxy)).toBe(1);
  expect(await degraded(second)).toBe(1);

  await redis.start(); // empty: a restart without persistence
  await waitFor(async () => (await degraded(gw.proxy)) === 0 && (await degraded(second)) === 0, 'both proxies to leave the degraded mode');
  // Before (2 × 18, pushed again since Redis lost them) + during (3 × 18): every token once.
  await waitFor(async () => (await redisTotal()) === 5 * 18, 'the shared counters to hold every token');
  expect(await call(second)).toBe(200);
  // A lease admission's give-back is flushed within 5 ms and not waited for (ADR 011): until it lands
  // Redis holds the whole reservation (90 + 93 = 183). A count taken twice would never come down to 108.
  await waitFor(async () => (await redisTotal()) === 6 * 18, 'the give-back of the last call to land');
});

it('fail-open (explicit): local counters enforce this proxy’s share of the budget while Redis is away', async () => {
  const failOpen = await gw.startProxy({ rateLimiting: { clock: () => CLOCK, redisUrl: redis.url, degradedMode: 'fail-open', localShare: 0.5 } });
  await redis.stop();
  // Share 0.5 of 1000 = 500 for this proxy alone, though it never saw the window; each call reserves
  // its prompt upper bound + 10 and settles at 18.
  let admitted = 0;
  while ((await call(failOpen)) === 200) admitted += 1;
  expect(admitted).toBeGreaterThan(0);
  expect(admitted * 18).toBeLessThanOrEqual(500);
  await redis.start();
  await waitFor(async () => (await degraded(failOpen)) === 0, 'recovery');
  await failOpen.close();
});
