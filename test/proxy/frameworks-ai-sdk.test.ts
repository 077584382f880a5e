// The Vercel AI SDK (v6) through the proxy, each provider package unchanged but for its base URL and
// key: generateText and streamText get the provider's text, the SDK reports the provider's usage,
// the provider sees its own credential (never the consumer key), and Tokengate charges exactly what
// the provider reported. The fakes answer compressed, as the real APIs answer fetch, and report
// cache and reasoning tokens.
import { createAmazonBedrock } from '@ai-sdk/amazon-bedrock';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createAzure } from '@ai-sdk/azure';
import { createMistral } from '@ai-sdk/mistral';
import { createOpenAI } from '@ai-sdk/openai';
import { type LanguageModel, type LanguageModelUsage, generateText, streamText } from 'ai';
import { verifySigV4 } from '../fakes';
import { type Gateway, PROVIDER_SECRETS, type ServiceName, startGateway } from '../support/gateway-harness';
import { BEDROCK_MODEL, BILLED, MISTRAL_CHAT_CHARGED, PROMPT, compressedUpstreamOf, prepare } from '../support/framework-calls';
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
  usage: LanguageModelUsage;
}

async function generate(model: LanguageModel): Promise<Call> {
  const result = await generateText({ model, prompt: PROMPT, maxRetries: 0 });
  return { text: result.text, usage: result.usage };
}

async function stream(model: LanguageModel): Promise<Call> {
  const errors: unknown[] = [];
  const result = streamText({ model, prompt: PROMPT, maxRetries: 0, onError: ({ error }) => void errors.push(error) });
  let text = '';
  for await (const delta of result.textStream) text += delta;
  const usage = await result.usage;
  expect(errors).toEqual([]);
  return { text, usage };
}

type Mode = 'generateText' | 'streamText';
const run = (mode: Mode, model: LanguageModel) => (mode === 'generateText' ? generate(model) : stream(model));

/** Runs the call through the proxy; returns what the app got and what Tokengate charged for it. */
const callAndMeter = (service: ServiceName, mode: Mode, model: LanguageModel) => meteredCall(gw, service, () => run(mode, model));

/** OpenAI-style usage: cached reads inside the prompt, reasoning inside the completion. */
const OPENAI_CHARGED = { promptTokens: BILLED.prompt, completionTokens: BILLED.completion, cachedPromptReadTokens: BILLED.cachedRead, cachedPromptWriteTokens: 0, reasoningTokens: BILLED.reasoning };
const OPENAI_REPORTED: LanguageModelUsage = {
  inputTokens: BILLED.prompt,
  inputTokenDetails: { noCacheTokens: BILLED.prompt - BILLED.cachedRead, cacheReadTokens: BILLED.cachedRead, cacheWriteTokens: undefined },
  outputTokens: BILLED.completion,
  outputTokenDetails: { textTokens: BILLED.completion - BILLED.reasoning, reasoningTokens: BILLED.reasoning },
  totalTokens: BILLED.prompt + BILLED.completion,
};
/** Anthropic and Bedrock: cache reads and writes are billed input; no reasoning count. */
const CLAUDE_CHARGED = { promptTokens: BILLED.prompt, completionTokens: BILLED.completion, cachedPromptReadTokens: BILLED.cachedRead, cachedPromptWriteTokens: BILLED.cachedWrite, reasoningTokens: 0 };
/** What the SDK's Bedrock provider makes of Converse usage (all output counted as text). */
const BEDROCK_REPORTED: LanguageModelUsage = {
  inputTokens: BILLED.prompt,
  inputTokenDetails: { noCacheTokens: BILLED.prompt - BILLED.cachedRead - BILLED.cachedWrite, cacheReadTokens: BILLED.cachedRead, cacheWriteTokens: BILLED.cachedWrite },
  outputTokens: BILLED.completion,
  outputTokenDetails: { textTokens: BILLED.completion, reasoningTokens: undefined },
  totalTokens: BILLED.prompt + BILLED.completion,
};
/** Its Anthropic provider does not split the output (Anthropic reports no thinking count). */
const ANTHROPIC_REPORTED: LanguageModelUsage = { ...BEDROCK_REPORTED, outputTokenDetails: { textTokens: undefined, reasoningTokens: undefined } };

const MODES: Mode[] = ['generateText', 'streamText'];

