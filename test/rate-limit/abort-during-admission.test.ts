// A client that leaves while its admission is still being decided (Redis slow to answer, or an exact
// prompt count near the boundary) must not leave its reservation standing in the shared counters:
// the request never reached the provider, so it is charged nothing.
import { type Gateway, startGateway } from '../support/gateway-harness';
import { PrivateRedis } from '../support/redis-server';
import { waitFor } from '../support/wait';

const CLOCK = Date.UTC(2031, 0, 15, 12, 0, 30);
let redis: PrivateRedis;
let gw: Gateway;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  // No leases: every admission asks Redis.
  gw = await startGateway({ rateLimiting: { clock: () => CLOCK, redisUrl: redis.url, leaseShare: 0, usageReportIntervalMs: 100 } });
  await gw.cp.ok(
    'mutation($s: ID!) { configureServiceEnvironment(serviceId: $s, environment: "production", input: {rateLimit: {timeUnit: DAY, maxTotalTokens: 100000}}) { id } }',
    { s: gw.services.openai.id },
    gw.tenant.tokens.engineer,
  );
  await gw.settle();
});
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
});

async function redisTotal(): Promise<number> {
  const client = redis.client();
  try {
    const keys = await client.keys(`${gw.cp.redisNamespace}:rl:{production:${gw.services.openai.id}}:*`);
    let total = 0;
    for (const key of keys) total += Number((await client.hget(key, 't')) ?? 0);
    return total;
  } finally {
    client.disconnect();
  }
}

async function degraded(): Promise<number> {
  const text = await (await fetch(`${gw.proxy.url}/metrics`)).text();
  return Number(/^tokengate_rate_limit_degraded{environment="production"} (\d+)/m.exec(text)?.[1]);
}

function post(signal?: AbortSignal): Promise<Response> {
  return fetch(`${gw.proxy.url}/acme/openai/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.services.openai.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 10 }),
    signal,
  });
}

it('a client gone while Redis decides its admission leaves nothing reserved', async () => {
  gw.fakes.openai.behaviour.usage = { prompt: 11, completion: 7 };
  expect((await post()).status).toBe(200);
  await waitFor(async () => (await redisTotal()) === 18, 'the first call to be settled');
  gw.fakes.openai.reset();
  gw.fakes.openai.behaviour.usage = { prompt: 11, completion: 7 };

  // Redis stops answering for a while (well within the 1 s the proxy waits for a slow answer).
  const admin = redis.client();
  await admin.call('CLIENT', 'PAUSE', '800', 'ALL');
  const controller = new AbortController();
  const pending = post(controller.signal).catch((error: Error) => error);
  await waitFor(async () => (await degraded()) === 1, 'the reservation to time out into the degraded mode');
  controller.abort();
  expect(await pending).not.toBeInstanceOf(Response);
  // Redis answers (admitted, late); the proxy reconciles and leaves the degraded mode.
  await waitFor(async () => (await degraded()) === 0, 'the proxy to leave the degraded mode');
  admin.disconnect();
  expect(gw.fakes.openai.received).toHaveLength(0);
  // Nothing was forwarded, so nothing may stay reserved: the window holds the first call only.
  await waitFor(async () => (await redisTotal()) === 18, 'the abandoned reservation to be given back', 5000).catch(() => undefined);
  expect(await redisTotal()).toBe(18);
});
