// The degraded mode never admits more than a budget: four proxies of one environment share a tight
// hourly budget, Redis is stopped mid-window, and each proxy keeps serving only on its lease — the
// part of the budget Redis set aside for it while it answered. After recovery Redis holds exactly
// what was admitted. (ADR 011; the old fail-open share of 0.5 admitted up to 1.9x such a budget.)
import { getEncoding } from 'js-tiktoken';
import OpenAI from 'openai';
import type { DataPlaneHandle } from '../../data-plane/src/main';
import { countPromptTokens } from '../../data-plane/src/tokens/prompt-tokens';
import { type Gateway, startGateway } from '../support/gateway-harness';
import { PrivateRedis } from '../support/redis-server';
import { waitFor } from '../support/wait';

const CLOCK = Date.UTC(2031, 0, 15, 12, 20, 30);
const BUDGET = 3000;
const CHAT = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hi' }], max_tokens: 7 };
/** The provider reports exactly the prompt the proxy counts, so near the boundary (exact counts) nothing overshoots. */
const PROMPT = countPromptTokens(getEncoding('o200k_base'), 'OPENAI', '/chat/completions', CHAT);
const PER_CALL = PROMPT + 7;
let redis: PrivateRedis;
let gw: Gateway;
let proxies: DataPlaneHandle[];

beforeAll(async () => {
  redis = await PrivateRedis.start();
  // Default lease settings (5% of the budget per proxy, 20% for all leases together).
  gw = await startGateway({ rateLimiting: { clock: () => CLOCK, redisUrl: redis.url, usageReportIntervalMs: 100 } });
  proxies = [gw.proxy, await gw.startProxy(), await gw.startProxy(), await gw.startProxy()];
  await gw.cp.ok(
    'mutation($s: ID!) { configureServiceEnvironment(serviceId: $s, environment: "production", input: {rateLimit: {timeUnit: HOUR, maxTotalTokens: 3000}}) { id } }',
    { s: gw.services.openai.id },
    gw.tenant.tokens.engineer,
  );
  await gw.settle();
  gw.fakes.openai.behaviour.usage = { prompt: PROMPT, completion: 7 };
});
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
});

/** One call with a fixed completion limit; the fake answers PROMPT + 7 tokens. */
const call = (proxy: DataPlaneHandle) =>
  new OpenAI({ baseURL: `${proxy.url}/acme/openai`, apiKey: gw.services.openai.key, maxRetries: 0 })
    .chat.completions.create(CHAT)
    .then(() => 200, (error: { status?: number }) => error.status ?? 0);

async function redisCounters(): Promise<{ total: number; leased: number }> {
  const client = redis.client();
  try {
    const keys = await client.keys(`${gw.cp.redisNamespace}:rl:{production:${gw.services.openai.id}}:HOUR:*`);
    let total = 0;
    let leased = 0;
    for (const key of keys) {
      const hash = await client.hgetall(key);
      total += Number(hash.t ?? 0);
      leased += Number(hash.LT ?? 0);
    }
    return { total, leased };
  } finally {
    client.disconnect();
  }
}

async function degraded(proxy: DataPlaneHandle): Promise<number> {
  const text = await (await fetch(`${proxy.url}/metrics`)).text();
  return Number(/^tokengate_rate_limit_degraded{environment="production"} (\d+)/m.exec(text)?.[1]);
}

it('four proxies on their leases never admit more than the budget while Redis is away, and Redis equals what was admitted after recovery', async () => {
  // Before the outage: the window is in use on every proxy (each now holds a lease of it).
  let served = 0;
  for (const proxy of proxies) for (let i = 0; i < 2; i++) if ((await call(proxy)) === 200) served += 1;
  expect(served).toBe(8);
  // What a lease admission reserved beyond the usage goes back with the window's next flush, after
  // the response (ADR 011): Redis gets there within a flush's spacing.
  await waitFor(async () => (await redisCounters()).total === 8 * PER_CALL, 'the settlements of the 8 calls to reach Redis');
  const before = await redisCounters();
  expect(before.total).toBe(8 * PER_CALL);
  expect(before.leased).toBeGreaterThan(0);
  expect(before.leased).toBeLessThanOrEqual(0.2 * BUDGET);

  await redis.stop();
  // Every proxy serves until it refuses: a request its lease cannot cover is refused, it never
  // borrows from a budget it cannot see.
  const duringPerProxy: number[] = [];
  for (const proxy of proxies) {
    let admitted = 0;
    while ((await call(proxy)) === 200) admitted += 1;
    duringPerProxy.push(admitted);
  }
  for (const proxy of proxies) expect(await degraded(proxy)).toBe(1);
  const during = duringPerProxy.reduce((a, b) => a + b, 0);
  expect(during).toBeGreaterThan(0); // the degraded mode still serves
  // Whatever was reserved during the outage came out of the leases Redis had set aside.
  expect(during * PER_CALL).toBeLessThanOrEqual(before.leased);
  expect(before.total + during * PER_CALL).toBeLessThanOrEqual(BUDGET);

  await redis.start(); // empty: each proxy pushes its own contribution and what is left of its lease
  await waitFor(async () => (await Promise.all(proxies.map(degraded))).every((d) => d === 0), 'every proxy to leave the degraded mode');
  await waitFor(async () => (await redisCounters()).total === (8 + during) * PER_CALL, 'Redis to hold exactly what was admitted');

  // Back on shared counters: the budget is spent to its boundary, never past it.
  let after = 0;
  for (let round = 0; round < 400; round++) {
    const statuses = await Promise.all(proxies.map(call));
    const ok = statuses.filter((s) => s === 200).length;
    after += ok;
    if (ok === 0) break;
  }
  await waitFor(async () => (await redisCounters()).total === (8 + during + after) * PER_CALL, 'Redis to hold every admission after recovery');
  const final = await redisCounters();
  expect(final.total).toBe((8 + during + after) * PER_CALL);
  expect(final.total).toBeLessThanOrEqual(BUDGET);
});
