// Stream cut-off (issue 13): a service environment with `stream_cutoff` ends a streamed completion that
// sets no max_tokens once it would run past what its completion or total budget still allows — in the
// provider's own format, so the official SDK finishes normally and reports the provider's length stop
// reason — aborts the upstream request and charges what was streamed. Without the flag the stream
// completes and is charged in full; a request that sets its own max tokens is never cut. For OpenAI,
// Azure OpenAI, Mistral, Anthropic and Bedrock ConverseStream, and OpenAI's Responses API; and for a
// model that streams a tool call's arguments past the budget (OpenAI chat and Responses, Anthropic).
// The fakes stream a long answer one word per event, whatever max_tokens says.
import { randomUUID } from 'node:crypto';
import Anthropic from '@anthropic-ai/sdk';
import { BedrockRuntimeClient, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { getEncoding } from 'js-tiktoken';
import OpenAI, { AzureOpenAI } from 'openai';
import type { BackendAuthMessage, ProviderName } from '../../data-plane/src/config-stream/wire-types';
import { httpRequest } from '../support/data-plane/http-client';
import { type ProxyHarness, startProxyHarness } from '../support/data-plane/proxy-harness';
import { HEALTHY_REDIS_TIMEOUT_MS } from '../support/gateway-harness';
import { apiKeyAuth, consumerKeyFixture, rateLimitFixture, serviceFixture } from '../support/data-plane/snapshot-fixtures';
import { countCompletionTokens, countPromptTokens } from '../../data-plane/src/tokens/prompt-tokens';
import { type FakeServer, runMistralSdk, startFakeAnthropic, startFakeAzureOpenAI, startFakeBedrock, startFakeMistral, startFakeOpenAI } from '../fakes';
import { waitFor } from '../support/wait';

// Pinned clock: every request of this file falls in the same window.
const CLOCK = Date.UTC(2031, 0, 15, 12, 0, 30);
const encoder = getEncoding('o200k_base');
/** About 300 tokens, streamed one word per event (about a second). */
const LONG_ANSWER = 'The quarterly report shows revenue growing in every region, with costs held flat and margins widening. '.repeat(18).trim();
/**
 * What a stream to be cut gets: long enough (half a minute) that the fake still streams whatever the
 * machine's pace (the tokenizer's first build included) when the proxy aborts it.
 */
const ENDLESS_ANSWER = `${LONG_ANSWER} `.repeat(25).trim();
/** Completion tokens a service's budget allows per window; the answer is far longer. */
const COMPLETION_BUDGET = 60;
/** Reserved for a request without max tokens (the proxy's default is 256; trimmed to the budget anyway). */
const DEFAULT_COMPLETION_TOKENS = 8;
const BEDROCK_MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';

let harness: ProxyHarness;
let fakes: { openai: FakeServer; azure: FakeServer; mistral: FakeServer; anthropic: FakeServer; bedrock: FakeServer };

beforeAll(async () => {
  harness = await startProxyHarness({ rateLimiting: { redisTimeoutMs: HEALTHY_REDIS_TIMEOUT_MS, clock: () => CLOCK, redisNamespace: `tokengate-test-cutoff-${randomUUID()}`, defaultCompletionTokens: DEFAULT_COMPLETION_TOKENS } });
  fakes = { openai: await startFakeOpenAI(), azure: await startFakeAzureOpenAI(), mistral: await startFakeMistral(), anthropic: await startFakeAnthropic(), bedrock: await startFakeBedrock() };
});
afterAll(async () => {
  await harness?.close();
  await Promise.all(Object.values(fakes ?? {}).map((fake) => fake.close()));
});

/** What the official SDK reported at the end of the stream. */
interface Streamed {
  readonly text: string;
  readonly stopReason: string | null | undefined;
  /** The usage the SDK saw, where the stream reports one to the client. */
  readonly completionTokens?: number;
}

interface ProviderCase {
  readonly name: string;
  readonly provider: ProviderName;
  readonly fake: () => FakeServer;
  readonly auth: BackendAuthMessage;
  /** The model the answer is counted for. */
  readonly model: string;
  /** The path after the context path the stream is sent to (for counting the prompt as the proxy does). */
  readonly streamPath: string;
  readonly lengthStopReason: string;
  readonly normalStopReason: string;
  /** Streams LONG_ANSWER through the proxy with the official SDK, to its end. */
  stream(endpoint: string, key: string, maxTokens?: number): Promise<Streamed>;
  /** A request that reserves no completion tokens, to read the budget's remaining completion tokens. */
  readonly probe: { readonly path: string; readonly body: object };
}

const CASES: ProviderCase[] = [
  {
    name: 'OpenAI chat completions (openai SDK)',
    provider: 'OPENAI',
    fake: () => fakes.openai,
    auth: apiKeyAuth('Authorization', 'Bearer sk-openai-upstream'),
    model: 'gpt-4o-mini',
    streamPath: '/v1/chat/completions',
    lengthStopReason: 'length',
    normalStopReason: 'stop',
    async stream(endpoint, key, maxTokens) {
      const client = new OpenAI({ baseURL: `${endpoint}/v1`, apiKey: key, maxRetries: 0 });
      // The SDK's stream helper accumulates the chunks into a completion, as frameworks do.
      const completion = await client.chat.completions
        .stream({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Summarize the quarterly report.' }], ...(maxTokens === undefined ? {} : { max_tokens: maxTokens }) })
        .finalChatCompletion();
      return { text: completion.choices[0].message.content ?? '', stopReason: completion.choices[0].finish_reason };
    },
    probe: { path: '/v1/chat/completions', body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'probe' }], max_tokens: 0 } },
  },
  {
    name: 'Azure OpenAI chat completions (openai SDK, AzureOpenAI)',
    provider: 'AZURE_OPENAI',
    fake: () => fakes.azure,
    auth: apiKeyAuth('api-key', 'azure-upstream', '2024-10-21'),
    model: 'gpt-4o',
    streamPath: '/openai/deployments/gpt-4o/chat/completions',
    lengthStopReason: 'length',
    normalStopReason: 'stop',
    async stream(endpoint, key, maxTokens) {
      const client = new AzureOpenAI({ endpoint, apiKey: key, apiVersion: '2024-10-21', deployment: 'gpt-4o', maxRetries: 0 });
      const completion = await client.chat.completions
        .stream({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Summarize the quarterly report.' }], ...(maxTokens === undefined ? {} : { max_tokens: maxTokens }) })
        .finalChatCompletion();
      return { text: completion.choices[0].message.content ?? '', stopReason: completion.choices[0].finish_reason };
    },
    probe: { path: '/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21', body: { messages: [{ role: 'user', content: 'probe' }], max_tokens: 0 } },
  },
  {
    name: 'Mistral chat completions (@mistralai/mistralai)',
    provider: 'MISTRAL',
    fake: () => fakes.mistral,
    auth: apiKeyAuth('Authorization', 'Bearer mistral-upstream'),
    model: 'mistral-small-latest',
    streamPath: '/v1/chat/completions',
    lengthStopReason: 'length',
    normalStopReason: 'stop',
    async stream(endpoint, key, maxTokens) {
      const request = { model: 'mistral-small-latest', messages: [{ role: 'user', content: 'Summarize the quarterly report.' }], ...(maxTokens === undefined ? {} : { maxTokens }) };
      const { result, error } = await runMistralSdk({ serverURL: endpoint, apiKey: key, operation: 'chat.stream', request });
      expect(error).toBeUndefined();
      type Chunk = { choices: Array<{ delta: { content?: string }; finishReason?: string | null }>; usage?: { completionTokens: number } };
      const chunks = result as Chunk[];
      return {
        text: chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join(''),
        stopReason: chunks.map((chunk) => chunk.choices[0]?.finishReason).find((reason) => reason != null),
        completionTokens: chunks.find((chunk) => chunk.usage !== undefined)?.usage?.completionTokens,
      };
    },
    probe: { path: '/v1/chat/completions', body: { model: 'mistral-small-latest', messages: [{ role: 'user', content: 'probe' }], max_tokens: 0 } },
  },
  {
    name: 'Anthropic messages (@anthropic-ai/sdk)',
    provider: 'ANTHROPIC',
    fake: () => fakes.anthropic,
    auth: apiKeyAuth('x-api-key', 'sk-ant-upstream'),
    model: 'claude-sonnet-5-5',
    streamPath: '/v1/messages',
    lengthStopReason: 'max_tokens',
    normalStopReason: 'end_turn',
    async stream(endpoint, key, maxTokens) {
      const client = new Anthropic({ baseURL: endpoint, apiKey: key, maxRetries: 0 });
      // The Messages API requires max_tokens, and a stream that sets it is never cut: this one leaves it
      // out (the fake accepts that), as an Anthropic-compatible API that makes it optional would.
      const params = { model: 'claude-sonnet-5-5', messages: [{ role: 'user', content: 'Summarize the quarterly report.' }], ...(maxTokens === undefined ? {} : { max_tokens: maxTokens }) };
      const message = await client.messages.stream(params as Anthropic.MessageStreamParams).finalMessage();
      const text = message.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
      return { text, stopReason: message.stop_reason, completionTokens: message.usage.output_tokens };
    },
    probe: { path: '/v1/messages', body: { model: 'claude-sonnet-5-5', max_tokens: 0, messages: [{ role: 'user', content: 'probe' }] } },
  },
  {
    name: 'Bedrock ConverseStream (@aws-sdk/client-bedrock-runtime, HTTP/2)',
    provider: 'AWS_BEDROCK',
    fake: () => fakes.bedrock,
    auth: apiKeyAuth('Authorization', 'Bearer bedrock-api-key-upstream'),
    model: BEDROCK_MODEL,
    streamPath: `/model/${encodeURIComponent(BEDROCK_MODEL)}/converse-stream`,
    lengthStopReason: 'max_tokens',
    normalStopReason: 'end_turn',
    async stream(endpoint, key, maxTokens) {
      const client = new BedrockRuntimeClient({ endpoint, region: 'us-east-1', token: { token: key }, authSchemePreference: ['httpBearerAuth'], maxAttempts: 1 });
      try {
        const reply = await client.send(
          new ConverseStreamCommand({
            modelId: BEDROCK_MODEL,
            messages: [{ role: 'user', content: [{ text: 'Summarize the quarterly report.' }] }],
            ...(maxTokens === undefined ? {} : { inferenceConfig: { maxTokens } }),
          }),
        );
        let text = '';
        let stopReason: string | undefined;
        let completionTokens: number | undefined;
        for await (const event of reply.stream ?? []) {
          text += event.contentBlockDelta?.delta?.text ?? '';
          stopReason = event.messageStop?.stopReason ?? stopReason;
          completionTokens = event.metadata?.usage?.outputTokens ?? completionTokens;
        }
        return { text, stopReason, completionTokens };
      } finally {
        client.destroy();
      }
    },
    probe: { path: `/model/${encodeURIComponent(BEDROCK_MODEL)}/converse`, body: { messages: [{ role: 'user', content: [{ text: 'probe' }] }], inferenceConfig: { maxTokens: 0 } } },
  },
];

interface Published {
  readonly serviceId: string;
  readonly key: string;
  readonly endpoint: string;
}

/** A new service (its own budget) for the case's fake; the snapshot holds only it. */
function publish(testCase: ProviderCase, options: { streamCutoff: boolean; budget: 'completion' | 'total'; total?: number }): Published {
  const serviceId = `cutoff-${randomUUID().slice(0, 8)}`;
  const key = `tgk_${serviceId}`;
  const rateLimit =
    options.budget === 'completion'
      ? rateLimitFixture({ time_unit: 'DAY', max_completion_tokens: String(COMPLETION_BUDGET), max_total_tokens: '0' })
      : rateLimitFixture({ time_unit: 'DAY', max_completion_tokens: '0', max_total_tokens: String(options.total) });
  harness.apply(
    [serviceFixture({ id: serviceId, provider: testCase.provider, upstream_url: testCase.fake().url, backend_auth: testCase.auth, stream_cutoff: options.streamCutoff, rate_limit: rateLimit })],
    [consumerKeyFixture(key, serviceId)],
  );
  return { serviceId, key, endpoint: `${harness.proxy.url}/acme/${serviceId}` };
}

/** The answer's text counted as the proxy counts completion text for the case's provider and model. */
function completionTokensOf(testCase: ProviderCase, text: string): number {
  return countCompletionTokens(encoder, testCase.provider, testCase.model, text);
}

/** The budget's remaining completion tokens, read from a request that reserves none. */
async function remainingCompletionTokens(testCase: ProviderCase, published: Published): Promise<number> {
  const response = await httpRequest(`${published.endpoint}${testCase.probe.path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${published.key}` },
    body: JSON.stringify(testCase.probe.body),
  });
  expect(response.status).toBe(200);
  return Number(response.headers['x-ratelimit-remaining-completion-tokens']);
}

