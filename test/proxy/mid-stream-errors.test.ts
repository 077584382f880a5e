// Streams the provider ends with an error after answering 200: Anthropic's `event: error`
// (overloaded_error where a request would get a 529) and Bedrock's `:message-type: exception` frame
// (throttlingException), and streams the provider cuts (the connection broken before `[DONE]`). The
// SDK raises the provider's error through the proxy, and the request is charged what the provider
// reported before the error (Anthropic's message_start) or the proxy's count, with the partial
// completion counted: never the usage of a whole answer, never nothing. It is recorded (usage errors,
// the /metrics status label) as the failure it was, not as the 200 its headers said (ADR 021).
import Anthropic, { APIError } from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { BedrockRuntimeClient, ConverseStreamCommand, InvokeModelWithResponseStreamCommand, ThrottlingException } from '@aws-sdk/client-bedrock-runtime';
import { type Gateway, PROVIDER_SECRETS, startGateway } from '../support/gateway-harness';
import { BEDROCK_MODEL, BILLED, PROMPT, prepare } from '../support/framework-calls';
import { countedStatus } from '../support/metrics';
import { type UsageRow, meteredCall } from '../support/usage-report';

let gw: Gateway;

beforeAll(async () => {
  gw = await startGateway({ rateLimiting: { usageReportIntervalMs: 100 } });
});
afterAll(async () => {
  await gw?.stop();
});

/** Long enough that the part streamed before the error is a few tokens, far from the whole answer's. */
const CONTENT = 'The quarterly report shows revenue up eleven percent, costs flat, and a strong pipeline for next year.';

/** The text a stream delivered before it threw, and what it threw (null: it ended without an error). */
async function readUntilError<T>(events: () => Promise<AsyncIterable<T> | undefined>, textOf: (event: T) => string): Promise<{ text: string; error: unknown }> {
  let text = '';
  try {
    for await (const event of (await events()) ?? []) text += textOf(event);
    return { text, error: null };
  } catch (error) {
    return { text, error };
  }
}

const bedrockClient = () =>
  new BedrockRuntimeClient({ endpoint: gw.services.bedrock.endpoint, region: PROVIDER_SECRETS.awsRegion, token: { token: gw.services.bedrock.key }, authSchemePreference: ['httpBearerAuth'], maxAttempts: 1 });

/** Makes the fake Bedrock end its next stream with an exception frame (throttlingException unless named) after `frames` frames. */
function throttleAfter(frames: number, exception?: string): void {
  prepare(gw.fakes.bedrock);
  gw.fakes.bedrock.behaviour.content = CONTENT;
  gw.fakes.bedrock.behaviour.streamErrorAfterChunks = frames;
  if (exception !== undefined) gw.fakes.bedrock.behaviour.errorType = exception;
}

/** One ConverseStream call through the SDK, read until it ends or throws. */
async function converseStreamUntilError(): Promise<{ text: string; error: unknown }> {
  const client = bedrockClient();
  try {
    return await readUntilError(
      async () => (await client.send(new ConverseStreamCommand({ modelId: BEDROCK_MODEL, messages: [{ role: 'user', content: [{ text: PROMPT }] }] }))).stream,
      (event) => event.contentBlockDelta?.delta?.text ?? '',
    );
  } finally {
    client.destroy();
  }
}

/**
 * Runs one call to the service: what it answered, what Tokengate charged for it (meteredCall) and the
 * status label /metrics counted it under.
 */
async function recordedCall<T>(service: 'anthropic' | 'bedrock' | 'openai', call: () => Promise<T>): Promise<{ call: T; charged: UsageRow; status: string }> {
  let metered: { call: T; charged: UsageRow } | undefined;
  const status = await countedStatus(gw, gw.services[service].id, async () => {
    metered = await meteredCall(gw, service, call);
  });
  return { ...metered!, status };
}

it('Anthropic: an overloaded_error event mid-stream reaches the SDK; the prompt is charged as message_start reported it, with its cache parts', async () => {
  prepare(gw.fakes.anthropic);
  gw.fakes.anthropic.behaviour.content = CONTENT;
  gw.fakes.anthropic.behaviour.streamErrorAfterChunks = 5; // message_start, content_block_start, ping, two deltas
  const client = new Anthropic({ baseURL: gw.services.anthropic.endpoint, apiKey: gw.services.anthropic.key, maxRetries: 0 });
  const { call, charged, status } = await recordedCall('anthropic', () =>
    readUntilError(
      async () => client.messages.stream({ model: 'claude-sonnet-5-5', max_tokens: 1000, messages: [{ role: 'user', content: PROMPT }] }),
      (event) => (event.type === 'content_block_delta' && event.delta.type === 'text_delta' ? event.delta.text : ''),
    ));
  expect(call.error).toBeInstanceOf(APIError);
  expect(call.error).toMatchObject({ error: { type: 'error', error: { type: 'overloaded_error' } } });
  expect(call.text).toBe('The quarterly');
  expect(charged).toMatchObject({ operation: 'messages', requests: 1, promptTokens: BILLED.prompt, cachedPromptReadTokens: BILLED.cachedRead, cachedPromptWriteTokens: BILLED.cachedWrite });
  expect(charged.completionTokens).toBeGreaterThan(0);
  expect(charged.completionTokens).toBeLessThan(10);
  // Recorded as the 529 Anthropic answers overloaded_error with, not as the 200 the stream opened with.
  expect(status).toBe('529');
  expect(charged).toMatchObject({ errors4xx: 0, errors5xx: 1 });
});

