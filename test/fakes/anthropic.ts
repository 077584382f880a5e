// Fake Anthropic Messages API upstream: POST /v1/messages (JSON and SSE), /v1/messages/count_tokens,
// /v1/messages/batches (Message Batches: created in progress, ended on its next retrieval, its results
// a JSONL file at the `results_url` it then names, on this fake's own origin as Anthropic's names its own).
import errorExamples from '../fixtures/providers/anthropic/errors.json';
import messageExample from '../fixtures/providers/anthropic/message.json';
import type { FakeProviderOptions } from './openai';
import { type FunctionCall, argumentPieces, pendingToolCall } from './tool-calls';
import {
  type FakeBehaviour,
  type FakeExchange,
  type FakeServer,
  type ProviderError,
  field,
  randomId,
  sendJson,
  sendStream,
  splitWords,
  sse,
  SSE_HEADERS,
  startFake,
  stringField,
} from './recorder';

export function startFakeAnthropic(options: FakeProviderOptions = {}): Promise<FakeServer> {
  const batches = new Map<string, FakeMessageBatch>();
  return startFake((exchange) => handleAnthropic(exchange, options, batches), { errorFor: anthropicError });
}

/** A batch the fake holds: its object as answered, and the custom ids of its requests. */
interface FakeMessageBatch {
  readonly object: Record<string, unknown>;
  readonly customIds: readonly string[];
}

async function handleAnthropic(exchange: FakeExchange, options: FakeProviderOptions, batches: Map<string, FakeMessageBatch>): Promise<void> {
  const { req, res, behaviour } = exchange;
  const headers = { 'request-id': `req_${randomId(24)}`, 'anthropic-organization-id': '00000000-0000-4000-8000-000000000000' };
  if (options.requireApiKey !== undefined) {
    // The API takes `x-api-key`; the SDK (1.13) sends the key as `Authorization: Bearer`.
    const key = req.headers['x-api-key'] ?? req.headers.authorization?.replace(/^Bearer /, '');
    if (key !== options.requireApiKey) {
      sendJson(res, 401, anthropicError(401, behaviour).body, headers);
      return;
    }
  }
  const route = `${req.method} ${req.path}`;
  if (route === 'POST /v1/messages/count_tokens') {
    sendJson(res, 200, { input_tokens: behaviour.usage.prompt }, headers);
    return;
  }
  if (route === 'POST /v1/messages/batches') {
    const requests = field(req.json, 'requests');
    const count = Array.isArray(requests) ? requests.length : 0;
    const now = new Date();
    const object: Record<string, unknown> = {
      id: `msgbatch_01${randomId(22)}`,
      type: 'message_batch',
      processing_status: 'in_progress',
      request_counts: { processing: count, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
      ended_at: null,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + 86_400_000).toISOString(),
      archived_at: null,
      cancel_initiated_at: null,
      results_url: null,
    };
    const customIds = (Array.isArray(requests) ? requests : []).map((request, i) => stringField(request, 'custom_id') ?? `request-${i}`);
    batches.set(object.id as string, { object, customIds });
    sendJson(res, 200, object, headers);
    return;
  }
  if (route === 'GET /v1/messages/batches') {
    // Newest first, as Anthropic lists them; each as a retrieval would show it now.
    const data = [...batches.values()].reverse().map((batch) => batch.object);
    sendJson(res, 200, { data, has_more: false, first_id: (data[0]?.id as string | undefined) ?? null, last_id: (data.at(-1)?.id as string | undefined) ?? null }, headers);
    return;
  }
  const batchPath = req.method === 'GET' ? /^\/v1\/messages\/batches\/([^/]+)(\/results)?$/.exec(req.path) : null;
  if (batchPath) {
    const batch = batches.get(decodeURIComponent(batchPath[1]));
    if (batch === undefined) {
      sendJson(res, 404, anthropicError(404, behaviour).body, headers);
    } else if (batchPath[2] === undefined) {
      sendJson(res, 200, endBatch(batch, `http://${req.headers.host}`), headers);
    } else if (batch.object.processing_status !== 'ended') {
      sendJson(res, 404, anthropicError(404, behaviour).body, headers);
    } else {
      // One JSON line per request, in the order they ran; streamed as the API streams the file
      // (compressed when the client accepts it, lines split unevenly across writes).
      const lines = batch.customIds.map((customId) => `${JSON.stringify({ custom_id: customId, result: { type: 'succeeded', message: anthropicMessage(behaviour, messageExample.model) } })}\n`);
      await sendStream(exchange, lines, { 'content-type': 'application/binary', ...headers });
    }
    return;
  }
  if (route !== 'POST /v1/messages') {
    sendJson(res, 404, anthropicError(404, behaviour).body, headers);
    return;
  }
  const model = stringField(req.json, 'model') ?? messageExample.model;
  const call = pendingToolCall(behaviour, req.json, 'anthropic');
  if (field(req.json, 'stream') === true) {
    const events = anthropicStream(behaviour, model, call);
    const cut = behaviour.streamErrorAfterChunks;
    await sendStream(exchange, cut === undefined ? events : [...events.slice(0, cut), anthropicStreamError(behaviour)], { ...SSE_HEADERS, ...headers });
  } else {
    sendJson(res, 200, anthropicMessage(behaviour, model, call), headers);
  }
}

