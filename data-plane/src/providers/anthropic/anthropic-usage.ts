// Usage accounting for the Anthropic Messages API (JSON and SSE).
import type { EventSourceMessage } from 'eventsource-parser';
import { type PreparedRequest, type ResponseHeaders, type ResponseObserver, type TokenUsage, type UsageAccounting, addUsage, tokenUsage } from '../usage-accounting';
import { bodyKind } from '../shared/content-type';
import { completionLimit, parseJsonRequestBody } from '../shared/json-request-body';
import { type JsonUsageReader, JsonResponseObserver } from '../shared/json-response-observer';
import { type JsonObject, arrayMember, isJsonObject, member, parseJsonObject, stringMember, textOf, tokenCount } from '../shared/json-values';
import { anthropicErrorStatus } from './anthropic-error';
import { anthropicOperation } from './anthropic-path';
import { JsonLinesObserver } from '../shared/json-lines-observer';
import { decodePathSegment } from '../shared/path-segment';
import { SseResponseObserver } from '../shared/sse-response-observer';
import { NOTHING_TO_COUNT, PassThroughObserver, type UsageTally } from '../shared/usage-tally';

/**
 * Prompt tokens = input_tokens + cache_creation_input_tokens + cache_read_input_tokens: Anthropic's
 * input_tokens leaves out the cached part of the prompt, while the proxy's admission count covers the
 * whole prompt (and OpenAI's prompt_tokens includes cached tokens); charging input_tokens alone would
 * refund every cached prompt and let a cached-prompt caller overrun the prompt budget.
 */
function promptTokens(usage: unknown): number | null {
  const input = tokenCount(member(usage, 'input_tokens'));
  if (input === null) return null;
  return input + (tokenCount(member(usage, 'cache_creation_input_tokens')) ?? 0) + (tokenCount(member(usage, 'cache_read_input_tokens')) ?? 0);
}

export function anthropicUsage(usage: unknown): TokenUsage | null {
  const prompt = promptTokens(usage);
  if (prompt === null) return null;
  return withCacheDetails(usage, prompt, tokenCount(member(usage, 'output_tokens')) ?? 0);
}

function withCacheDetails(usage: unknown, prompt: number, completion: number): TokenUsage {
  return tokenUsage(prompt, completion, {
    cachedRead: tokenCount(member(usage, 'cache_read_input_tokens')),
    cachedWrite: tokenCount(member(usage, 'cache_creation_input_tokens')),
    // Extended thinking: the part of output_tokens spent reasoning, where the API reports it.
    reasoning: tokenCount(member(member(usage, 'output_tokens_details'), 'thinking_tokens')),
  });
}

const ANTHROPIC_JSON_READER: JsonUsageReader = {
  usage(body) {
    const usage = anthropicUsage(body.usage);
    if (usage !== null) return usage;
    // POST /v1/messages/count_tokens answers {"input_tokens": n}: counting is free.
    if (body.type === undefined && body.usage === undefined && tokenCount(body.input_tokens) !== null) return { promptTokens: 0, completionTokens: 0 };
    // POST /v1/messages/batches (and its reads) answers a message_batch: a job, billed when it runs,
    // not at its creation; without this its every prompt was estimated and charged at once.
    if (body.type === 'message_batch') return { promptTokens: 0, completionTokens: 0 };
    return null;
  },
  usageMember: anthropicUsage,
  text(body) {
    let text = '';
    for (const block of arrayMember(body, 'content')) text += contentBlockText(block);
    return text;
  },
};

/** Text of a content block: text, thinking, or a tool call's name and input. */
function contentBlockText(block: unknown): string {
  if (!isJsonObject(block)) return '';
  return textOf(stringMember(block, 'text')) + textOf(stringMember(block, 'thinking')) + textOf(stringMember(block, 'name')) + textOf(block.input);
}

/** The usage counters message_delta may repeat (cumulative totals), each replacing message_start's when present. */
const DELTA_COUNTERS = ['input_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens', 'output_tokens', 'output_tokens_details'] as const;

/**
 * message_start's usage with the counters message_delta reports laid over it one by one, as the SDK's
 * MessageStream accumulates them: each counter message_delta carries (not null) is the whole message's
 * total and replaces message_start's, and each it omits keeps message_start's value. (A message_delta
 * that repeats input_tokens but omits the cache counts still has the cached prompt read at the start.)
 */
function mergedUsage(startUsage: unknown, deltaUsage: unknown): Record<string, unknown> {
  const merged: Record<string, unknown> = isJsonObject(startUsage) ? { ...startUsage } : {};
  for (const name of DELTA_COUNTERS) {
    const value = member(deltaUsage, name);
    if (value !== undefined && value !== null) merged[name] = value;
  }
  return merged;
}

/**
 * One Messages stream event. message_start carries the prompt tokens (and 1 output token: not a
 * usage to report), message_delta the final cumulative output tokens (and, on newer models, updated
 * input counts), message_stop ends the message, an `error` event ends it failed. ping and
 * content_block_start/stop are skipped unparsed.
 */
