// Token budgets on a Redis Cluster (three masters started by the test): two proxies share one budget
// exactly, however their requests interleave; every key of a service's budget lives in one slot.
import { getEncoding } from 'js-tiktoken';
import OpenAI from 'openai';
import type { DataPlaneHandle } from '../../data-plane/src/main';
import { budgetWindowKey, connectionWindowKey } from '../../data-plane/src/rate-limit/token-budget';
import { windowAt } from '../../data-plane/src/rate-limit/windows';
import { countPromptTokens } from '../../data-plane/src/tokens/prompt-tokens';
import { type Gateway, startGateway } from '../support/gateway-harness';
import { PrivateRedisCluster } from '../support/redis-cluster';
import { waitFor } from '../support/wait';

// Pinned clock: every request of this file falls in the same day window.
const CLOCK = Date.UTC(2031, 0, 15, 12, 0, 30);
const CHAT = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Count my tokens on a cluster' }], max_tokens: 7 };
const PROMPT = countPromptTokens(getEncoding('o200k_base'), 'OPENAI', '/chat/completions', CHAT);
const PER_REQUEST = PROMPT + 7;
/** Requests made before the tests, one per proxy. */
const WARM_UP = 2;

let cluster: PrivateRedisCluster;
let gw: Gateway;
let second: DataPlaneHandle;

beforeAll(async () => {
  cluster = await PrivateRedisCluster.start();
  // Control plane (pub/sub, rollout queue) and both proxies (budgets, usage spool) on the cluster.
  // Exactness needs the shared counters: a Redis wait generous enough that a busy machine never
  // sends a proxy to its local counters (test/cluster/node-outage.test.ts covers that mode), and no
  // leases (they set part of the budget aside for each proxy: ADR 011).
  gw = await startGateway({ rateLimiting: { clock: () => CLOCK, redisUrl: cluster.url, redisTimeoutMs: 5_000, usageReportIntervalMs: 100, leaseShare: 0 } }, { REDIS_URL: cluster.url });
  second = await gw.startProxy();
  gw.fakes.openai.behaviour.usage = { prompt: PROMPT, completion: 7 };
  // One request through each proxy, then both on the shared counters (a proxy that met a cluster
  // still forming at start-up has reconciled and left its local counters).
  await limitTotal(gw.services.openai.id, 1_000_000);
  expect([await chat(gw.proxy), await chat(second)]).toEqual([200, 200]);
  await waitFor(async () => (await degraded(gw.proxy)) === 0 && (await degraded(second)) === 0, 'both proxies on the shared counters');
  await waitFor(async () => (await windowHash()).t === String(WARM_UP * PER_REQUEST), 'the warm-up to settle');
  gw.fakes.openai.reset();
  gw.fakes.openai.behaviour.usage = { prompt: PROMPT, completion: 7 };
});
afterAll(async () => {
  await gw?.stop();
  await cluster?.stop();
});

async function limitTotal(serviceId: string, maxTotalTokens: number): Promise<void> {
  await gw.cp.ok(
    'mutation($s: ID!, $n: Int) { configureServiceEnvironment(serviceId: $s, environment: "production", input: {rateLimit: {timeUnit: DAY, maxTotalTokens: $n}}) { id } }',
    { s: serviceId, n: maxTotalTokens },
    gw.tenant.tokens.engineer,
  );
  await gw.settle();
}

async function chat(proxy: DataPlaneHandle): Promise<number> {
  const client = new OpenAI({ baseURL: `${proxy.url}/acme/openai`, apiKey: gw.services.openai.key, maxRetries: 0 });
  return client.chat.completions.create(CHAT).then(
    () => 200,
    (error: { status?: number }) => error.status ?? 0,
  );
}

async function degraded(proxy: DataPlaneHandle): Promise<number> {
  const text = await (await fetch(`${proxy.url}/metrics`)).text();
  return Number(/^tokengate_rate_limit_degraded{environment="production"} (\d+)/m.exec(text)?.[1]);
}

/** The service's day window as the cluster holds it. */
async function windowHash(): Promise<Record<string, string>> {
  const client = cluster.client();
  try {
    return await client.hgetall(budgetWindowKey(gw.cp.redisNamespace, 'production', gw.services.openai.id, windowAt('DAY', CLOCK)));
  } finally {
    client.disconnect();
  }
}