/** The tokens the proxy recorded for the service (its gen_ai_client_token_usage sums), once it recorded `requests` requests. */
async function recordedUsage(serviceId: string): Promise<{ input: number; output: number }> {
  return waitFor(async () => {
    const text = (await httpRequest(`${harness.proxy.url}/metrics`)).text;
    const sum = (type: string): number | null => {
      const line = text.split('\n').find((row) => row.startsWith('gen_ai_client_token_usage_sum{') && row.includes(`service="${serviceId}"`) && row.includes(`gen_ai_token_type="${type}"`));
      return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    const input = sum('input');
    const output = sum('output');
    return input !== null && output !== null && { input, output };
  }, `the usage of service ${serviceId}`);
}

/** The prompt of the stream the fake received, counted as the proxy counts it. */
function promptTokensOf(testCase: ProviderCase): number {
  return countPromptTokens(encoder, testCase.provider, testCase.streamPath, testCase.fake().received.at(-1)?.json, testCase.model);
}

function prepareFake(testCase: ProviderCase, content = LONG_ANSWER): FakeServer {
  const fake = testCase.fake();
  fake.reset();
  fake.behaviour.content = content;
  fake.behaviour.usage = { prompt: 11, completion: completionTokensOf(testCase, content) };
  // Long enough for the proxy's abort to reach the fake while it still streams; events split across chunks.
  fake.behaviour.chunkDelayMs = 2;
  fake.behaviour.unevenWrites = true;
  return fake;
}

describe.each(CASES)('$name', (testCase) => {
  it('with stream_cutoff, a stream without max tokens is ended at the completion budget in the provider format, aborted upstream and charged what was streamed', async () => {
    const fake = prepareFake(testCase, ENDLESS_ANSWER);
    const published = publish(testCase, { streamCutoff: true, budget: 'completion' });

    const streamed = await testCase.stream(published.endpoint, published.key);

    expect(streamed.stopReason).toBe(testCase.lengthStopReason);
    const received = completionTokensOf(testCase, streamed.text);
    expect(received).toBeLessThanOrEqual(COMPLETION_BUDGET);
    expect(received).toBeGreaterThan(COMPLETION_BUDGET - 10); // cut at the budget, not well before it
    expect(ENDLESS_ANSWER.startsWith(streamed.text)).toBe(true);
    if (streamed.completionTokens !== undefined) expect(streamed.completionTokens).toBe(received);
    // The provider was asked for events the proxy can splice, and was stopped.
    expect(fake.received.at(-1)?.headers['accept-encoding'] ?? 'identity').toBe('identity');
    await waitFor(() => fake.aborted.length === 1, 'the upstream request aborted');

    const usage = await recordedUsage(published.serviceId);
    expect(usage.output).toBe(received);
    // The prompt as the provider reported it (Anthropic's message_start) or as the proxy counts it.
    expect(usage.input).toBe(testCase.provider === 'ANTHROPIC' ? 11 : promptTokensOf(testCase));
    expect(await remainingCompletionTokens(testCase, published)).toBe(COMPLETION_BUDGET - received);
  });

  it('without stream_cutoff, the same stream completes and is charged in full', async () => {
    const fake = prepareFake(testCase);
    const published = publish(testCase, { streamCutoff: false, budget: 'completion' });

    const streamed = await testCase.stream(published.endpoint, published.key);

    expect(streamed.text).toBe(LONG_ANSWER);
    expect(streamed.stopReason).toBe(testCase.normalStopReason);
    expect(fake.aborted).toHaveLength(0);
    const full = completionTokensOf(testCase, LONG_ANSWER);
    expect((await recordedUsage(published.serviceId)).output).toBe(full);
    expect(await remainingCompletionTokens(testCase, published)).toBe(0); // overrun: as before the cut-off existed
  });

  it('with stream_cutoff, a stream that sets its own max tokens is never cut', async () => {
    const fake = prepareFake(testCase);
    const published = publish(testCase, { streamCutoff: true, budget: 'completion' });

    // Admitted with its whole limit reserved; the fake ignores the limit and streams on.
    const streamed = await testCase.stream(published.endpoint, published.key, COMPLETION_BUDGET);

    expect(streamed.text).toBe(LONG_ANSWER);
    expect(streamed.stopReason).toBe(testCase.normalStopReason);
    expect(fake.aborted).toHaveLength(0);
  });
});

describe('a total budget', () => {
  it.each(CASES)('$name: cuts the stream at what the total budget still allows', async (testCase) => {
    const fake = prepareFake(testCase, ENDLESS_ANSWER);
    const total = 400;
    const published = publish(testCase, { streamCutoff: true, budget: 'total', total });

    const streamed = await testCase.stream(published.endpoint, published.key);

    expect(streamed.stopReason).toBe(testCase.lengthStopReason);
    await waitFor(() => fake.aborted.length === 1, 'the upstream request aborted');
    const received = completionTokensOf(testCase, streamed.text);
    const usage = await recordedUsage(published.serviceId);
    expect(usage.output).toBe(received);
    // The prompt is reserved at an upper bound (its body's bytes) at admission: what the completion may use is at most the rest.
    expect(received).toBeGreaterThan(0);
    expect(usage.input + received).toBeLessThanOrEqual(total);
    expect(received).toBeLessThan(total);
  });
});

describe('OpenAI Responses API (openai SDK)', () => {
  const responsesCase: ProviderCase = {
    ...CASES[0],
    streamPath: '/v1/responses',
    lengthStopReason: 'max_output_tokens',
    async stream(endpoint, key) {
      const client = new OpenAI({ baseURL: `${endpoint}/v1`, apiKey: key, maxRetries: 0 });
      const stream = client.responses.stream({ model: 'gpt-4o-mini', input: 'Summarize the quarterly report.' });
      let deltas = '';
      for await (const event of stream) if (event.type === 'response.output_text.delta') deltas += event.delta;
      const response = await stream.finalResponse();
      expect(response.status).toBe('incomplete');
      expect(response.output_text).toBe(deltas);
      return { text: response.output_text, stopReason: response.incomplete_details?.reason, completionTokens: response.usage?.output_tokens };
    },
  };

  it('with stream_cutoff, a stream is ended as one that reached max_output_tokens, aborted upstream and charged what was streamed', async () => {
    const fake = prepareFake(responsesCase, ENDLESS_ANSWER);
    const published = publish(responsesCase, { streamCutoff: true, budget: 'completion' });

    const streamed = await responsesCase.stream(published.endpoint, published.key);

    expect(streamed.stopReason).toBe('max_output_tokens');
    const received = completionTokensOf(responsesCase, streamed.text);
    expect(received).toBeLessThanOrEqual(COMPLETION_BUDGET);
    expect(received).toBeGreaterThan(COMPLETION_BUDGET - 10);
    expect(ENDLESS_ANSWER.startsWith(streamed.text)).toBe(true);
    expect(streamed.completionTokens).toBe(received);
    await waitFor(() => fake.aborted.length === 1, 'the upstream request aborted');
    const usage = await recordedUsage(published.serviceId);
    expect(usage).toEqual({ input: promptTokensOf(responsesCase), output: received });
    expect(await remainingCompletionTokens(responsesCase, published)).toBe(COMPLETION_BUDGET - received);
  });
});

describe('an upstream that compresses although asked for identity', () => {
  it('has its stream relayed uncut (events cannot be written into a compressed body) and charged as reported', async () => {
    const testCase = CASES[0];
    const fake = prepareFake(testCase);
    fake.behaviour.compression = 'gzip';
    const published = publish(testCase, { streamCutoff: true, budget: 'completion' });

    const streamed = await testCase.stream(published.endpoint, published.key);

    expect(fake.received.at(-1)?.headers['accept-encoding']).toBe('identity');
    expect(streamed.text).toBe(LONG_ANSWER);
    expect(streamed.stopReason).toBe('stop');
    expect((await recordedUsage(published.serviceId)).output).toBe(completionTokensOf(testCase, LONG_ANSWER));
  });
});

describe('a tool call cut at the budget', () => {
  /** A model that writes its whole answer into a tool's arguments, far past the budget. */
  const SUMMARY_CALL = { name: 'write_summary', arguments: JSON.stringify({ summary: ENDLESS_ANSWER }) };
  const TOOL_CASES: Array<{ name: string; testCase: ProviderCase; lengthStopReason: string; call(endpoint: string, key: string): Promise<{ stopReason: string | null | undefined; streamedArguments: string }> }> = [
    {
      name: 'OpenAI chat completions (openai SDK stream helper)',
      testCase: CASES[0],
      lengthStopReason: 'length',
      async call(endpoint, key) {
        const client = new OpenAI({ baseURL: `${endpoint}/v1`, apiKey: key, maxRetries: 0 });
        const tools = [{ type: 'function' as const, function: { name: SUMMARY_CALL.name, parameters: { type: 'object', properties: { summary: { type: 'string' } } } } }];
        const completion = await client.chat.completions.stream({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Summarize the quarterly report.' }], tools }).finalChatCompletion();
        const [toolCall] = completion.choices[0].message.tool_calls ?? [];
        return { stopReason: completion.choices[0].finish_reason, streamedArguments: toolCall?.type === 'function' ? toolCall.function.arguments : '' };
      },
    },
    {
      name: 'OpenAI Responses API (openai SDK)',
      testCase: { ...CASES[0], streamPath: '/v1/responses' },
      lengthStopReason: 'max_output_tokens',
      async call(endpoint, key) {
        const client = new OpenAI({ baseURL: `${endpoint}/v1`, apiKey: key, maxRetries: 0 });
        const tools = [{ type: 'function' as const, name: SUMMARY_CALL.name, parameters: { type: 'object', properties: { summary: { type: 'string' } } }, strict: false }];
        const response = await client.responses.stream({ model: 'gpt-4o-mini', input: 'Summarize the quarterly report.', tools }).finalResponse();
        const call = response.output.find((item) => item.type === 'function_call');
        return { stopReason: response.incomplete_details?.reason, streamedArguments: call?.type === 'function_call' ? call.arguments : '' };
      },
    },
    {
      name: 'Anthropic messages (@anthropic-ai/sdk)',
      testCase: CASES[3],
      lengthStopReason: 'max_tokens',
      async call(endpoint, key) {
        const client = new Anthropic({ baseURL: endpoint, apiKey: key, maxRetries: 0 });
        const params = { model: 'claude-sonnet-5-5', messages: [{ role: 'user', content: 'Summarize the quarterly report.' }], tools: [{ name: SUMMARY_CALL.name, input_schema: { type: 'object', properties: { summary: { type: 'string' } } } }] };
        const stream = client.messages.stream(params as Anthropic.MessageStreamParams);
        // The input JSON as it was streamed (the message's `input` is what the SDK's partial parser
        // makes of it: an unfinished string is left out).
        let streamedArguments = '';
        stream.on('inputJson', (partial) => (streamedArguments += partial));
        const message = await stream.finalMessage();
        expect(message.content).toEqual([expect.objectContaining({ type: 'tool_use', name: SUMMARY_CALL.name })]);
        return { stopReason: message.stop_reason, streamedArguments };
      },
    },
  ];

  it.each(TOOL_CASES)('$name: ends as a call that reached the length limit, the SDK keeps what was streamed, and the budget is charged it', async ({ testCase, lengthStopReason, call }) => {
    const fake = prepareFake(testCase);
    fake.behaviour.toolCall = SUMMARY_CALL;
    const published = publish(testCase, { streamCutoff: true, budget: 'completion' });

    const streamed = await call(published.endpoint, published.key);

    expect(streamed.stopReason).toBe(lengthStopReason);
    // What was streamed of the summary, cut inside it (the SDKs keep the call, with what arrived).
    const summary = (JSON.parse(`${streamed.streamedArguments}"}`) as { summary: string }).summary;
    expect(summary.length).toBeGreaterThan(0);
    expect(ENDLESS_ANSWER.startsWith(summary)).toBe(true);
    expect(summary.length).toBeLessThan(ENDLESS_ANSWER.length / 10);
    await waitFor(() => fake.aborted.length === 1, 'the upstream request aborted');
    const usage = await recordedUsage(published.serviceId);
    expect(usage.output).toBeLessThanOrEqual(COMPLETION_BUDGET);
    expect(usage.output).toBeGreaterThan(COMPLETION_BUDGET - 10);
    expect(await remainingCompletionTokens(testCase, published)).toBe(COMPLETION_BUDGET - usage.output);
  });
});
