// Fake AWS Bedrock Runtime upstream: POST /model/{modelId}/converse (JSON),
// /model/{modelId}/converse-stream (application/vnd.amazon.eventstream binary frames),
// /model/{modelId}/invoke (an Anthropic model's native JSON, token counts in headers) and
// /model/{modelId}/invoke-with-response-stream (an Anthropic model's native events, each one base64 in
// the `bytes` of a `chunk` event; the last one carries `amazon-bedrock-invocationMetrics`). InvokeModel of
// an embedding model (Titan Text Embeddings, Cohere Embed) answers that model's native body with only the
// input token count in headers; /model/{modelId}/count-tokens (CountTokens) and
// /guardrail/{id}/version/{version}/apply (ApplyGuardrail) answer as the Bedrock Runtime API reference shows.
import { randomUUID } from 'node:crypto';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import converseExample from '../fixtures/providers/bedrock/converse.json';
import errorExamples from '../fixtures/providers/bedrock/errors.json';
import { anthropicMessage, anthropicMessageUsage } from './anthropic';
import {
  type FakeBehaviour,
  type FakeExchange,
  type FakeServer,
  type ProviderError,
  type RecordedRequest,
  randomId,
  sendJson,
  sendStream,
  splitWords,
  startFake,
} from './recorder';
import { type AwsCredentials, verifySigV4 } from './sigv4';
import { type FunctionCall, argumentPieces, pendingToolCall } from './tool-calls';

export interface FakeBedrockOptions {
  /** When set, requests must carry a valid SigV4 signature by these credentials (else 403 like AWS). */
  verify?: { credentials: AwsCredentials; region: string };
  /** When set, a Bedrock API key (`Authorization: Bearer`) equal to this is accepted as well. */
  apiKey?: string;
}

export function startFakeBedrock(options: FakeBedrockOptions = {}): Promise<FakeServer> {
  return startFake((exchange) => handleBedrock(exchange, options), { errorFor: bedrockError });
}

const ROUTE = /^\/model\/([^/]+)\/(converse|converse-stream|invoke|invoke-with-response-stream|count-tokens)$/;
const GUARDRAIL_ROUTE = /^\/guardrail\/([^/]+)\/version\/([^/]+)\/apply$/;
const codec = new EventStreamCodec(toUtf8, fromUtf8);

async function handleBedrock(exchange: FakeExchange, options: FakeBedrockOptions): Promise<void> {
  const { req, res, behaviour } = exchange;
  const requestId = randomUUID();
  const refusal = await authenticate(req, options);
  if (refusal) {
    sendBedrockError(exchange, 403, refusal, requestId);
    return;
  }
  if (req.method === 'POST' && GUARDRAIL_ROUTE.test(req.path)) {
    sendJson(res, 200, bedrockApplyGuardrail(req.json), { 'x-amzn-requestid': requestId });
    return;
  }
  const route = req.method === 'POST' ? ROUTE.exec(req.path) : null;
  if (!route) {
    // API Gateway-style answer for an unknown route.
    sendJson(res, 404, { message: 'Not Found' }, { 'x-amzn-requestid': requestId, 'x-amzn-errortype': 'UnknownOperationException' });
    return;
  }
  if (route[2] === 'converse') {
    sendJson(res, 200, bedrockConverse(behaviour, pendingToolCall(behaviour, req.json, 'converse')), { 'x-amzn-requestid': requestId });
    return;
  }
  if (route[2] === 'count-tokens') {
    // CountTokens: `{"inputTokens": n}`, what InvokeModel/Converse would bill as input for that body.
    sendJson(res, 200, { inputTokens: behaviour.usage.prompt }, { 'x-amzn-requestid': requestId });
    return;
  }
  const embedding = route[2] === 'invoke' ? bedrockEmbeddingResponse(decodeURIComponent(route[1]), req.json, behaviour) : null;
  if (embedding !== null) {
    sendJson(res, 200, embedding, { 'x-amzn-requestid': requestId, ...bedrockEmbeddingHeaders(behaviour) });
    return;
  }
  if (route[2] === 'invoke') {
    const model = anthropicModelName(decodeURIComponent(route[1]));
    sendJson(res, 200, { ...anthropicMessage(behaviour, model, pendingToolCall(behaviour, req.json, 'anthropic')), id: `msg_bdrk_${randomId(24)}` }, { 'x-amzn-requestid': requestId, ...bedrockInvokeHeaders(behaviour) });
    return;
  }
  if (route[2] === 'invoke-with-response-stream') {
    const chunks = bedrockInvokeStream(behaviour, anthropicModelName(decodeURIComponent(route[1])));
    const cut = behaviour.streamErrorAfterChunks;
    await sendStream(exchange, cut === undefined ? chunks : [...chunks.slice(0, cut), bedrockStreamException(behaviour)], {
      'content-type': 'application/vnd.amazon.eventstream',
      'x-amzn-requestid': requestId,
      'x-amzn-bedrock-content-type': 'application/json',
    });
    return;
  }
  const events = bedrockConverseStream(behaviour, pendingToolCall(behaviour, req.json, 'converse'));
  const cut = behaviour.streamErrorAfterChunks;
  await sendStream(exchange, cut === undefined ? events : [...events.slice(0, cut), bedrockStreamException(behaviour)], {
    'content-type': 'application/vnd.amazon.eventstream',
    'x-amzn-requestid': requestId,
  });
}