it('Bedrock: a throttlingException frame mid-ConverseStream reaches the SDK as ThrottlingException; the partial completion is counted', async () => {
  throttleAfter(3); // messageStart, two contentBlockDelta
  const { call, charged, status } = await recordedCall('bedrock', converseStreamUntilError);
  expect(call.error).toBeInstanceOf(ThrottlingException);
  expect(call.text).toBe('The quarterly');
  expect(charged).toMatchObject({ operation: 'converse_stream', requests: 1 });
  expect(charged.promptTokens).toBeGreaterThan(0);
  expect(charged.promptTokens).toBeLessThan(BILLED.prompt);
  expect(charged.completionTokens).toBeGreaterThan(0);
  expect(charged.completionTokens).toBeLessThan(10);
  // Recorded as the 429 Bedrock answers ThrottlingException with.
  expect(status).toBe('429');
  expect(charged).toMatchObject({ errors4xx: 1, errors5xx: 0 });
});

it('Bedrock InvokeModelWithResponseStream (Claude): an exception before the metrics chunk is charged the prompt message_start reported, with its cache parts', async () => {
  throttleAfter(4); // message_start, content_block_start, two deltas
  const client = bedrockClient();
  const body = JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 1000, messages: [{ role: 'user', content: PROMPT }] });
  const { call, charged, status } = await recordedCall('bedrock', () =>
    readUntilError(
      async () => (await client.send(new InvokeModelWithResponseStreamCommand({ modelId: BEDROCK_MODEL, body, contentType: 'application/json', accept: 'application/json' }))).body,
      (event) => (JSON.parse(Buffer.from(event.chunk?.bytes ?? new Uint8Array()).toString()) as { delta?: { text?: string } }).delta?.text ?? '',
    ));
  client.destroy();
  expect(call.error).toBeInstanceOf(ThrottlingException);
  expect(call.text).toBe('The quarterly');
  expect(charged).toMatchObject({ operation: 'invoke_stream', requests: 1, promptTokens: BILLED.prompt, cachedPromptReadTokens: BILLED.cachedRead, cachedPromptWriteTokens: BILLED.cachedWrite });
  expect(charged.completionTokens).toBeGreaterThan(0);
  expect(charged.completionTokens).toBeLessThan(10);
  expect(status).toBe('429');
  expect(charged).toMatchObject({ errors4xx: 1, errors5xx: 0 });
});

it('Bedrock: a modelStreamErrorException frame is recorded as the 424 Bedrock answers it with', async () => {
  throttleAfter(3, 'modelStreamErrorException');
  const { call, charged, status } = await recordedCall('bedrock', converseStreamUntilError);
  expect(call.error).toMatchObject({ name: 'ModelStreamErrorException' });
  expect(status).toBe('424');
  expect(charged).toMatchObject({ operation: 'converse_stream', requests: 1, errors4xx: 1, errors5xx: 0 });
  expect(charged.completionTokens).toBeGreaterThan(0);
});

it('OpenAI: a stream the provider cuts before [DONE] reaches the SDK as an error, is charged its partial completion and recorded as 502', async () => {
  prepare(gw.fakes.openai);
  gw.fakes.openai.behaviour.content = CONTENT;
  gw.fakes.openai.behaviour.cutStreamAfterChunks = 3; // the role chunk, two content chunks
  const client = new OpenAI({ baseURL: gw.services.openai.endpoint, apiKey: gw.services.openai.key, maxRetries: 0 });
  const { call, charged, status } = await recordedCall('openai', () =>
    readUntilError(
      async () => client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: PROMPT }], stream: true }),
      (chunk) => chunk.choices[0]?.delta?.content ?? '',
    ));
  expect(call.error).not.toBeNull();
  expect(call.text).toBe('The quarterly');
  // The usage chunk never came: the prompt and the partial completion are counted by the proxy.
  expect(charged).toMatchObject({ operation: 'chat_completions', requests: 1, errors4xx: 0, errors5xx: 1 });
  expect(charged.promptTokens).toBeGreaterThan(0);
  expect(charged.completionTokens).toBeGreaterThan(0);
  expect(charged.completionTokens).toBeLessThan(10);
  expect(status).toBe('502');
});

it.each([
  [undefined, '500', { errors4xx: 0, errors5xx: 1 }],
  ['rate_limit_exceeded', '429', { errors4xx: 1, errors5xx: 0 }],
])('OpenAI: an error chunk (code %s) mid-stream reaches the SDK as APIError and is recorded as %s', async (code, expectedStatus, errors) => {
  prepare(gw.fakes.openai);
  gw.fakes.openai.behaviour.content = CONTENT;
  gw.fakes.openai.behaviour.streamErrorAfterChunks = 3; // the role chunk, two content chunks
  if (code !== undefined) gw.fakes.openai.behaviour.errorType = code;
  const client = new OpenAI({ baseURL: gw.services.openai.endpoint, apiKey: gw.services.openai.key, maxRetries: 0 });
  const { call, charged, status } = await recordedCall('openai', () =>
    readUntilError(
      async () => client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: PROMPT }], stream: true }),
      (chunk) => chunk.choices[0]?.delta?.content ?? '',
    ));
  expect(call.error).toBeInstanceOf(OpenAI.APIError);
  expect(call.text).toBe('The quarterly');
  expect(status).toBe(expectedStatus);
  expect(charged).toMatchObject({ operation: 'chat_completions', requests: 1, ...errors });
  expect(charged.completionTokens).toBeGreaterThan(0);
  expect(charged.completionTokens).toBeLessThan(10);
});
