// LangChain JS (@langchain/core 1.x) through the proxy, each provider integration unchanged but for
// its base URL and key: invoke and stream get the provider's text, LangChain reports the provider's
// usage (usage_metadata), the provider sees its own credential (never the consumer key), and
// Tokengate charges exactly what the provider reported. The fakes answer compressed where the client
// accepts it, as the real APIs do, and report cache and reasoning tokens.
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { ChatAnthropic } from '@langchain/anthropic';
import { ChatBedrockConverse } from '@langchain/aws';
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import type { AIMessageChunk, UsageMetadata } from '@langchain/core/messages';
import { AzureChatOpenAI, ChatOpenAI } from '@langchain/openai';
import { verifySigV4 } from '../fakes';
import { type Gateway, PROVIDER_SECRETS, type ServiceName, startGateway } from '../support/gateway-harness';
import { runLangChainMistral } from '../support/langchain-mistral';
import { BEDROCK_MODEL, BILLED, MISTRAL_CHAT_CHARGED, PROMPT, compressedUpstreamOf, prepare, upstreamOf } from '../support/framework-calls';
import { meteredCall } from '../support/usage-report';

let gw: Gateway;

beforeAll(async () => {
  gw = await startGateway({ rateLimiting: { usageReportIntervalMs: 100 } });
});
afterAll(async () => {
  await gw?.stop();
});

interface Call {
  text: string;
  usage: UsageMetadata | undefined;
  chunks: number;
}

type Mode = 'invoke' | 'stream';
const MODES: Mode[] = ['invoke', 'stream'];

async function run(mode: Mode, chat: BaseChatModel): Promise<Call> {
  if (mode === 'invoke') {
    const message = await chat.invoke(PROMPT);
    return { text: message.text, usage: (message as AIMessageChunk).usage_metadata, chunks: 0 };
  }
  let message: AIMessageChunk | undefined;
  let chunks = 0;
  for await (const chunk of await chat.stream(PROMPT)) {
    message = message === undefined ? chunk : message.concat(chunk);
    chunks += 1;
  }
  return { text: message?.text ?? '', usage: message?.usage_metadata, chunks };
}

/** Runs the call through the proxy; returns what the app got and what Tokengate charged for it. */
const callAndMeter = (service: ServiceName, call: () => Promise<Call>) => meteredCall(gw, service, call);

function expectStreamed(mode: Mode, call: Call): void {
  if (mode === 'stream') expect(call.chunks).toBeGreaterThan(2);
}

/** OpenAI-style usage: cached reads inside the prompt, reasoning inside the completion. */
const OPENAI_CHARGED = { promptTokens: BILLED.prompt, completionTokens: BILLED.completion, cachedPromptReadTokens: BILLED.cachedRead, cachedPromptWriteTokens: 0, reasoningTokens: BILLED.reasoning };
const OPENAI_REPORTED = {
  input_tokens: BILLED.prompt,
  output_tokens: BILLED.completion,
  total_tokens: BILLED.prompt + BILLED.completion,
  input_token_details: { cache_read: BILLED.cachedRead },
  output_token_details: { reasoning: BILLED.reasoning },
};
/** Anthropic and Bedrock: cache reads and writes are billed input; no reasoning count. */
const CLAUDE_CHARGED = { promptTokens: BILLED.prompt, completionTokens: BILLED.completion, cachedPromptReadTokens: BILLED.cachedRead, cachedPromptWriteTokens: BILLED.cachedWrite, reasoningTokens: 0 };
const CLAUDE_REPORTED = {
  input_tokens: BILLED.prompt,
  output_tokens: BILLED.completion,
  total_tokens: BILLED.prompt + BILLED.completion,
  input_token_details: { cache_read: BILLED.cachedRead, cache_creation: BILLED.cachedWrite },
};

