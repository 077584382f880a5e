// Fair quotas end to end: two proxies, real Redis, the control plane's GraphQL and the openai SDK.
// Each connection of a service has its quota under the service's budget: one app saturating its
// quota leaves the others served, the service budget still caps their sum, refusals name the budget,
// a shadow quota admits and counts, and `connection.budgets` shows what is left.
import { getEncoding } from 'js-tiktoken';
import OpenAI from 'openai';
import type { DataPlaneHandle } from '../../data-plane/src/main';
import { countPromptTokens } from '../../data-plane/src/tokens/prompt-tokens';
import { type Gateway, HEALTHY_REDIS_TIMEOUT_MS, startGateway } from '../support/gateway-harness';
import { waitFor } from '../support/wait';

const CLOCK = Date.UTC(2031, 0, 15, 12, 40, 30);
const CHAT = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Share fairly' }], max_tokens: 7 };
const PROMPT = countPromptTokens(getEncoding('o200k_base'), 'OPENAI', '/chat/completions', CHAT);
const PER_CALL = PROMPT + 7;
let gw: Gateway;
let second: DataPlaneHandle;

beforeAll(async () => {
  // No leases: boundaries exact to the token between the two proxies (leases: degraded-leases.test.ts).
  gw = await startGateway({ rateLimiting: { redisTimeoutMs: HEALTHY_REDIS_TIMEOUT_MS, clock: () => CLOCK, usageReportIntervalMs: 100, leaseShare: 0 } });
  second = await gw.startProxy();
  gw.fakes.openai.behaviour.usage = { prompt: PROMPT, completion: 7 };
});
afterAll(async () => {
  await gw?.stop();
});

interface Budget {
  timeUnit: 'MINUTE' | 'HOUR' | 'DAY';
  maxTotalTokens?: number;
  maxPromptTokens?: number;
  enforce?: boolean;
}

let serial = 0;
/** A new OpenAI service with its budget and default connection quota, and `apps` connections to it. */
async function service(rateLimit: Budget | null, connectionQuota: Budget | null, apps: number) {
  serial += 1;
  const { registerGenAIService } = await gw.cp.ok<{ registerGenAIService: { id: string } }>(
    'mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id } }',
    {
      i: {
        organizationId: gw.tenant.organizationId, scope: 'ORGANIZATION', provider: 'OPENAI', name: `Fair ${serial}`, contextPath: `/fair-${serial}`, serviceUrl: `${gw.fakes.openai.url}/v1`,
        environments: [{ environment: 'production', backendSecurity: { value: 'sk-upstream-openai-0123456789abcdef' }, rateLimit, connectionQuota }],
      },
    },
    gw.tenant.tokens.engineer,
  );
  const connections = [];
  for (let i = 0; i < apps; i++) {
    const { createConnection } = await gw.cp.ok<{ createConnection: { connection: { id: string }; keys: Array<{ environment: string; apiKey: string }> } }>(
      'mutation($i: CreateConnectionInput!) { createConnection(input: $i) { connection { id } keys { environment apiKey } } }',
      { i: { projectId: gw.tenant.projectId, serviceId: registerGenAIService.id, name: `fair-${serial}-app-${i}` } },
      gw.tenant.tokens.developer,
    );
    connections.push({ id: createConnection.connection.id, key: createConnection.keys.find((k) => k.environment === 'production')!.apiKey });
  }
  await gw.settle();
  const endpoints = [`${gw.proxy.url}/acme/fair-${serial}`, `${second.url}/acme/fair-${serial}`];
  return { id: registerGenAIService.id, connections, endpoints };
}

async function chat(endpoint: string, key: string) {
  const client = new OpenAI({ baseURL: endpoint, apiKey: key, maxRetries: 0 });
  try {
    const { response } = await client.chat.completions.create(CHAT).withResponse();
    return { status: response.status, headers: response.headers, message: '' };
  } catch (error) {
    const e = error as InstanceType<typeof OpenAI.APIError>;
    return { status: e.status ?? 0, headers: e.headers, message: e.message };
  }
}

