// Every request of every service is metered with what the provider billed, whether the provider
// answered plain or compressed (as the real APIs do for fetch-based SDKs), JSON or streamed: the
// official SDKs call the proxy, the fakes report known usage (cache and reasoning tokens included),
// and GraphQL usage must show exactly that, per operation and model. A rate-limited service is
// charged the same figures: its budget refuses the next request exactly when they fill it.
import Anthropic from '@anthropic-ai/sdk';
import { BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import OpenAI, { AzureOpenAI } from 'openai';
import type { FakeServer, FakeUsage } from '../fakes';
import { runMistralSdk } from '../fakes';
import { type Gateway, type ServiceName, HEALTHY_REDIS_TIMEOUT_MS, startGateway } from '../support/gateway-harness';
import { meteredBy as meteredByCall } from '../support/usage-report';

const CLOCK = Date.UTC(2031, 0, 15, 12, 0, 30);
const BEDROCK_MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';
/** Figures of the measurement: what a real OpenAI call reported. */
const BILLED: Required<FakeUsage> = { prompt: 4561, completion: 58, cachedRead: 1024, cachedWrite: 512, reasoning: 24 };

let gw: Gateway;

beforeAll(async () => {
  gw = await startGateway({ rateLimiting: { redisTimeoutMs: HEALTHY_REDIS_TIMEOUT_MS, clock: () => CLOCK, usageReportIntervalMs: 100 } });
});
afterAll(async () => {
  await gw?.stop();
});

/** Runs `call` and returns the usage GraphQL gained by it (one request, one row). */
const meteredBy = (service: ServiceName, call: () => Promise<void>) => meteredByCall(gw, service, call);

type Mode = 'compressed' | 'plain';

function prepareFake(fake: FakeServer, mode: Mode): void {
  fake.reset();
  fake.behaviour.usage = { ...BILLED };
  fake.behaviour.compression = mode === 'compressed' ? 'auto' : 'off';
}

/** The provider saw the client's Accept-Encoding (so it could compress), or was asked for identity. */
function expectAcceptEncoding(fake: FakeServer, mode: Mode): void {
  const accept = fake.received.at(-1)?.headers['accept-encoding'];
  if (mode === 'compressed') expect(accept).toMatch(/gzip/);
}

const openai = () => new OpenAI({ baseURL: gw.services.openai.endpoint, apiKey: gw.services.openai.key, maxRetries: 0 });
const azure = () => new AzureOpenAI({ endpoint: gw.services.azure.endpoint, apiKey: gw.services.azure.key, apiVersion: '2024-10-21', deployment: 'gpt-4o', maxRetries: 0 });
const anthropic = () => new Anthropic({ baseURL: gw.services.anthropic.endpoint, apiKey: gw.services.anthropic.key, maxRetries: 0 });
const bedrock = () =>
  new BedrockRuntimeClient({ endpoint: gw.services.bedrock.endpoint, region: 'us-east-1', token: { token: gw.services.bedrock.key }, authSchemePreference: ['httpBearerAuth'], maxAttempts: 1 });
const messages = [{ role: 'user' as const, content: 'Summarize the quarterly report.' }];

/** What OpenAI-style APIs report: cached reads inside prompt_tokens, reasoning inside completion. */
const OPENAI_BILLED = { promptTokens: BILLED.prompt, completionTokens: BILLED.completion, cachedPromptReadTokens: BILLED.cachedRead, cachedPromptWriteTokens: 0, reasoningTokens: BILLED.reasoning };
/** Anthropic and Bedrock: input + cache read + cache write is the billed input; no reasoning count. */
const CLAUDE_BILLED = { promptTokens: BILLED.prompt, completionTokens: BILLED.completion, cachedPromptReadTokens: BILLED.cachedRead, cachedPromptWriteTokens: BILLED.cachedWrite, reasoningTokens: 0 };
const PLAIN_BILLED = { promptTokens: BILLED.prompt, completionTokens: BILLED.completion, cachedPromptReadTokens: 0, cachedPromptWriteTokens: 0, reasoningTokens: 0 };

describe.each<Mode>(['compressed', 'plain'])('an unlimited service, the provider answering %s', (mode) => {
  it('OpenAI chat completion (JSON) is metered as billed', async () => {
    prepareFake(gw.fakes.openai, mode);
    const row = await meteredBy('openai', async () => {
      const reply = await openai().chat.completions.create({ model: 'gpt-4o-mini', messages });
      expect(reply.usage?.prompt_tokens).toBe(BILLED.prompt);
    });
    expectAcceptEncoding(gw.fakes.openai, mode);
    expect(row).toMatchObject({ operation: 'chat_completions', requestModel: 'gpt-4o-mini', responseModel: 'gpt-4o-mini', requests: 1, errors4xx: 0, ...OPENAI_BILLED });
  });

  it('OpenAI chat stream that asks for usage (as frameworks do) is metered as billed', async () => {
    prepareFake(gw.fakes.openai, mode);
    const row = await meteredBy('openai', async () => {
      let usage: OpenAI.CompletionUsage | null | undefined;
      for await (const chunk of await openai().chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true, stream_options: { include_usage: true } })) usage = chunk.usage ?? usage;
      expect(usage?.completion_tokens).toBe(BILLED.completion);
    });
    expectAcceptEncoding(gw.fakes.openai, mode);
    expect(row).toMatchObject({ operation: 'chat_completions', requestModel: 'gpt-4o-mini', responseModel: 'gpt-4o-mini', ...OPENAI_BILLED });
  });

  it('OpenAI chat stream that does not ask for usage: the proxy asks, meters it and hides the usage chunk', async () => {
    prepareFake(gw.fakes.openai, mode);
    const row = await meteredBy('openai', async () => {
      const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
      for await (const chunk of await openai().chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true })) chunks.push(chunk);
      expect(chunks.some((chunk) => chunk.usage)).toBe(false);
      expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('Hello from the fake');
    });
    // The usage chunk is cut out of the stream's plain bytes: the provider is asked not to compress it.
    expect(gw.fakes.openai.received.at(-1)?.headers['accept-encoding']).toBe('identity');
    expect(row).toMatchObject({ operation: 'chat_completions', ...OPENAI_BILLED });
  });

  it('OpenAI Responses API, JSON and streamed, is metered as billed', async () => {
    prepareFake(gw.fakes.openai, mode);
    const json = await meteredBy('openai', async () => {
      const response = await openai().responses.create({ model: 'gpt-5-mini', input: 'Summarize the quarterly report.' });
      expect(response.usage?.input_tokens).toBe(BILLED.prompt);
    });
    expect(json).toMatchObject({ operation: 'responses', requestModel: 'gpt-5-mini', responseModel: 'gpt-5-mini', ...OPENAI_BILLED });
    const streamed = await meteredBy('openai', async () => {
      let text = '';
      for await (const event of await openai().responses.create({ model: 'gpt-5-mini', input: 'Summarize the quarterly report.', stream: true })) {
        if (event.type === 'response.output_text.delta') text += event.delta;
      }
      expect(text).toBe('Hello from the fake');
    });
    expectAcceptEncoding(gw.fakes.openai, mode);
    expect(streamed).toMatchObject({ operation: 'responses', requestModel: 'gpt-5-mini', ...OPENAI_BILLED });
  });

  it('OpenAI embeddings are metered as billed (prompt only)', async () => {
    prepareFake(gw.fakes.openai, mode);
    const row = await meteredBy('openai', async () => {
      await openai().embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] });
    });
    expect(row).toMatchObject({ operation: 'embeddings', requestModel: 'text-embedding-3-small', promptTokens: BILLED.prompt, completionTokens: 0 });
  });

  it('Azure OpenAI chat, JSON and streamed, is metered as billed', async () => {
    prepareFake(gw.fakes.azure, mode);
    const json = await meteredBy('azure', async () => {
      await azure().chat.completions.create({ model: 'gpt-4o', messages });
    });
    expectAcceptEncoding(gw.fakes.azure, mode);
    expect(json).toMatchObject({ operation: 'chat_completions', requestModel: 'gpt-4o', ...OPENAI_BILLED });
    const streamed = await meteredBy('azure', async () => {
      for await (const chunk of await azure().chat.completions.create({ model: 'gpt-4o', messages, stream: true, stream_options: { include_usage: true } })) void chunk;
    });
    expect(streamed).toMatchObject({ operation: 'chat_completions', requestModel: 'gpt-4o', ...OPENAI_BILLED });
  });

  it('Anthropic messages, JSON and streamed, are metered as billed (cache reads and writes are input)', async () => {
    prepareFake(gw.fakes.anthropic, mode);
    const json = await meteredBy('anthropic', async () => {
      const reply = await anthropic().messages.create({ model: 'claude-sonnet-5-5', max_tokens: 100, messages });
      expect(reply.usage.cache_read_input_tokens).toBe(BILLED.cachedRead);
    });
    expectAcceptEncoding(gw.fakes.anthropic, mode);
    expect(json).toMatchObject({ operation: 'messages', requestModel: 'claude-sonnet-5-5', responseModel: 'claude-sonnet-5-5', ...CLAUDE_BILLED });
    const streamed = await meteredBy('anthropic', async () => {
      const message = await anthropic().messages.stream({ model: 'claude-sonnet-5-5', max_tokens: 100, messages }).finalMessage();
      expect(message.usage.output_tokens).toBe(BILLED.completion);
    });
    expect(streamed).toMatchObject({ operation: 'messages', requestModel: 'claude-sonnet-5-5', responseModel: 'claude-sonnet-5-5', ...CLAUDE_BILLED });
  });

  it('Anthropic count_tokens is free: metered as a request with no tokens', async () => {
    prepareFake(gw.fakes.anthropic, mode);
    const row = await meteredBy('anthropic', async () => {
      await anthropic().messages.countTokens({ model: 'claude-sonnet-5-5', messages });
    });
    expect(row).toMatchObject({ operation: 'count_tokens', requests: 1, promptTokens: 0, completionTokens: 0 });
  });

  it('Mistral chat, JSON and streamed, is metered as billed', async () => {
    prepareFake(gw.fakes.mistral, mode);
    const { endpoint, key } = gw.services.mistral;
    const json = await meteredBy('mistral', async () => {
      const { error } = await runMistralSdk({ serverURL: endpoint, apiKey: key, operation: 'chat.complete', request: { model: 'mistral-small-latest', messages } });
      expect(error).toBeUndefined();
    });
    expectAcceptEncoding(gw.fakes.mistral, mode);
    expect(json).toMatchObject({ operation: 'chat_completions', requestModel: 'mistral-small-latest', ...PLAIN_BILLED });
    const streamed = await meteredBy('mistral', async () => {
      const { error } = await runMistralSdk({ serverURL: endpoint, apiKey: key, operation: 'chat.stream', request: { model: 'mistral-small-latest', messages } });
      expect(error).toBeUndefined();
    });
    expect(streamed).toMatchObject({ operation: 'chat_completions', requestModel: 'mistral-small-latest', ...PLAIN_BILLED });
  });

  it('Bedrock Converse and ConverseStream are metered as billed', async () => {
    // The AWS SDK sends no Accept-Encoding: "compressed" here is a provider that compresses anyway.
    prepareFake(gw.fakes.bedrock, mode);
    if (mode === 'compressed') gw.fakes.bedrock.behaviour.compression = 'gzip';
    const converse = await meteredBy('bedrock', async () => {
      if (mode === 'compressed') {
        // A fetch-based client (the Vercel AI SDK's Bedrock provider with an API key) decodes gzip itself.
        const response = await fetch(`${gw.services.bedrock.endpoint}/model/${encodeURIComponent(BEDROCK_MODEL)}/converse`, {
          method: 'POST',
          headers: { authorization: `Bearer ${gw.services.bedrock.key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }),
        });
        expect(response.status).toBe(200);
        expect(((await response.json()) as { usage: { outputTokens: number } }).usage.outputTokens).toBe(BILLED.completion);
      } else {
        const reply = await bedrock().send(new ConverseCommand({ modelId: BEDROCK_MODEL, messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }));
        expect(reply.usage?.outputTokens).toBe(BILLED.completion);
      }
    });
    expect(converse).toMatchObject({ operation: 'converse', requestModel: BEDROCK_MODEL, ...CLAUDE_BILLED });
    if (mode === 'compressed') return; // the AWS SDK cannot read a compressed event stream, and never asks for one
    const stream = await meteredBy('bedrock', async () => {
      const reply = await bedrock().send(new ConverseStreamCommand({ modelId: BEDROCK_MODEL, messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }));
      for await (const event of reply.stream ?? []) void event;
    });
    expect(stream).toMatchObject({ operation: 'converse_stream', requestModel: BEDROCK_MODEL, ...CLAUDE_BILLED });
  });
});

describe('a rate-limited service, the provider answering compressed', () => {
  /** A budget of exactly one request's billed tokens: the next request is refused only if they were charged. */
  async function limitToOneRequest(service: ServiceName): Promise<void> {
    await gw.cp.ok(
      'mutation($s: ID!, $r: RateLimitInput!) { configureServiceEnvironment(serviceId: $s, environment: "production", input: {rateLimit: $r}) { id } }',
      { s: gw.services[service].id, r: { timeUnit: 'DAY', maxPromptTokens: BILLED.prompt, maxCompletionTokens: BILLED.completion } },
      gw.tenant.tokens.engineer,
    );
    await gw.settle();
  }

  async function expectRefusedWithNothingLeft(call: () => Promise<unknown>): Promise<void> {
    const error = await call().then(
      () => null,
      (caught: unknown) => caught as { status?: number; headers?: Headers | Record<string, string> },
    );
    expect(error?.status).toBe(429);
    const headers = error?.headers;
    const header = (name: string) => (headers instanceof Headers ? headers.get(name) : headers?.[name]);
    expect(header('x-ratelimit-remaining-prompt-tokens')).toBe('0');
    expect(header('x-ratelimit-remaining-completion-tokens')).toBe('0');
  }

  it.each<[ServiceName, string, () => Promise<unknown>]>([
    ['openai', 'OpenAI chat stream', async () => {
      for await (const chunk of await openai().chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true, stream_options: { include_usage: true } })) void chunk;
    }],
    ['azure', 'Azure OpenAI chat', () => azure().chat.completions.create({ model: 'gpt-4o', messages })],
    ['anthropic', 'Anthropic message stream', () => anthropic().messages.stream({ model: 'claude-sonnet-5-5', max_tokens: BILLED.completion, messages }).finalMessage()],
  ])('%s: %s is charged what the provider reported', async (service, _label, call) => {
    prepareFake(gw.fakes[service === 'azure' ? 'azure' : service === 'anthropic' ? 'anthropic' : 'openai'], 'compressed');
    await limitToOneRequest(service);
    const row = await meteredBy(service, async () => {
      await call();
    });
    expect(row).toMatchObject({ promptTokens: BILLED.prompt, completionTokens: BILLED.completion, requests: 1 });
    await expectRefusedWithNothingLeft(call);
  });

  it('mistral: a chat is charged what the provider reported', async () => {
    prepareFake(gw.fakes.mistral, 'compressed');
    await limitToOneRequest('mistral');
    const { endpoint, key } = gw.services.mistral;
    const call = () => runMistralSdk({ serverURL: endpoint, apiKey: key, operation: 'chat.complete', request: { model: 'mistral-small-latest', messages } });
    const row = await meteredBy('mistral', async () => {
      expect((await call()).error).toBeUndefined();
    });
    expect(row).toMatchObject({ promptTokens: BILLED.prompt, completionTokens: BILLED.completion });
    expect((await call()).error).toMatchObject({ statusCode: 429 });
  });
});
