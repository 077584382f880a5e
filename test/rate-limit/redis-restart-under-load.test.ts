// Redis stopped and restarted empty while requests keep flowing through two proxies, several at a
// time (reservations and settlements in flight when it goes, and when it returns): afterwards the
// shared counters hold every answered request's tokens exactly once, and the control plane's usage
// counts every answered request exactly once. A Redis restarted empty while the proxies are idle gets
// their counts back as they reconnect.
import OpenAI from 'openai';
import type { DataPlaneHandle } from '../../data-plane/src/main';
import { type Gateway, startGateway } from '../support/gateway-harness';
import { degradedGauge, redisTotalTokens } from '../support/budget-observers';
import { PrivateRedis } from '../support/redis-server';
import { waitFor } from '../support/wait';

jest.setTimeout(120_000);

const CLOCK = Date.UTC(2031, 0, 15, 12, 0, 30);
/** The fake OpenAI reports 11 prompt + 7 completion tokens per call. */
const TOKENS_PER_CALL = 18;
let redis: PrivateRedis;
let gw: Gateway;
let second: DataPlaneHandle;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  gw = await startGateway({ rateLimiting: { clock: () => CLOCK, redisUrl: redis.url, usageReportIntervalMs: 100 } });
  second = await gw.startProxy({ rateLimiting: { clock: () => CLOCK, redisUrl: redis.url, usageReportIntervalMs: 100 } });
  // Large enough that nothing is refused: what is checked is counting, not refusing.
  await gw.cp.ok(
    'mutation($s: ID!) { configureServiceEnvironment(serviceId: $s, environment: "production", input: {rateLimit: {timeUnit: DAY, maxTotalTokens: 10000000}}) { id } }',
    { s: gw.services.openai.id },
    gw.tenant.tokens.engineer,
  );
  await gw.settle();
  await waitFor(() => second.holder.revision >= gw.proxy.holder.revision, 'the second proxy to catch up');
});
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
});

const degraded = degradedGauge;
const redisTotal = () => redisTotalTokens(redis, gw.cp.redisNamespace, gw.services.openai.id);

async function reportedRequests(): Promise<{ requests: number; totalTokens: number }> {
  const { connection } = await gw.cp.ok<{ connection: { usageReport: { rows: Array<{ requests: number; promptTokens: number; completionTokens: number }> } } }>(
    'query($id: ID!) { connection(id: $id) { usageReport { rows { requests promptTokens completionTokens } } } }',
    { id: gw.services.openai.connectionId },
    gw.tenant.tokens.developer,
  );
  const row = connection.usageReport.rows[0] ?? { requests: 0, promptTokens: 0, completionTokens: 0 };
  return { requests: row.requests, totalTokens: row.promptTokens + row.completionTokens };
}

/** Calls answered through either proxy since the start of the file (all tests share one window). */
const answered = { ok: 0, other: 0 };

/** Runs `during` while six clients call continuously (three per proxy), then checks every call was counted once. */
async function underTraffic(during: () => Promise<void>): Promise<void> {
  let running = true;
  const loop = async (proxy: DataPlaneHandle) => {
    const client = new OpenAI({ baseURL: `${proxy.url}/acme/openai`, apiKey: gw.services.openai.key, maxRetries: 0 });
    while (running) {
      await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 10 }).then(
        () => (answered.ok += 1),
        () => (answered.other += 1),
      );
    }
  };
  const loops = [gw.proxy, second, gw.proxy, second, gw.proxy, second].map(loop);
  try {
    const before = answered.ok;
    await waitFor(() => answered.ok >= before + 50, 'traffic before the fault');
    await during();
    const after = answered.ok;
    await waitFor(() => answered.ok >= after + 50, 'traffic after the fault');
  } finally {
    running = false;
    await Promise.all(loops);
  }
  expect(answered.other).toBe(0);
  await waitFor(async () => (await redisTotal()) === answered.ok * TOKENS_PER_CALL, `the shared counters to hold ${answered.ok} calls' tokens`, 30_000).catch(async (error: Error) => {
    throw new Error(`${error.message}; they hold ${await redisTotal()}`);
  });
  await waitFor(async () => (await reportedRequests()).requests === answered.ok, `usage to report ${answered.ok} requests`, 30_000).catch(async (error: Error) => {
    throw new Error(`${error.message}; it reports ${JSON.stringify(await reportedRequests())}`);
  });
  expect(await reportedRequests()).toEqual({ requests: answered.ok, totalTokens: answered.ok * TOKENS_PER_CALL });
}

it('counts every answered request once in Redis and in usage, with requests in flight across the stop and the empty restart', async () => {
  await underTraffic(async () => {
    await redis.stop();
    await waitFor(async () => (await degraded(gw.proxy)) === 1 && (await degraded(second)) === 1, 'both proxies to notice');
    const before = answered.ok;
    await waitFor(() => answered.ok >= before + 50, 'traffic during the outage');
    await redis.start(); // empty
    await waitFor(async () => (await degraded(gw.proxy)) === 0 && (await degraded(second)) === 0, 'both proxies to leave the degraded mode', 30_000);
  });
});

it('proxies idle while Redis restarts empty put back what they counted, before any further request', async () => {
  await underTraffic(async () => undefined);
  const total = answered.ok * TOKENS_PER_CALL;
  await redis.stop();
  await redis.start(); // empty, and no request tells the proxies: only their reconnection does
  await waitFor(async () => (await redisTotal()) === total, `the shared counters to hold ${total} tokens again`, 30_000).catch(async (error: Error) => {
    throw new Error(`${error.message}; they hold ${await redisTotal()}`);
  });
});
