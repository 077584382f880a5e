// Token budgets end to end: two proxies share one budget in Redis; the 429 arrives exactly at the
// boundary of each dimension; every provider's streamed and unstreamed calls are charged what the
// provider reported; cut streams are charged what streamed; limits change without losing counts.
import Anthropic from '@anthropic-ai/sdk';
import { BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { getEncoding } from 'js-tiktoken';
import OpenAI from 'openai';
import type { DataPlaneHandle } from '../../data-plane/src/main';
import { countPromptTokens, countTextTokens } from '../../data-plane/src/tokens/prompt-tokens';
import { runMistralSdk } from '../fakes';
import { type Gateway, type ServiceName, startGateway } from '../support/gateway-harness';
import { waitFor } from '../support/wait';

// Pinned clock: every request of this file falls in the same minute, hour and day window.
const CLOCK = Date.UTC(2031, 0, 15, 12, 0, 30);
const encoder = getEncoding('o200k_base');
let gw: Gateway;
let second: DataPlaneHandle;

beforeAll(async () => {
  // No leases: the boundary is exact to the last token between proxies (leases set part of a budget
  // aside for each proxy's degraded mode, which costs 429s near the boundary: test/rate-limit/degraded-leases.test.ts).
  // A Redis wait generous enough that a busy machine never sends a proxy to degraded mode (50 ms by
  // default: a loaded 2-core run answered 429 "shared counters unreachable" to four tests here).
  gw = await startGateway({ rateLimiting: { clock: () => CLOCK, redisTimeoutMs: 5_000, usageReportIntervalMs: 100, leaseShare: 0 } });
  second = await gw.startProxy();
});
afterAll(async () => {
  await gw?.stop();
});
beforeEach(() => {
  for (const fake of Object.values(gw.fakes)) fake.reset();
});

interface Limits {
  timeUnit?: 'MINUTE' | 'HOUR' | 'DAY';
  maxPromptTokens?: number | null;
  maxCompletionTokens?: number | null;
  maxTotalTokens?: number | null;
}

async function setLimits(serviceId: string, limits: Limits): Promise<void> {
  await gw.cp.ok(
    'mutation($s: ID!, $i: ConfigureServiceEnvironmentInput!) { configureServiceEnvironment(serviceId: $s, environment: "production", input: $i) { id } }',
    { s: serviceId, i: { rateLimit: { timeUnit: 'DAY', ...limits } } },
    gw.tenant.tokens.engineer,
  );
  await gw.settle();
}

let counter = 0;
/** A new OpenAI service (own budget) on the shared fake, with a connection; returns its endpoint on each proxy and key. */
async function freshOpenAIService(limits: Limits): Promise<{ id: string; connectionId: string; key: string; endpoints: [string, string] }> {
  counter += 1;
  const { registerGenAIService } = await gw.cp.ok<{ registerGenAIService: { id: string } }>(
    `mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id } }`,
    {
      i: {
        organizationId: gw.tenant.organizationId, scope: 'ORGANIZATION', provider: 'OPENAI', name: `Budget ${counter}`, contextPath: `/budget-${counter}`, serviceUrl: `${gw.fakes.openai.url}/v1`,
        environments: [{ environment: 'production', backendSecurity: { value: 'sk-upstream-openai-0123456789abcdef' }, rateLimit: { timeUnit: 'DAY', ...limits } }],
      },
    },
    gw.tenant.tokens.engineer,
  );
  const { createConnection } = await gw.cp.ok<{ createConnection: { connection: { id: string }; keys: Array<{ environment: string; apiKey: string }> } }>(
    `mutation($i: CreateConnectionInput!) { createConnection(input: $i) { connection { id } keys { environment apiKey } } }`,
    { i: { projectId: gw.tenant.projectId, serviceId: registerGenAIService.id, name: `budget-app-${counter}` } },
    gw.tenant.tokens.developer,
  );
  await gw.settle();
  return {
    id: registerGenAIService.id,
    connectionId: createConnection.connection.id,
    key: createConnection.keys.find((k) => k.environment === 'production')!.apiKey,
    endpoints: [`${gw.proxy.url}/acme/budget-${counter}`, `${second.url}/acme/budget-${counter}`],
  };
}

const CHAT = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Count my tokens exactly' }], max_tokens: 7 };
/** The exact prompt count the proxy computes for CHAT (OpenAI framing, o200k_base). */
const PROMPT = countPromptTokens(encoder, 'OPENAI', '/chat/completions', CHAT);

async function chat(endpoint: string, key: string, body: OpenAI.ChatCompletionCreateParamsNonStreaming = CHAT) {
  const client = new OpenAI({ baseURL: endpoint, apiKey: key, maxRetries: 0 });
  try {
    const { response } = await client.chat.completions.create(body).withResponse();
    return { status: response.status, headers: response.headers, error: null };
  } catch (error) {
    const e = error as InstanceType<typeof OpenAI.APIError>;
    return { status: e.status ?? 0, headers: e.headers, error: e };
  }
}

async function usageOf(connectionId: string): Promise<{ promptTokens: number; completionTokens: number; totalTokens: number; requests: number }> {
  const { connection } = await gw.cp.ok<{ connection: { usage: Array<{ promptTokens: number; completionTokens: number; totalTokens: number; requests: number }> } }>(
    'query($id: ID!) { connection(id: $id) { usage(environment: "production") { promptTokens completionTokens totalTokens requests } } }',
    { id: connectionId },
    gw.tenant.tokens.developer,
  );
  return connection.usage.reduce((sum, w) => ({ promptTokens: sum.promptTokens + w.promptTokens, completionTokens: sum.completionTokens + w.completionTokens, totalTokens: sum.totalTokens + w.totalTokens, requests: sum.requests + w.requests }), { promptTokens: 0, completionTokens: 0, totalTokens: 0, requests: 0 });
}

describe('the 429 arrives exactly at the boundary', () => {
  it.each([
    ['prompt', { maxPromptTokens: 3 * PROMPT }],
    ['completion', { maxCompletionTokens: 3 * 7 }],
    ['total', { maxTotalTokens: 3 * (PROMPT + 7) }],
  ] as const)('of the %s budget, alternating between two proxies', async (dimension, limits) => {
    gw.fakes.openai.behaviour.usage = { prompt: PROMPT, completion: 7 };
    const service = await freshOpenAIService(limits);
    for (let i = 0; i < 3; i++) {
      const result = await chat(service.endpoints[i % 2], service.key);
      expect(result.status).toBe(200);
    }
    const refused = await chat(service.endpoints[1], service.key);
    expect(refused.status).toBe(429);
    expect(refused.error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(refused.error?.message).toContain(`${dimension} token budget`);
    expect(Number(refused.headers?.get('retry-after'))).toBe(Math.ceil((Date.UTC(2031, 0, 16) - CLOCK) / 1000));
    const suffix = dimension === 'total' ? 'tokens' : `${dimension}-tokens`;
    expect(refused.headers?.get(`x-ratelimit-remaining-${suffix}`)).toBe('0');
    expect(gw.fakes.openai.received).toHaveLength(3);
  });

  it('refuses a prompt larger than the whole window budget, saying so, without a retry', async () => {
    const service = await freshOpenAIService({ maxPromptTokens: PROMPT - 1 });
    const result = await chat(service.endpoints[0], service.key);
    expect(result.status).toBe(429);
    expect(result.headers?.get('x-should-retry')).toBe('false');
    expect(result.error?.message).toContain(`The prompt has ${PROMPT} tokens, more than this service's whole budget of ${PROMPT - 1} prompt tokens per day`);
    // Like every answer of a limited service, it carries the budget (untouched: nothing was reserved).
    expect(result.headers?.get('x-ratelimit-limit-prompt-tokens')).toBe(String(PROMPT - 1));
    expect(result.headers?.get('x-ratelimit-remaining-prompt-tokens')).toBe(String(PROMPT - 1));
    expect(result.headers?.get('x-ratelimit-reset-prompt-tokens')).toMatch(/^(\d+h)?(\d+m)?\d+(\.\d+)?s$/);
    expect(result.headers?.get('x-tokengate-budget-dimension')).toBe('prompt');
    expect(gw.fakes.openai.received).toHaveLength(0);
  });
});

it('two proxies admitting concurrently never exceed the budget, and the boundary stays exact', async () => {
  gw.fakes.openai.behaviour.usage = { prompt: PROMPT, completion: 7 };
  const perRequest = PROMPT + 7;
  const service = await freshOpenAIService({ maxTotalTokens: 10 * perRequest });
  const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => chat(service.endpoints[i % 2], service.key)));
  const admitted = burst.filter((r) => r.status === 200).length;
  expect(admitted).toBeGreaterThan(0);
  expect(admitted).toBeLessThanOrEqual(10);
  expect(burst.every((r) => r.status === 200 || r.status === 429)).toBe(true);
  // Sequential requests then fill the budget exactly to its boundary.
  let more = 0;
  while ((await chat(service.endpoints[more % 2], service.key)).status === 200) more += 1;
  expect(admitted + more).toBe(10);
  // Every request is reported, refusals included (no tokens, one 4xx error each).
  const attempts = burst.length + more + 1;
  await waitFor(async () => (await usageOf(service.connectionId)).requests === attempts, 'usage to be reported');
  expect(await usageOf(service.connectionId)).toEqual({ promptTokens: 10 * PROMPT, completionTokens: 70, totalTokens: 10 * perRequest, requests: attempts });
  const { connection } = await gw.cp.ok<{ connection: { usageReport: { rows: Array<{ requests: number; errors4xx: number; errors5xx: number; operation: string; requestModel: string }> } } }>(
    'query($id: ID!) { connection(id: $id) { usageReport(groupBy: [OPERATION, REQUEST_MODEL]) { rows { requests errors4xx errors5xx operation requestModel } } } }',
    { id: service.connectionId },
    gw.tenant.tokens.developer,
  );
  expect(connection.usageReport.rows).toEqual([{ requests: attempts, errors4xx: attempts - 10, errors5xx: 0, operation: 'chat_completions', requestModel: 'gpt-4o-mini' }]);
});