async function authenticate(req: RecordedRequest, options: FakeBedrockOptions): Promise<{ type: string; message: string } | undefined> {
  if (!options.verify && options.apiKey === undefined) return undefined;
  const authorization = req.headers.authorization ?? '';
  if (options.apiKey !== undefined && authorization === `Bearer ${options.apiKey}`) return undefined;
  if (options.verify && authorization.startsWith('AWS4-HMAC-SHA256 ')) {
    if (await verifySigV4(req, options.verify.credentials, options.verify.region)) return undefined;
    return {
      type: 'InvalidSignatureException',
      message:
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    };
  }
  return { type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' };
}

/** Bedrock's error: JSON `{"message"}` with the type in `x-amzn-errortype` (`behaviour.errorType` overrides). */
export function bedrockError(status: number, behaviour: FakeBehaviour): ProviderError {
  const example = (errorExamples as Record<string, { type: string; message: string } | undefined>)[String(status)] ?? {
    type: status >= 500 ? 'InternalServerException' : 'ValidationException',
    message: `Fake upstream error ${status}`,
  };
  return {
    body: { message: example.message },
    headers: { 'x-amzn-errortype': errorTypeHeader(behaviour.errorType ?? example.type), 'x-amzn-requestid': randomUUID() },
  };
}

function sendBedrockError(exchange: FakeExchange, status: number, error: { type: string; message: string }, requestId: string): void {
  sendJson(exchange.res, status, { message: error.message }, { 'x-amzn-errortype': errorTypeHeader(error.type), 'x-amzn-requestid': requestId });
}

/** As AWS sends it: `ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/`. */
function errorTypeHeader(type: string): string {
  return `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`;
}

/** A Converse answer; when the model calls a tool, its message holds the `toolUse` block and it stops for `tool_use`. */
export function bedrockConverse(behaviour: FakeBehaviour, call: FunctionCall | null = null): typeof converseExample & { usage: BedrockTokenUsage } {
  const content = call === null ? { text: behaviour.content } : { toolUse: { toolUseId: call.callId, name: call.name, input: JSON.parse(call.arguments) as object } };
  return {
    ...converseExample,
    output: { message: { role: 'assistant', content: [content as { text: string }] } },
    ...(call === null ? {} : { stopReason: 'tool_use' }),
    usage: bedrockUsage(behaviour),
  };
}

/** Bedrock's TokenUsage; the cache counts are left out when 0, as AWS leaves them out. */
export interface BedrockTokenUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
}

/**
 * `inputTokens` is only the uncached part of the prompt (never below 0); `totalTokens` adds
 * input, cache reads, cache writes and output, so it equals prompt + completion.
 */
export function bedrockUsage(behaviour: FakeBehaviour): BedrockTokenUsage {
  const { prompt, completion, cachedRead = 0, cachedWrite = 0 } = behaviour.usage;
  const inputTokens = Math.max(0, prompt - cachedRead - cachedWrite);
  return {
    inputTokens,
    outputTokens: completion,
    totalTokens: inputTokens + cachedRead + cachedWrite + completion,
    ...(cachedRead > 0 ? { cacheReadInputTokens: cachedRead } : {}),
    ...(cachedWrite > 0 ? { cacheWriteInputTokens: cachedWrite } : {}),
  };
}