describe('OpenAI (ChatOpenAI)', () => {
  const chat = (fields: { model: string; useResponsesApi?: boolean }) =>
    new ChatOpenAI({ ...fields, apiKey: gw.services.openai.key, configuration: { baseURL: gw.services.openai.endpoint }, maxRetries: 0 });

  it.each(MODES)('%s on Chat Completions (the default)', async (mode) => {
    prepare(gw.fakes.openai);
    const { call, charged } = await callAndMeter('openai', () => run(mode, chat({ model: 'gpt-4o-mini' })));
    expect(call.text).toBe('Hello from the fake');
    expectStreamed(mode, call);
    expect(call.usage).toMatchObject(OPENAI_REPORTED);
    const upstream = compressedUpstreamOf(gw.fakes.openai, gw.services.openai.key);
    expect(upstream.path).toBe('/v1/chat/completions');
    expect(upstream.headers.authorization).toBe(`Bearer ${PROVIDER_SECRETS.openai}`);
    if (mode === 'stream') expect(upstream.json).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(charged).toMatchObject({ operation: 'chat_completions', requestModel: 'gpt-4o-mini', responseModel: 'gpt-4o-mini', requests: 1, errors4xx: 0, ...OPENAI_CHARGED });
  });

  it.each(MODES)('%s on the Responses API (useResponsesApi)', async (mode) => {
    prepare(gw.fakes.openai);
    const { call, charged } = await callAndMeter('openai', () => run(mode, chat({ model: 'gpt-5-mini', useResponsesApi: true })));
    expect(call.text).toBe('Hello from the fake');
    expectStreamed(mode, call);
    expect(call.usage).toMatchObject(OPENAI_REPORTED);
    const upstream = compressedUpstreamOf(gw.fakes.openai, gw.services.openai.key);
    expect(upstream.path).toBe('/v1/responses');
    expect(upstream.headers.authorization).toBe(`Bearer ${PROVIDER_SECRETS.openai}`);
    expect(charged).toMatchObject({ operation: 'responses', requestModel: 'gpt-5-mini', responseModel: 'gpt-5-mini', requests: 1, errors4xx: 0, ...OPENAI_CHARGED });
  });
});

describe('Azure OpenAI (AzureChatOpenAI)', () => {
  it.each(MODES)('%s on a deployment path of a custom endpoint, with the api-version the app chose', async (mode) => {
    prepare(gw.fakes.azure);
    const chat = new AzureChatOpenAI({
      azureOpenAIEndpoint: gw.services.azure.endpoint,
      azureOpenAIApiKey: gw.services.azure.key,
      azureOpenAIApiDeploymentName: 'gpt-4o',
      azureOpenAIApiVersion: '2024-10-21',
      maxRetries: 0,
    });
    const { call, charged } = await callAndMeter('azure', () => run(mode, chat));
    expect(call.text).toBe('Hello from the fake');
    expectStreamed(mode, call);
    expect(call.usage).toMatchObject(OPENAI_REPORTED);
    const upstream = compressedUpstreamOf(gw.fakes.azure, gw.services.azure.key);
    expect(upstream.url).toBe('/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21');
    expect(upstream.headers['api-key']).toBe(PROVIDER_SECRETS.azure);
    expect(charged).toMatchObject({ operation: 'chat_completions', requestModel: 'gpt-4o', requests: 1, errors4xx: 0, ...OPENAI_CHARGED });
  });
});

describe('Anthropic (ChatAnthropic)', () => {
  it.each(MODES)('%s on the Messages API', async (mode) => {
    prepare(gw.fakes.anthropic);
    const chat = new ChatAnthropic({ model: 'claude-sonnet-5-5', apiKey: gw.services.anthropic.key, anthropicApiUrl: gw.services.anthropic.endpoint, maxRetries: 0 });
    const { call, charged } = await callAndMeter('anthropic', () => run(mode, chat));
    expect(call.text).toBe('Hello from the fake');
    expectStreamed(mode, call);
    if (mode === 'invoke') expect(call.usage).toMatchObject(CLAUDE_REPORTED);
    // Streamed, LangChain JS adds message_start's provisional output_tokens (1, as Anthropic sends it)
    // to message_delta's, which is already the cumulative count: the app is told one token more than
    // Anthropic billed. Tokengate charges the billed count (below).
    else expect(call.usage).toMatchObject({ ...CLAUDE_REPORTED, output_tokens: BILLED.completion + 1, total_tokens: BILLED.prompt + BILLED.completion + 1 });
    const upstream = compressedUpstreamOf(gw.fakes.anthropic, gw.services.anthropic.key);
    expect(upstream.path).toBe('/v1/messages');
    expect(upstream.headers['x-api-key']).toBe(PROVIDER_SECRETS.anthropic);
    expect(upstream.headers.authorization).toBeUndefined();
    expect(upstream.headers['anthropic-version']).toBe('2023-06-01');
    expect(charged).toMatchObject({ operation: 'messages', requestModel: 'claude-sonnet-5-5', responseModel: 'claude-sonnet-5-5', requests: 1, errors4xx: 0, ...CLAUDE_CHARGED });
  });
});