it('a change of limits takes effect with the next snapshot without resetting what was used', async () => {
  gw.fakes.openai.behaviour.usage = { prompt: PROMPT, completion: 7 };
  const perRequest = PROMPT + 7;
  const service = await freshOpenAIService({ maxTotalTokens: 2 * perRequest });
  expect((await chat(service.endpoints[0], service.key)).status).toBe(200);
  const second = await chat(service.endpoints[1], service.key);
  expect(second.headers?.get('x-ratelimit-remaining-tokens')).toBe('0');
  expect((await chat(service.endpoints[0], service.key)).status).toBe(429);
  await setLimits(service.id, { maxTotalTokens: 3 * perRequest });
  const third = await chat(service.endpoints[0], service.key);
  expect(third.status).toBe(200);
  expect(third.headers?.get('x-ratelimit-limit-tokens')).toBe(String(3 * perRequest));
  expect((await chat(service.endpoints[1], service.key)).status).toBe(429);
});

describe('each provider is charged what it reported, streamed or not', () => {
  const services: ServiceName[] = ['openai', 'azure', 'anthropic', 'mistral', 'bedrock'];
  beforeAll(async () => {
    for (const name of services) await setLimits(gw.services[name].id, { maxTotalTokens: 1_000_000 });
  });

  async function call(name: ServiceName, stream: boolean): Promise<Headers | undefined> {
    const s = gw.services[name];
    const messages = [{ role: 'user' as const, content: 'Hi' }];
    switch (name) {
      case 'openai': {
        const client = new OpenAI({ baseURL: s.endpoint, apiKey: s.key, maxRetries: 0 });
        if (!stream) return (await client.chat.completions.create({ model: 'gpt-4o-mini', messages }).withResponse()).response.headers;
        const { data, response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true }).withResponse();
        const chunks = [];
        for await (const chunk of data) chunks.push(chunk);
        // The client did not ask for usage: the usage chunk the proxy asked for is not passed on.
        expect(chunks.some((c) => c.usage)).toBe(false);
        return response.headers;
      }
      case 'azure': {
        const { AzureOpenAI } = await import('openai');
        const client = new AzureOpenAI({ endpoint: s.endpoint, apiKey: s.key, apiVersion: '2024-10-21', deployment: 'gpt-4o', maxRetries: 0 });
        if (!stream) return (await client.chat.completions.create({ model: 'gpt-4o', messages }).withResponse()).response.headers;
        const { data, response } = await client.chat.completions.create({ model: 'gpt-4o', messages, stream: true, stream_options: { include_usage: true } }).withResponse();
        const chunks = [];
        for await (const chunk of data) chunks.push(chunk);
        // Asked for: passed on.
        expect(chunks.some((c) => c.usage?.total_tokens === 18)).toBe(true);
        return response.headers;
      }
      case 'anthropic': {
        const client = new Anthropic({ baseURL: s.endpoint, apiKey: s.key, maxRetries: 0 });
        if (!stream) return (await client.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 50, messages }).withResponse()).response.headers;
        await client.messages.stream({ model: 'claude-sonnet-5-5', max_tokens: 50, messages }).finalMessage();
        return undefined;
      }
      case 'mistral': {
        const { error } = await runMistralSdk({ serverURL: s.endpoint, apiKey: s.key, operation: stream ? 'chat.stream' : 'chat.complete', request: { model: 'mistral-small-latest', messages } });
        expect(error).toBeUndefined();
        return undefined;
      }
      default: {
        const client = new BedrockRuntimeClient({ endpoint: s.endpoint, region: 'us-east-1', token: { token: s.key }, authSchemePreference: ['httpBearerAuth'], maxAttempts: 1 });
        const input = { modelId: 'anthropic.claude-3-haiku-20240307-v1:0', messages: [{ role: 'user' as const, content: [{ text: 'Hi' }] }] };
        if (!stream) await client.send(new ConverseCommand(input));
        else for await (const _event of (await client.send(new ConverseStreamCommand(input))).stream!) void _event;
        client.destroy();
        return undefined;
      }
    }
  }

  it.each(services)('%s', async (name) => {
    const headers = await call(name, false);
    await call(name, true);
    if (headers) {
      expect(headers.get('x-ratelimit-limit-tokens')).toBe('1000000');
      expect(Number(headers.get('x-ratelimit-remaining-tokens'))).toBeLessThan(1_000_000);
      expect(headers.get('x-ratelimit-reset-tokens')).toBe('11h59m30s');
    }
    await waitFor(async () => (await usageOf(gw.services[name].connectionId)).requests === 2, `usage of ${name}`);
    expect(await usageOf(gw.services[name].connectionId)).toEqual({ promptTokens: 22, completionTokens: 14, totalTokens: 36, requests: 2 });
  });
});