/** `anthropic.claude-3-haiku-20240307-v1:0` (or `us.anthropic....`) → `claude-3-haiku-20240307`, as InvokeModel reports it. */
function anthropicModelName(modelId: string): string {
  return modelId.replace(/^(?:[a-z]{2}\.)?anthropic\./, '').replace(/-v\d+(?::\d+)?$/, '');
}

/**
 * InvokeModel's token counts, in response headers: the input count is the uncached part of the
 * prompt (as Converse's inputTokens); the cache counts only when not 0.
 */
export function bedrockInvokeHeaders(behaviour: FakeBehaviour): Record<string, string> {
  const usage = bedrockUsage(behaviour);
  return {
    'x-amzn-bedrock-invocation-latency': String(converseExample.metrics.latencyMs),
    'x-amzn-bedrock-input-token-count': String(usage.inputTokens),
    'x-amzn-bedrock-output-token-count': String(usage.outputTokens),
    ...(usage.cacheReadInputTokens === undefined ? {} : { 'x-amzn-bedrock-cache-read-input-token-count': String(usage.cacheReadInputTokens) }),
    ...(usage.cacheWriteInputTokens === undefined ? {} : { 'x-amzn-bedrock-cache-write-input-token-count': String(usage.cacheWriteInputTokens) }),
  };
}

/**
 * Event-stream messages: messageStart, one contentBlockDelta per word, contentBlockStop,
 * messageStop, metadata (usage and metrics). Payloads carry Bedrock's random `p` padding field. A
 * tool call opens its block with contentBlockStart (the toolUse's id and name), then sends its input
 * JSON in pieces, and stops for `tool_use`.
 */
export function bedrockConverseStream(behaviour: FakeBehaviour, call: FunctionCall | null = null): Uint8Array[] {
  return [
    bedrockEvent('messageStart', { role: 'assistant' }),
    ...(call === null
      ? splitWords(behaviour.content).map((text) => bedrockEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text } }))
      : [
          bedrockEvent('contentBlockStart', { contentBlockIndex: 0, start: { toolUse: { toolUseId: call.callId, name: call.name } } }),
          ...argumentPieces(call.arguments, 4).map((input) => bedrockEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { toolUse: { input } } })),
        ]),
    bedrockEvent('contentBlockStop', { contentBlockIndex: 0 }),
    bedrockEvent('messageStop', { stopReason: call === null ? 'end_turn' : 'tool_use' }),
    bedrockEvent('metadata', { usage: bedrockUsage(behaviour), metrics: { latencyMs: converseExample.metrics.latencyMs } }),
  ];
}

/**
 * InvokeModelWithResponseStream for an Anthropic model: Anthropic's Messages stream events (no ping),
 * each JSON-encoded, base64 in the `bytes` of a `chunk` event (with Bedrock's `p` padding). message_start
 * carries Anthropic's usage (input_tokens without the cached part, the cache counts, 1 output token),
 * message_delta the final output tokens, and message_stop Bedrock's `amazon-bedrock-invocationMetrics`:
 * inputTokenCount (the uncached part, as the headers of InvokeModel), outputTokenCount, latencies and
 * the cache counts.
 */
export function bedrockInvokeStream(behaviour: FakeBehaviour, model: string): Uint8Array[] {
  const usage = anthropicMessageUsage(behaviour);
  const events: object[] = [
    {
      type: 'message_start',
      message: { id: `msg_bdrk_${randomId(24)}`, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } },
    },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    ...splitWords(behaviour.content).map((text) => ({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } })),
    { type: 'content_block_stop', index: 0 },
    { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: usage.output_tokens } },
    {
      type: 'message_stop',
      'amazon-bedrock-invocationMetrics': {
        inputTokenCount: usage.input_tokens,
        outputTokenCount: usage.output_tokens,
        invocationLatency: converseExample.metrics.latencyMs,
        firstByteLatency: 200,
        cacheReadInputTokenCount: usage.cache_read_input_tokens,
        cacheWriteInputTokenCount: usage.cache_creation_input_tokens,
      },
    },
  ];
  return events.map((event) => bedrockEvent('chunk', { bytes: Buffer.from(JSON.stringify(event)).toString('base64') }));
}

/** One `:message-type: event` frame of an `application/vnd.amazon.eventstream` body. */
export function bedrockEvent(eventType: string, payload: object): Uint8Array {
  return codec.encode({
    headers: {
      ':event-type': { type: 'string', value: eventType },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'event' },
    },
    body: fromUtf8(JSON.stringify({ ...payload, p: randomId(1 + Math.floor(Math.random() * 50)) })),
  });
}