it('two proxies alternating share one budget exactly: the request past the boundary is refused by both', async () => {
  await limitTotal(gw.services.openai.id, (WARM_UP + 4) * PER_REQUEST);
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push(await chat(i % 2 === 0 ? gw.proxy : second));
  expect(statuses).toEqual([200, 200, 200, 200]);
  expect(await chat(gw.proxy)).toBe(429);
  expect(await chat(second)).toBe(429);
  expect(gw.fakes.openai.received).toHaveLength(4);

  // The shared counters hold exactly what was used, and each proxy's ledger its own half of it.
  const used = WARM_UP + 4;
  await waitFor(async () => (await windowHash()).t === String(used * PER_REQUEST), 'the settled counters');
  const hash = await windowHash();
  expect(hash).toMatchObject({ p: String(used * PROMPT), c: String(used * 7), t: String(used * PER_REQUEST) });
  const ledgers = Object.keys(hash).filter((field) => field.startsWith('p:'));
  expect(ledgers.map((field) => hash[field])).toEqual([String((used / 2) * PROMPT), String((used / 2) * PROMPT)]);
});

it('a concurrent burst through both proxies never exceeds the budget, and the boundary stays exact', async () => {
  // Ten more requests' worth (the window keeps what was used already).
  await limitTotal(gw.services.openai.id, (WARM_UP + 14) * PER_REQUEST);
  const proxies = [gw.proxy, second];
  const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => chat(proxies[i % 2])));
  expect(burst.every((status) => status === 200 || status === 429)).toBe(true);
  const admitted = burst.filter((status) => status === 200).length;
  expect(admitted).toBeGreaterThan(0);
  expect(admitted).toBeLessThanOrEqual(10);
  let more = 0;
  while ((await chat(proxies[more % 2])) === 200) more += 1;
  expect(admitted + more).toBe(10);
  expect(await chat(second)).toBe(429);
  const used = WARM_UP + 14;
  await waitFor(async () => (await windowHash()).t === String(used * PER_REQUEST), 'the settled counters');
  expect(await windowHash()).toMatchObject({ p: String(used * PROMPT), c: String(used * 7), t: String(used * PER_REQUEST) });
  expect([await degraded(gw.proxy), await degraded(second)]).toEqual([0, 0]);
});

it('keeps every key of a service budget in one slot, on the master serving it', async () => {
  const keys = (['MINUTE', 'HOUR', 'DAY'] as const).map((unit) => budgetWindowKey(gw.cp.redisNamespace, 'production', gw.services.openai.id, windowAt(unit, CLOCK)));
  const nodes = await Promise.all(keys.map((key) => cluster.nodeOf(key)));
  expect(new Set(nodes).size).toBe(1);
  // The day window is on that node itself (no redirection involved in reading it there).
  const { Redis } = await import('ioredis');
  const node = new Redis(nodes[0], '127.0.0.1');
  try {
    expect(await node.hget(keys[2], 't')).toBe(String((WARM_UP + 14) * PER_REQUEST));
  } finally {
    node.disconnect();
  }
});

it('a connection quota beside the service budget: both windows in the service’s slot, reserved together in one script', async () => {
  const used = WARM_UP + 14;
  await limitTotal(gw.services.openai.id, (used + 10) * PER_REQUEST);
  await gw.cp.ok(
    'mutation($s: ID!) { configureServiceEnvironment(serviceId: $s, environment: "production", input: {connectionQuota: {timeUnit: HOUR, maxTotalTokens: ' + String(2 * PER_REQUEST) + '}}) { id } }',
    { s: gw.services.openai.id },
    gw.tenant.tokens.engineer,
  );
  await gw.settle();
  expect([await chat(gw.proxy), await chat(second)]).toEqual([200, 200]);
  expect(await chat(gw.proxy)).toBe(429); // the quota refused: the service budget kept 8 requests' worth
  const quotaKey = connectionWindowKey(gw.cp.redisNamespace, 'production', gw.services.openai.id, gw.services.openai.connectionId, windowAt('HOUR', CLOCK));
  const serviceKey = budgetWindowKey(gw.cp.redisNamespace, 'production', gw.services.openai.id, windowAt('DAY', CLOCK));
  expect(await cluster.nodeOf(quotaKey)).toBe(await cluster.nodeOf(serviceKey));
  const client = cluster.client();
  try {
    await waitFor(async () => (await client.hget(serviceKey, 't')) === String((used + 2) * PER_REQUEST), 'the settled service budget');
    expect(await client.hget(quotaKey, 't')).toBe(String(2 * PER_REQUEST));
  } finally {
    client.disconnect();
  }
});
