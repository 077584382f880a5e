// A budget lowered in the control plane takes effect with the next snapshot, leases or not: a lease
// handed out under the old, larger budget must not let a proxy admit past the new one.
import { getEncoding } from 'js-tiktoken';
import OpenAI from 'openai';
import type { DataPlaneHandle } from '../../data-plane/src/main';
import { createRedisClient } from '../../data-plane/src/redis/redis-connection';
import { countPromptTokens } from '../../data-plane/src/tokens/prompt-tokens';
import { type Gateway, HEALTHY_REDIS_TIMEOUT_MS, startGateway } from '../support/gateway-harness';
import { waitFor } from '../support/wait';

const CLOCK = Date.UTC(2031, 0, 15, 12, 0, 30);
const CHAT = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hi' }], max_tokens: 7 };
const PROMPT = countPromptTokens(getEncoding('o200k_base'), 'OPENAI', '/chat/completions', CHAT);
const PER_CALL = PROMPT + 7;
let gw: Gateway;
let second: DataPlaneHandle;

beforeAll(async () => {
  // Default leases: 5% of a budget per proxy.
  gw = await startGateway({ rateLimiting: { redisTimeoutMs: HEALTHY_REDIS_TIMEOUT_MS, clock: () => CLOCK, usageReportIntervalMs: 100 } });
  second = await gw.startProxy();
});
afterAll(async () => {
  await gw?.stop();
});

async function setTotal(maxTotalTokens: number): Promise<void> {
  await gw.cp.ok(
    'mutation($s: ID!, $t: Int) { configureServiceEnvironment(serviceId: $s, environment: "production", input: {rateLimit: {timeUnit: DAY, maxTotalTokens: $t}}) { id } }',
    { s: gw.services.openai.id, t: maxTotalTokens },
    gw.tenant.tokens.engineer,
  );
  await gw.settle();
}

const call = (proxy: DataPlaneHandle = gw.proxy) =>
  new OpenAI({ baseURL: `${proxy.url}/acme/openai`, apiKey: gw.services.openai.key, maxRetries: 0 })
    .chat.completions.create(CHAT)
    .then(() => 200, (error: { status?: number }) => error.status ?? 0);

async function redisUsed(): Promise<number> {
  const client = createRedisClient('redis://127.0.0.1:6379', {});
  try {
    const keys = await client.keys(`${gw.cp.redisNamespace}:rl:{production:${gw.services.openai.id}}:*`);
    let total = 0;
    for (const key of keys) total += Number((await client.hget(key, 't')) ?? 0);
    return total;
  } finally {
    client.disconnect();
  }
}

it('after a budget is lowered, a burst on the proxy that held a lease of the old budget stays within the new one', async () => {
  gw.fakes.openai.behaviour.usage = { prompt: PROMPT, completion: 7 };
  await setTotal(100_000);
  // The proxy now holds a lease of 5% of 100,000 tokens for today's window.
  expect(await call()).toBe(200);
  await waitFor(async () => (await redisUsed()) === PER_CALL, 'the first call to be settled');

  const lowered = 3 * PER_CALL; // far below the lease of the old budget
  await setTotal(lowered);
  const burst = await Promise.all(Array.from({ length: 10 }, () => call()));
  const admitted = burst.filter((s) => s === 200).length;
  expect(burst.every((s) => s === 200 || s === 429)).toBe(true);
  await waitFor(async () => (await redisUsed()) === (1 + admitted) * PER_CALL, 'the burst to be settled');
  expect((1 + admitted) * PER_CALL).toBeLessThanOrEqual(lowered);
  // And sequential calls then stop at the new boundary.
  let more = 0;
  while ((await call()) === 200) more += 1;
  expect(1 + admitted + more).toBeLessThanOrEqual(3);
});

it('after a budget is lowered, a lease another proxy held of the old budget does not block this proxy', async () => {
  gw.fakes.openai.behaviour.usage = { prompt: PROMPT, completion: 7 };
  await setTotal(200_000);
  const before = await redisUsed();
  // The first proxy holds a lease of 5% of 200,000 tokens of today's window, then sees no more traffic.
  expect(await call(gw.proxy)).toBe(200);
  await waitFor(async () => (await redisUsed()) === before + PER_CALL, 'the call to be settled');

  await setTotal(before + 20 * PER_CALL);
  // 19 calls' worth of the lowered budget are free: the second proxy is served.
  expect(await call(second)).toBe(200);
  let served = 1;
  while ((await call(second)) === 200) served += 1;
  await waitFor(async () => (await redisUsed()) === before + (1 + served) * PER_CALL, 'the calls to be settled');
  expect(before + (1 + served) * PER_CALL).toBeLessThanOrEqual(before + 20 * PER_CALL);
});