/**
 * An exception inside an event stream already answered 200 (`:message-type: exception`, the
 * lower-camel-case name in `:exception-type`, `{"message"}`): throttlingException by default.
 */
export function bedrockStreamException(behaviour: FakeBehaviour): Uint8Array {
  const type = behaviour.errorType ?? 'throttlingException';
  return codec.encode({
    headers: {
      ':exception-type': { type: 'string', value: type },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'exception' },
    },
    body: fromUtf8(JSON.stringify({ message: type === 'throttlingException' ? 'Too many requests, please wait before trying again.' : `Fake stream exception ${type}` })),
  });
}

export interface DecodedEvent {
  headers: Record<string, string>;
  payload: unknown;
}

/** Splits and decodes a complete `application/vnd.amazon.eventstream` body (for assertions). */
export function decodeEventStream(body: Uint8Array): DecodedEvent[] {
  const events: DecodedEvent[] = [];
  let offset = 0;
  while (offset + 4 <= body.length) {
    const length = new DataView(body.buffer, body.byteOffset + offset, 4).getUint32(0);
    const message = codec.decode(body.subarray(offset, offset + length));
    const headers: Record<string, string> = {};
    for (const [name, header] of Object.entries(message.headers)) headers[name] = String(header.value);
    events.push({ headers, payload: JSON.parse(toUtf8(message.body)) as unknown });
    offset += length;
  }
  return events;
}

/**
 * InvokeModel of an embedding model, or null for any other model. Titan Text Embeddings (G1/V2):
 * `{embedding, inputTextTokenCount}` (V2 adds `embeddingsByType`); Cohere Embed (v3): `{embeddings,
 * id, response_type: 'embeddings_floats', texts}`, no token count in the body (model-parameters-titan-embed-text
 * and model-parameters-embed in the Bedrock user guide).
 */
export function bedrockEmbeddingResponse(modelId: string, body: unknown, behaviour: FakeBehaviour): object | null {
  const vector = [0.125, -0.25, 0.375, -0.5];
  if (/(?:^|\.)amazon\.titan-embed-text/.test(modelId)) {
    return { embedding: vector, inputTextTokenCount: behaviour.usage.prompt, ...(modelId.includes('-v2') ? { embeddingsByType: { float: vector } } : {}) };
  }
  if (/(?:^|\.)cohere\.embed-/.test(modelId)) {
    const texts = (body as { texts?: unknown } | null)?.texts;
    const list = Array.isArray(texts) ? texts.map(String) : [];
    return { embeddings: list.map(() => vector), id: randomUUID(), response_type: 'embeddings_floats', texts: list };
  }
  return null;
}

/**
 * An embedding model's InvokeModel headers: the input token count and the latency, no output token
 * count (as recorded from AWS, e.g. New Relic's node agent's Bedrock test fixtures for Titan embeddings).
 */
export function bedrockEmbeddingHeaders(behaviour: FakeBehaviour): Record<string, string> {
  return { 'x-amzn-bedrock-invocation-latency': '195', 'x-amzn-bedrock-input-token-count': String(behaviour.usage.prompt) };
}

/**
 * ApplyGuardrail's answer (Bedrock Runtime API reference): the guardrail intervened, its blocked
 * message in `outputs`, and `usage` in policy units (text units of 1,000 characters), not tokens.
 */
export function bedrockApplyGuardrail(body: unknown): object {
  const content = (body as { content?: unknown } | null)?.content;
  const characters = JSON.stringify(content ?? '').length;
  return {
    usage: {
      topicPolicyUnits: 1,
      contentPolicyUnits: 1,
      wordPolicyUnits: 1,
      sensitiveInformationPolicyUnits: 1,
      sensitiveInformationPolicyFreeUnits: 0,
      contextualGroundingPolicyUnits: 0,
      contentPolicyImageUnits: 0,
    },
    action: 'GUARDRAIL_INTERVENED',
    actionReason: 'Guardrail blocked.',
    outputs: [{ text: 'Sorry, the model cannot answer this question.' }],
    assessments: [{ topicPolicy: { topics: [{ name: 'Finance', type: 'DENY', action: 'BLOCKED', detected: true }] } }],
    guardrailCoverage: { textCharacters: { guarded: characters, total: characters } },
  };
}