describe('OpenAI (@ai-sdk/openai)', () => {
  const provider = () => createOpenAI({ baseURL: gw.services.openai.endpoint, apiKey: gw.services.openai.key });

  it.each(MODES)('%s on the Responses API (the default)', async (mode) => {
    prepare(gw.fakes.openai);
    const { call, charged } = await callAndMeter('openai', mode, provider()('gpt-5-mini'));
    expect(call.text).toBe('Hello from the fake');
    expect(call.usage).toMatchObject(OPENAI_REPORTED);
    const upstream = compressedUpstreamOf(gw.fakes.openai, gw.services.openai.key);
    expect(upstream.path).toBe('/v1/responses');
    expect(upstream.headers.authorization).toBe(`Bearer ${PROVIDER_SECRETS.openai}`);
    expect(upstream.json).toMatchObject({ model: 'gpt-5-mini', ...(mode === 'streamText' ? { stream: true } : {}) });
    expect(charged).toMatchObject({ operation: 'responses', requestModel: 'gpt-5-mini', responseModel: 'gpt-5-mini', requests: 1, errors4xx: 0, ...OPENAI_CHARGED });
  });

  it.each(MODES)('%s on Chat Completions (.chat)', async (mode) => {
    prepare(gw.fakes.openai);
    const { call, charged } = await callAndMeter('openai', mode, provider().chat('gpt-4o-mini'));
    expect(call.text).toBe('Hello from the fake');
    expect(call.usage).toMatchObject(OPENAI_REPORTED);
    const upstream = compressedUpstreamOf(gw.fakes.openai, gw.services.openai.key);
    expect(upstream.path).toBe('/v1/chat/completions');
    expect(upstream.headers.authorization).toBe(`Bearer ${PROVIDER_SECRETS.openai}`);
    if (mode === 'streamText') expect(upstream.json).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(charged).toMatchObject({ operation: 'chat_completions', requestModel: 'gpt-4o-mini', responseModel: 'gpt-4o-mini', requests: 1, errors4xx: 0, ...OPENAI_CHARGED });
  });
});

describe('Azure OpenAI (@ai-sdk/azure)', () => {
  // A base URL that is not *.openai.azure.com is used as given: the v1 API's base URL, no api-version.
  const provider = () => createAzure({ baseURL: `${gw.services.azure.endpoint}/openai/v1`, apiKey: gw.services.azure.key });

  it.each(MODES)('%s on the Responses API (the default)', async (mode) => {
    prepare(gw.fakes.azure);
    const { call, charged } = await callAndMeter('azure', mode, provider()('gpt-5-mini'));
    expect(call.text).toBe('Hello from the fake');
    expect(call.usage).toMatchObject(OPENAI_REPORTED);
    const upstream = compressedUpstreamOf(gw.fakes.azure, gw.services.azure.key);
    expect(upstream.url).toBe('/openai/v1/responses');
    expect(upstream.headers['api-key']).toBe(PROVIDER_SECRETS.azure);
    expect(charged).toMatchObject({ operation: 'responses', requestModel: 'gpt-5-mini', requests: 1, errors4xx: 0, ...OPENAI_CHARGED });
  });

  it.each(MODES)('%s on Chat Completions (.chat)', async (mode) => {
    prepare(gw.fakes.azure);
    const { call, charged } = await callAndMeter('azure', mode, provider().chat('gpt-4o'));
    expect(call.text).toBe('Hello from the fake');
    expect(call.usage).toMatchObject(OPENAI_REPORTED);
    const upstream = compressedUpstreamOf(gw.fakes.azure, gw.services.azure.key);
    expect(upstream.url).toBe('/openai/v1/chat/completions');
    expect(upstream.headers['api-key']).toBe(PROVIDER_SECRETS.azure);
    expect(charged).toMatchObject({ operation: 'chat_completions', requestModel: 'gpt-4o', requests: 1, errors4xx: 0, ...OPENAI_CHARGED });
  });

  it.each(MODES)('%s on deployment paths (useDeploymentBasedUrls) with the api-version the app chose', async (mode) => {
    prepare(gw.fakes.azure);
    const deployments = createAzure({ baseURL: `${gw.services.azure.endpoint}/openai`, apiKey: gw.services.azure.key, useDeploymentBasedUrls: true, apiVersion: '2024-10-21' });
    const { call, charged } = await callAndMeter('azure', mode, deployments.chat('gpt-4o'));
    expect(call.text).toBe('Hello from the fake');
    expect(call.usage).toMatchObject(OPENAI_REPORTED);
    const upstream = compressedUpstreamOf(gw.fakes.azure, gw.services.azure.key);
    expect(upstream.url).toBe('/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21');
    expect(upstream.headers['api-key']).toBe(PROVIDER_SECRETS.azure);
    expect(charged).toMatchObject({ operation: 'chat_completions', requestModel: 'gpt-4o', requests: 1, errors4xx: 0, ...OPENAI_CHARGED });
  });
});