describe('Mistral (ChatMistralAI)', () => {
  it.each(MODES)('%s on Chat Completions', async (mode) => {
    prepare(gw.fakes.mistral, { prompt: BILLED.prompt, completion: BILLED.completion });
    const { endpoint, key } = gw.services.mistral;
    const { call, charged } = await callAndMeter('mistral', async () => {
      const { error, text, usage, chunks } = await runLangChainMistral({ serverURL: endpoint, apiKey: key, model: 'mistral-small-latest', prompt: PROMPT, mode });
      expect(error).toBeUndefined();
      return { text: text ?? '', usage: usage as UsageMetadata | undefined, chunks: chunks ?? 0 };
    });
    expect(call.text).toBe('Hello from the fake');
    expectStreamed(mode, call);
    expect(call.usage).toMatchObject({ input_tokens: BILLED.prompt, output_tokens: BILLED.completion, total_tokens: BILLED.prompt + BILLED.completion });
    const upstream = compressedUpstreamOf(gw.fakes.mistral, key);
    expect(upstream.path).toBe('/v1/chat/completions');
    expect(upstream.headers.authorization).toBe(`Bearer ${PROVIDER_SECRETS.mistral}`);
    expect(charged).toMatchObject(MISTRAL_CHAT_CHARGED);
  });
});

describe('AWS Bedrock (ChatBedrockConverse)', () => {
  // The proxy is plain HTTP here and `endpointHost` always means https://, so the app passes the
  // Bedrock client it configured: the proxy as endpoint, its Tokengate key as a Bedrock API key.
  const chat = (service: 'bedrock' | 'bedrockApiKey') =>
    new ChatBedrockConverse({
      model: BEDROCK_MODEL,
      region: PROVIDER_SECRETS.awsRegion,
      client: new BedrockRuntimeClient({
        endpoint: gw.services[service].endpoint,
        region: PROVIDER_SECRETS.awsRegion,
        token: { token: gw.services[service].key },
        authSchemePreference: ['httpBearerAuth'],
        maxAttempts: 1,
      }),
    });

  it.each(MODES)('%s on Converse, re-signed with SigV4 for the upstream', async (mode) => {
    prepare(gw.fakes.bedrock);
    const model = chat('bedrock');
    const { call, charged } = await callAndMeter('bedrock', () => run(mode, model));
    model.client.destroy();
    expect(call.text).toBe('Hello from the fake');
    expectStreamed(mode, call);
    expect(call.usage).toMatchObject(CLAUDE_REPORTED);
    const upstream = upstreamOf(gw.fakes.bedrock, gw.services.bedrock.key);
    expect(upstream.path).toBe(`/model/anthropic.claude-3-haiku-20240307-v1%3A0/${mode === 'stream' ? 'converse-stream' : 'converse'}`);
    expect(upstream.headers.authorization).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${PROVIDER_SECRETS.aws.accessKeyId}/\\d{8}/us-east-1/bedrock/aws4_request`));
    expect(upstream.headers['x-amz-security-token']).toBe(PROVIDER_SECRETS.aws.sessionToken);
    expect(await verifySigV4(upstream, PROVIDER_SECRETS.aws, PROVIDER_SECRETS.awsRegion)).toBe(true);
    expect(charged).toMatchObject({ operation: mode === 'stream' ? 'converse_stream' : 'converse', requestModel: BEDROCK_MODEL, requests: 1, errors4xx: 0, ...CLAUDE_CHARGED });
  });

  it.each(MODES)('%s on Converse with the service’s Bedrock API key', async (mode) => {
    prepare(gw.fakes.bedrock);
    const model = chat('bedrockApiKey');
    const { call, charged } = await callAndMeter('bedrockApiKey', () => run(mode, model));
    model.client.destroy();
    expect(call.text).toBe('Hello from the fake');
    expect(call.usage).toMatchObject(CLAUDE_REPORTED);
    const upstream = upstreamOf(gw.fakes.bedrock, gw.services.bedrockApiKey.key);
    expect(upstream.headers.authorization).toBe(`Bearer ${PROVIDER_SECRETS.bedrockApiKey}`);
    expect(charged).toMatchObject({ operation: mode === 'stream' ? 'converse_stream' : 'converse', requestModel: BEDROCK_MODEL, requests: 1, errors4xx: 0, ...CLAUDE_CHARGED });
  });
});