it('one connection saturating its quota leaves the others served; the service budget caps their sum; refusals name the budget', async () => {
  const s = await service({ timeUnit: 'DAY', maxTotalTokens: 10 * PER_CALL }, { timeUnit: 'HOUR', maxTotalTokens: 4 * PER_CALL }, 3);
  const [noisy, quiet, third] = s.connections;
  for (let i = 0; i < 4; i++) {
    const ok = await chat(s.endpoints[i % 2], noisy.key);
    expect(ok.status).toBe(200);
    // The tighter budget is the connection's quota: it is what the headers report.
    expect(ok.headers?.get('x-ratelimit-limit-tokens')).toBe(String(4 * PER_CALL));
    expect(ok.headers?.get('x-ratelimit-remaining-tokens')).toBe(String((3 - i) * PER_CALL));
  }
  const refused = await chat(s.endpoints[1], noisy.key);
  expect(refused.status).toBe(429);
  expect(refused.message).toContain('Token rate limit reached for this connection: the total token quota of this hour is used up');
  expect(refused.headers?.get('x-tokengate-budget')).toBe('connection');
  expect(refused.headers?.get('x-tokengate-budget-dimension')).toBe('total');
  expect(Number(refused.headers?.get('retry-after'))).toBe(Math.ceil((Date.UTC(2031, 0, 15, 13) - CLOCK) / 1000));

  // The quiet app still has its own quota…
  for (let i = 0; i < 4; i++) expect((await chat(s.endpoints[i % 2], quiet.key)).status).toBe(200);
  // …but the service's 10 calls are shared: the third app gets the last two, then the service refuses.
  expect((await chat(s.endpoints[0], third.key)).status).toBe(200);
  const last = await chat(s.endpoints[1], third.key);
  expect(last.status).toBe(200);
  expect(last.headers?.get('x-ratelimit-remaining-tokens')).toBe('0');
  const capped = await chat(s.endpoints[0], third.key);
  expect(capped.status).toBe(429);
  expect(capped.message).toContain('Token rate limit reached for this service: the total token budget of this day is used up');
  expect(capped.headers?.get('x-tokengate-budget')).toBe('service');
  expect(gw.fakes.openai.received.length).toBeGreaterThanOrEqual(10);

});

it('an override lifts one connection above the default quota (or makes it unlimited), reaching every proxy', async () => {
  const s = await service(null, { timeUnit: 'DAY', maxTotalTokens: 2 * PER_CALL }, 2);
  const [vip, regular] = s.connections;
  await gw.cp.ok(
    'mutation($c: ID!) { setConnectionQuota(connectionId: $c, environment: "production", quota: {timeUnit: DAY}) { id } }',
    { c: vip.id },
    gw.tenant.tokens.engineer,
  );
  await gw.settle();
  for (let i = 0; i < 5; i++) expect((await chat(s.endpoints[i % 2], vip.key)).status).toBe(200);
  expect((await chat(s.endpoints[0], regular.key)).status).toBe(200);
  expect((await chat(s.endpoints[1], regular.key)).status).toBe(200);
  expect((await chat(s.endpoints[0], regular.key)).status).toBe(429);
});

it('concurrent bursts from two connections on two proxies never admit more than any budget', async () => {
  const s = await service({ timeUnit: 'DAY', maxTotalTokens: 12 * PER_CALL }, { timeUnit: 'DAY', maxTotalTokens: 8 * PER_CALL }, 2);
  const calls = Array.from({ length: 40 }, (_, i) => ({ connection: s.connections[i % 2], endpoint: s.endpoints[Math.floor(i / 2) % 2] }));
  const results = await Promise.all(calls.map(async (c) => ({ connection: c.connection.id, status: (await chat(c.endpoint, c.connection.key)).status })));
  expect(results.every((r) => r.status === 200 || r.status === 429)).toBe(true);
  const admitted = (id?: string) => results.filter((r) => r.status === 200 && (id === undefined || r.connection === id)).length;
  expect(admitted()).toBeLessThanOrEqual(12);
  for (const c of s.connections) expect(admitted(c.id)).toBeLessThanOrEqual(8);
  // Sequential calls then fill each budget exactly.
  let more = 0;
  for (const c of s.connections) while ((await chat(s.endpoints[more % 2], c.key)).status === 200) more += 1;
  expect(admitted() + more).toBe(12);
});