/** Anthropic's `{"type":"error","error":{type,message}}` for a status (`behaviour.errorType` sets the type). */
export function anthropicError(status: number, behaviour: FakeBehaviour): ProviderError {
  const example = (errorExamples as Record<string, { error: { type: string; message: string } } | undefined>)[String(status)] ?? {
    error: { type: 'api_error', message: `Fake upstream error ${status}` },
  };
  const error = { ...example.error, ...(behaviour.errorType === undefined ? {} : { type: behaviour.errorType }) };
  const requestId = `req_${randomId(24)}`;
  return { body: { type: 'error', error, request_id: requestId }, headers: { 'request-id': requestId } };
}

/**
 * The error event Anthropic sends inside a stream already answered 200 (e.g. overloaded_error where a
 * request would get a 529), after which the stream ends without message_delta or message_stop.
 */
export function anthropicStreamError(behaviour: FakeBehaviour): string {
  const type = behaviour.errorType ?? 'overloaded_error';
  return sse({ type: 'error', error: { type, message: type === 'overloaded_error' ? 'Overloaded' : `Fake stream error ${type}` } }, 'error');
}

function messageId(): string {
  return `msg_01${randomId(22)}`;
}

export interface AnthropicUsage {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  output_tokens: number;
}

/**
 * Anthropic splits the prompt: `input_tokens` is only its uncached part (never below 0), beside
 * `cache_read_input_tokens` and `cache_creation_input_tokens`. `output_tokens` includes thinking,
 * which is not reported apart.
 */
export function anthropicMessageUsage(behaviour: FakeBehaviour): AnthropicUsage {
  const { prompt, completion, cachedRead = 0, cachedWrite = 0 } = behaviour.usage;
  return {
    input_tokens: Math.max(0, prompt - cachedRead - cachedWrite),
    cache_creation_input_tokens: cachedWrite,
    cache_read_input_tokens: cachedRead,
    output_tokens: completion,
  };
}

/** A message; when the model calls a tool, its content is the `tool_use` block and it stops for `tool_use`. */
export function anthropicMessage(behaviour: FakeBehaviour, model: string, call: FunctionCall | null = null): typeof messageExample & { usage: AnthropicUsage } {
  return {
    ...messageExample,
    id: messageId(),
    model,
    content: [call === null ? { type: 'text', text: behaviour.content } : toolUseBlock(call, JSON.parse(call.arguments) as object)] as typeof messageExample.content,
    ...(call === null ? {} : { stop_reason: 'tool_use' }),
    usage: { ...messageExample.usage, ...anthropicMessageUsage(behaviour) },
  };
}

function toolUseBlock(call: FunctionCall, input: object): object {
  return { type: 'tool_use', id: call.callId, name: call.name, input };
}

/**
 * The SSE events of a streamed message: message_start (input and cache tokens, 1 output token),
 * content_block_start, ping, one content_block_delta per word, content_block_stop, message_delta
 * (cumulative counts: input and cache tokens again, and the final output tokens), message_stop. A
 * tool call streams its tool_use block instead, its input as `input_json_delta` pieces.
 */
export function anthropicStream(behaviour: FakeBehaviour, model: string, call: FunctionCall | null = null): string[] {
  const event = (type: string, data: object = {}): string => sse({ type, ...data }, type);
  const usage = anthropicMessageUsage(behaviour);
  return [
    event('message_start', {
      message: {
        id: messageId(),
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...messageExample.usage, ...usage, output_tokens: 1 },
      },
    }),
    event('content_block_start', { index: 0, content_block: call === null ? { type: 'text', text: '' } : toolUseBlock(call, {}) }),
    event('ping'),
    ...(call === null
      ? splitWords(behaviour.content).map((text) => event('content_block_delta', { index: 0, delta: { type: 'text_delta', text } }))
      : argumentPieces(call.arguments, 4).map((partial_json) => event('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json } }))),
    event('content_block_stop', { index: 0 }),
    event('message_delta', {
      delta: { stop_reason: call === null ? 'end_turn' : 'tool_use', stop_sequence: null },
      usage: anthropicMessageUsage(behaviour),
    }),
    event('message_stop'),
  ];
}

/** A batch ends on the retrieval after its creation: every request succeeded, its results at `results_url` on `origin`. */
function endBatch(batch: FakeMessageBatch, origin: string): Record<string, unknown> {
  const object = batch.object;
  if (object.processing_status === 'ended') return object;
  object.processing_status = 'ended';
  object.ended_at = new Date().toISOString();
  object.request_counts = { processing: 0, succeeded: batch.customIds.length, errored: 0, canceled: 0, expired: 0 };
  object.results_url = `${origin}/v1/messages/batches/${object.id as string}/results`;
  return object;
}