function anthropicEventReader(): (event: EventSourceMessage, tally: UsageTally) => boolean {
  /** message_start's usage object: the counts a message_delta does not repeat stand as it gave them. */
  let startUsage: unknown = null;
  return (event, tally) => {
  let type = event.event;
  let data: JsonObject | null = null;
  if (type === undefined || type === 'message') {
    data = parseJsonObject(event.data);
    type = stringMember(data, 'type') ?? undefined;
  }
  switch (type) {
    case 'message_start': {
      data ??= parseJsonObject(event.data);
      const message = member(data, 'message');
      tally.noteModel(member(message, 'model'));
      const usage = member(message, 'usage');
      if (noteStartPrompt(usage, tally)) startUsage = usage;
      break;
    }
    case 'content_block_delta': {
      data ??= parseJsonObject(event.data);
      tally.addText(anthropicDeltaText(member(data, 'delta')));
      break;
    }
    case 'message_delta': {
      data ??= parseJsonObject(event.data);
      const deltaUsage = member(data, 'usage');
      const output = tokenCount(member(deltaUsage, 'output_tokens'));
      // Newer models repeat the (final) input counts here, some or all of them; the others stand as message_start gave them.
      const usage = mergedUsage(startUsage, deltaUsage);
      const prompt = promptTokens(usage) ?? tally.reportedPromptTokens;
      if (prompt !== null && output !== null) tally.usage = withCacheDetails(usage, prompt, output);
      break;
    }
    case 'message_stop':
      tally.complete = true;
      break;
    case 'completion': {
      // The legacy Text Completions stream (/v1/complete) has no message_stop: its last completion
      // event is the one with a stop_reason.
      data ??= parseJsonObject(event.data);
      if (typeof member(data, 'stop_reason') === 'string') tally.complete = true;
      break;
    }
    case 'error': {
      // overloaded_error & co. in a stream answered 200: it ends here, without message_stop.
      data ??= parseJsonObject(event.data);
      tally.noteStreamError(anthropicErrorStatus(member(member(data, 'error'), 'type')));
      break;
    }
    default:
      break;
  }
  return false;
  };
}

/**
 * Records message_start's usage as the prompt reported ahead of the final usage (input + cache reads
 * + cache writes, and those cache parts): what a stream that ends before message_delta is charged.
 * False when it reports no input count. Claude on Bedrock's InvokeModelWithResponseStream too.
 */
export function noteStartPrompt(usage: unknown, tally: UsageTally): boolean {
  const prompt = promptTokens(usage);
  if (prompt === null) return false;
  tally.reportedPromptTokens = prompt;
  tally.reportedPromptCache = {
    cachedRead: tokenCount(member(usage, 'cache_read_input_tokens')) ?? 0,
    cachedWrite: tokenCount(member(usage, 'cache_creation_input_tokens')) ?? 0,
  };
  return true;
}

/** The completion text of a content_block_delta's `delta`: text, thinking, or a tool call's partial input JSON. */
export function anthropicDeltaText(delta: unknown): string {
  return textOf(stringMember(delta, 'text')) + textOf(stringMember(delta, 'thinking')) + textOf(stringMember(delta, 'partial_json'));
}

/** `…/messages/batches/{id}/results`: a Message Batch's results, one JSON line per request. */
const BATCH_RESULTS = /\/messages\/batches\/([^/]+)\/results\/?$/;

/**
 * A Message Batch's results (JSONL): Anthropic bills a batch's requests as they run, and reports each
 * one's usage only here, on its `succeeded` line (errored, canceled and expired requests are not
 * billed). Their sum is the batch's usage: charged once by batch id, when the results are read whole
 * (a cut read charges nothing; the next whole one charges the batch).
 */
function batchResultsObserver(batchId: string): ResponseObserver {
  let total: TokenUsage = tokenUsage(0, 0);
  return new JsonLinesObserver(
    (line, tally) => {
      const result = member(line, 'result');
      if (member(result, 'type') !== 'succeeded') return;
      const message = member(result, 'message');
      tally.noteModel(member(message, 'model'));
      const usage = anthropicUsage(member(message, 'usage'));
      if (usage !== null) total = addUsage(total, usage);
    },
    (tally) => {
      tally.usage = total;
    },
    batchId,
    '"usage"',
  );
}

/** Anthropic: usage in JSON and in message_start/message_delta events; nothing is injected or stripped. */
export const anthropicUsageAccounting: UsageAccounting = {
  prepareRequest(providerPath: string, body: Buffer, contentType: string | undefined): PreparedRequest {
    const json = parseJsonRequestBody(body, contentType);
    const results = BATCH_RESULTS.exec(providerPath);
    return {
      body,
      json,
      model: stringMember(json, 'model'),
      operation: anthropicOperation(providerPath),
      stream: member(json, 'stream') === true,
      maxCompletionTokens: completionLimit(json, ['max_tokens']),
      stripUsageChunk: false,
      ...(results === null ? {} : { resultsOf: decodePathSegment(results[1]) }),
    };
  },

  observeResponse(prepared: PreparedRequest, status: number, contentType: string | undefined, _headers?: ResponseHeaders): ResponseObserver {
    if (status < 200 || status > 299) return new PassThroughObserver(NOTHING_TO_COUNT);
    if (prepared.resultsOf !== undefined) return batchResultsObserver(prepared.resultsOf);
    const kind = bodyKind(contentType);
    if (kind === 'sse' || (kind === 'none' && prepared.stream)) return new SseResponseObserver(anthropicEventReader(), false);
    if (kind === 'json' || kind === 'none') return new JsonResponseObserver(ANTHROPIC_JSON_READER);
    return new PassThroughObserver(NOTHING_TO_COUNT);
  },
};