it('connection.budgets shows each budget of a connection with what the proxies have used of it', async () => {
  // The control plane reads the current window by the wall clock: this proxy uses it too.
  const live = await gw.startProxy({ rateLimiting: { redisTimeoutMs: HEALTHY_REDIS_TIMEOUT_MS, clock: undefined, usageReportIntervalMs: 100, leaseShare: 0 } });
  const s = await service({ timeUnit: 'DAY', maxTotalTokens: 10 * PER_CALL }, { timeUnit: 'DAY', maxTotalTokens: 4 * PER_CALL, maxPromptTokens: 4 * PROMPT }, 2);
  const [app, other] = s.connections;
  const endpoint = `${live.url}/acme/fair-${serial}`;
  for (let i = 0; i < 3; i++) expect((await chat(endpoint, app.key)).status).toBe(200);
  expect((await chat(endpoint, other.key)).status).toBe(200);
  const { connection } = await gw.cp.ok<{ connection: { budgets: Array<{ environment: string; source: string; dimension: string; limit: number; used: number; remaining: number; enforce: boolean }> } }>(
    'query($id: ID!) { connection(id: $id) { budgets(environment: "production") { environment source dimension limit used remaining enforce } } }',
    { id: app.id },
    gw.tenant.tokens.developer,
  );
  expect(connection.budgets).toEqual(
    expect.arrayContaining([
      { environment: 'production', source: 'SERVICE', dimension: 'TOTAL', limit: 10 * PER_CALL, used: 4 * PER_CALL, remaining: 6 * PER_CALL, enforce: true },
      { environment: 'production', source: 'SERVICE_DEFAULT', dimension: 'TOTAL', limit: 4 * PER_CALL, used: 3 * PER_CALL, remaining: PER_CALL, enforce: true },
      { environment: 'production', source: 'SERVICE_DEFAULT', dimension: 'PROMPT', limit: 4 * PROMPT, used: 3 * PROMPT, remaining: PROMPT, enforce: true },
    ]),
  );
  expect(connection.budgets).toHaveLength(3);
  // Without an environment: every environment's (only production has budgets here).
  const all = await gw.cp.ok<{ connection: { budgets: Array<{ environment: string }> } }>('query($id: ID!) { connection(id: $id) { budgets { environment } } }', { id: app.id }, gw.tenant.tokens.developer);
  expect(all.connection.budgets.map((b) => b.environment)).toEqual(['production', 'production', 'production']);
});

it('a shadow quota admits everything and counts what it would have refused, in GraphQL usage and metrics', async () => {
  const s = await service({ timeUnit: 'DAY', maxTotalTokens: 100 * PER_CALL }, { timeUnit: 'DAY', maxTotalTokens: 2 * PER_CALL, enforce: false }, 1);
  const [trial] = s.connections;
  for (let i = 0; i < 5; i++) {
    const ok = await chat(s.endpoints[i % 2], trial.key);
    expect(ok.status).toBe(200);
    // Only enforced budgets are reported to the client.
    expect(ok.headers?.get('x-ratelimit-limit-tokens')).toBe(String(100 * PER_CALL));
  }
  const usage = async () => {
    const { connection } = await gw.cp.ok<{ connection: { usageReport: { rows: Array<{ requests: number; wouldHaveRefused: number; errors4xx: number }> } } }>(
      'query($id: ID!) { connection(id: $id) { usageReport { rows { requests wouldHaveRefused errors4xx } } } }',
      { id: trial.id },
      gw.tenant.tokens.developer,
    );
    return connection.usageReport.rows[0];
  };
  await waitFor(async () => (await usage())?.requests === 5, 'usage to be reported');
  expect(await usage()).toEqual({ requests: 5, wouldHaveRefused: 3, errors4xx: 0 });
  const metrics = (await Promise.all([gw.proxy, second].map(async (p) => (await fetch(`${p.url}/metrics`)).text()))).join('\n');
  const series = [...metrics.matchAll(new RegExp(`^tokengate_rate_limit_would_have_refused_total{service="${s.id}",budget="connection",dimension="total"[^}]*} (\\d+)`, 'gm'))];
  expect(series.reduce((sum, m) => sum + Number(m[1]), 0)).toBe(3);
});