describe('Anthropic (@ai-sdk/anthropic)', () => {
  const provider = () => createAnthropic({ baseURL: `${gw.services.anthropic.endpoint}/v1`, apiKey: gw.services.anthropic.key });

  it.each(MODES)('%s on the Messages API', async (mode) => {
    prepare(gw.fakes.anthropic);
    const { call, charged } = await callAndMeter('anthropic', mode, provider()('claude-sonnet-5-5'));
    expect(call.text).toBe('Hello from the fake');
    expect(call.usage).toMatchObject(ANTHROPIC_REPORTED);
    const upstream = compressedUpstreamOf(gw.fakes.anthropic, gw.services.anthropic.key);
    expect(upstream.path).toBe('/v1/messages');
    expect(upstream.headers['x-api-key']).toBe(PROVIDER_SECRETS.anthropic);
    expect(upstream.headers.authorization).toBeUndefined();
    expect(upstream.headers['anthropic-version']).toBe('2023-06-01');
    expect(charged).toMatchObject({ operation: 'messages', requestModel: 'claude-sonnet-5-5', responseModel: 'claude-sonnet-5-5', requests: 1, errors4xx: 0, ...CLAUDE_CHARGED });
  });
});

describe('Mistral (@ai-sdk/mistral)', () => {
  const provider = () => createMistral({ baseURL: `${gw.services.mistral.endpoint}/v1`, apiKey: gw.services.mistral.key });
  const MISTRAL_BILLED = { prompt: BILLED.prompt, completion: BILLED.completion };

  it.each(MODES)('%s on Chat Completions', async (mode) => {
    prepare(gw.fakes.mistral, MISTRAL_BILLED);
    const { call, charged } = await callAndMeter('mistral', mode, provider()('mistral-small-latest'));
    expect(call.text).toBe('Hello from the fake');
    expect(call.usage).toMatchObject({ inputTokens: BILLED.prompt, outputTokens: BILLED.completion, totalTokens: BILLED.prompt + BILLED.completion });
    const upstream = compressedUpstreamOf(gw.fakes.mistral, gw.services.mistral.key);
    expect(upstream.path).toBe('/v1/chat/completions');
    expect(upstream.headers.authorization).toBe(`Bearer ${PROVIDER_SECRETS.mistral}`);
    expect(charged).toMatchObject(MISTRAL_CHAT_CHARGED);
  });
});

describe('AWS Bedrock (@ai-sdk/amazon-bedrock)', () => {
  // The app's Tokengate key goes out as a Bedrock API key (Bearer); the proxy signs with SigV4.
  const provider = (service: 'bedrock' | 'bedrockApiKey') =>
    createAmazonBedrock({ baseURL: gw.services[service].endpoint, region: PROVIDER_SECRETS.awsRegion, apiKey: gw.services[service].key });

  it.each(MODES)('%s on Converse, re-signed with SigV4 for the upstream', async (mode) => {
    prepare(gw.fakes.bedrock);
    const { call, charged } = await callAndMeter('bedrock', mode, provider('bedrock')(BEDROCK_MODEL));
    expect(call.text).toBe('Hello from the fake');
    expect(call.usage).toMatchObject(BEDROCK_REPORTED);
    const upstream = compressedUpstreamOf(gw.fakes.bedrock, gw.services.bedrock.key);
    expect(upstream.path).toBe(`/model/anthropic.claude-3-haiku-20240307-v1%3A0/${mode === 'streamText' ? 'converse-stream' : 'converse'}`);
    expect(upstream.headers.authorization).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${PROVIDER_SECRETS.aws.accessKeyId}/\\d{8}/us-east-1/bedrock/aws4_request`));
    expect(upstream.headers['x-amz-security-token']).toBe(PROVIDER_SECRETS.aws.sessionToken);
    expect(await verifySigV4(upstream, PROVIDER_SECRETS.aws, PROVIDER_SECRETS.awsRegion)).toBe(true);
    expect(charged).toMatchObject({ operation: mode === 'streamText' ? 'converse_stream' : 'converse', requestModel: BEDROCK_MODEL, requests: 1, errors4xx: 0, ...CLAUDE_CHARGED });
  });

  it.each(MODES)('%s on Converse with the service’s Bedrock API key', async (mode) => {
    prepare(gw.fakes.bedrock);
    const { call, charged } = await callAndMeter('bedrockApiKey', mode, provider('bedrockApiKey')(BEDROCK_MODEL));
    expect(call.text).toBe('Hello from the fake');
    expect(call.usage).toMatchObject(BEDROCK_REPORTED);
    const upstream = compressedUpstreamOf(gw.fakes.bedrock, gw.services.bedrockApiKey.key);
    expect(upstream.headers.authorization).toBe(`Bearer ${PROVIDER_SECRETS.bedrockApiKey}`);
    expect(charged).toMatchObject({ operation: mode === 'streamText' ? 'converse_stream' : 'converse', requestModel: BEDROCK_MODEL, requests: 1, errors4xx: 0, ...CLAUDE_CHARGED });
  });
});