describe('streams cut short are charged what streamed', () => {
  it('when the provider connection breaks mid-stream', async () => {
    const service = await freshOpenAIService({ maxTotalTokens: 1_000_000 });
    gw.fakes.openai.behaviour.content = 'one two three four five six seven eight nine ten';
    gw.fakes.openai.behaviour.cutStreamAfterChunks = 4;
    gw.fakes.openai.behaviour.usage = { prompt: 999, completion: 999 }; // never sent: the stream breaks first
    const client = new OpenAI({ baseURL: service.endpoints[0], apiKey: service.key, maxRetries: 0 });
    await expect(
      (async () => {
        for await (const _chunk of await client.chat.completions.create({ ...CHAT, stream: true })) void _chunk;
      })(),
    ).rejects.toThrow();
    await waitFor(async () => (await usageOf(service.connectionId)).requests === 1, 'usage to be reported');
    const usage = await usageOf(service.connectionId);
    expect(usage.promptTokens).toBe(countPromptTokens(encoder, 'OPENAI', '/chat/completions', { ...CHAT, stream: true, stream_options: { include_usage: true } }));
    expect(usage.completionTokens).toBeGreaterThan(0);
    expect(usage.completionTokens).toBeLessThan(countTextTokens(encoder, gw.fakes.openai.behaviour.content));
  });

  it('when the client leaves mid-stream', async () => {
    const service = await freshOpenAIService({ maxTotalTokens: 1_000_000 });
    gw.fakes.openai.behaviour.content = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    gw.fakes.openai.behaviour.chunkDelayMs = 20;
    gw.fakes.openai.behaviour.usage = { prompt: 999, completion: 999 };
    const controller = new AbortController();
    const client = new OpenAI({ baseURL: service.endpoints[0], apiKey: service.key, maxRetries: 0 });
    const stream = await client.chat.completions.create({ ...CHAT, stream: true }, { signal: controller.signal });
    let seen = 0;
    try {
      for await (const _chunk of stream) {
        seen += 1;
        if (seen === 3) controller.abort(); // the SDK ends the iteration (or throws an abort error)
      }
    } catch (error) {
      expect((error as Error).name).toMatch(/Abort/);
    }
    expect(seen).toBeLessThan(10);
    await waitFor(async () => (await usageOf(service.connectionId)).requests === 1, 'usage to be reported');
    const usage = await usageOf(service.connectionId);
    expect(usage.completionTokens).toBeGreaterThan(0);
    expect(usage.completionTokens).toBeLessThan(countTextTokens(encoder, gw.fakes.openai.behaviour.content));
    expect(usage.completionTokens).not.toBe(999);
  });
});
