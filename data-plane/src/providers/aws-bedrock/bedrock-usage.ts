// Usage accounting for Bedrock Runtime: Converse / ConverseStream (the normalized API) and
// InvokeModel / InvokeModelWithResponseStream (model-native bodies).
import type { Message } from '@smithy/eventstream-codec';
import { type ObservedUsage, type PreparedRequest, type ResponseHeaders, type ResponseObserver, type TokenUsage, type UsageAccounting, tokenUsage } from '../usage-accounting';
import { bodyKind } from '../shared/content-type';
import { completionLimit, parseJsonRequestBody } from '../shared/json-request-body';
import { type JsonUsageReader, JsonResponseObserver } from '../shared/json-response-observer';
import { type JsonObject, arrayMember, firstTokenCount, isJsonObject, member, parseJsonObject, stringMember, textOf, tokenCount } from '../shared/json-values';
import { anthropicUsage, noteStartPrompt } from '../anthropic/anthropic-usage';
import { openAiUsage } from '../shared/openai-compatible-usage';
import { NOTHING_TO_COUNT, PassThroughObserver, type UsageTally } from '../shared/usage-tally';
import { bedrockExceptionStatus } from './bedrock-error';
import { bedrockRoute, isGuardrailApply } from './bedrock-path';
import { EventStreamResponseObserver, stringHeader } from './event-stream-observer';

/** Completion limits: Converse, then the model-native InvokeModel fields (Anthropic/Mistral/OpenAI, Llama, Titan, Nova). */
const COMPLETION_LIMITS = [
  'inferenceConfig.maxTokens',
  'max_tokens',
  'max_completion_tokens',
  'max_gen_len',
  'textGenerationConfig.maxTokenCount',
  'inferenceConfig.max_new_tokens',
] as const;

/**
 * Converse `usage`: prompt = inputTokens + cacheReadInputTokens + cacheWriteInputTokens (inputTokens
 * leaves the cached part out; the proxy's admission count covers the whole prompt, as for Anthropic).
 */
export function converseUsage(usage: unknown): TokenUsage | null {
  const input = tokenCount(member(usage, 'inputTokens'));
  if (input === null) return null;
  const cachedRead = tokenCount(member(usage, 'cacheReadInputTokens')) ?? 0;
  const cachedWrite = tokenCount(member(usage, 'cacheWriteInputTokens')) ?? 0;
  return tokenUsage(input + cachedRead + cachedWrite, tokenCount(member(usage, 'outputTokens')) ?? 0, { cachedRead, cachedWrite });
}

/** Any usage a Bedrock body reports: Converse/Nova, Anthropic, OpenAI-style, Llama or Titan shapes. */
function bodyUsage(body: JsonObject): TokenUsage | null {
  const usage = body.usage;
  const reported = converseUsage(usage) ?? anthropicUsage(usage) ?? openAiUsage(usage);
  if (reported !== null) return reported;
  const llamaPrompt = tokenCount(body.prompt_token_count);
  if (llamaPrompt !== null) return { promptTokens: llamaPrompt, completionTokens: tokenCount(body.generation_token_count) ?? 0 };
  const titanPrompt = tokenCount(body.inputTextTokenCount);
  if (titanPrompt !== null) {
    let completion = 0;
    for (const result of arrayMember(body, 'results')) completion += tokenCount(member(result, 'tokenCount')) ?? 0;
    return { promptTokens: titanPrompt, completionTokens: completion };
  }
  return null;
}

/** Completion text of a Converse or model-native body (or of one model-native stream chunk). */
function bodyText(body: JsonObject): string {
  let text = '';
  for (const block of arrayMember(member(body.output, 'message'), 'content')) {
    text += textOf(stringMember(block, 'text')) + toolUseText(member(block, 'toolUse'));
    text += textOf(stringMember(member(member(block, 'reasoningContent'), 'reasoningText'), 'text'));
  }
  for (const block of arrayMember(body, 'content')) {
    text += textOf(stringMember(block, 'text')) + textOf(stringMember(block, 'thinking')) + toolUseText(block); // Anthropic
  }
  for (const result of arrayMember(body, 'results')) text += textOf(stringMember(result, 'outputText')); // Titan
  for (const output of arrayMember(body, 'outputs')) text += textOf(stringMember(output, 'text')); // Mistral
  for (const choice of arrayMember(body, 'choices')) {
    text += textOf(stringMember(member(choice, 'message'), 'content')) + textOf(stringMember(member(choice, 'delta'), 'content'));
    text += textOf(stringMember(choice, 'text'));
  }
  text += textOf(stringMember(body, 'generation')) + textOf(stringMember(body, 'outputText')) + textOf(stringMember(body, 'completion'));
  return text;
}

function toolUseText(toolUse: unknown): string {
  if (!isJsonObject(toolUse)) return '';
  return textOf(stringMember(toolUse, 'name')) + textOf(toolUse.input);
}

const BEDROCK_JSON_READER: JsonUsageReader = {
  usage: bodyUsage,
  usageMember: (usage) => converseUsage(usage) ?? anthropicUsage(usage) ?? openAiUsage(usage),
  text: bodyText,
};

/** The JSON payload of an event-stream message, or null. */
export function payload(message: Message): JsonObject | null {
  return parseJsonObject(Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength).toString('utf8'));
}

/** The completion text of a ConverseStream contentBlockDelta's `delta`: text, tool input, reasoning. */
export function converseDeltaText(delta: unknown): string {
  return textOf(stringMember(delta, 'text')) + textOf(stringMember(member(delta, 'toolUse'), 'input')) + textOf(stringMember(member(delta, 'reasoningContent'), 'text'));
}

/**
 * One event-stream message. ConverseStream: contentBlockDelta (text, tool input, reasoning), then
 * messageStop, then metadata (usage) which ends a complete stream. InvokeModelWithResponseStream:
 * `chunk` events whose base64 `bytes` hold model-native JSON; the last one carries
 * `amazon-bedrock-invocationMetrics`. Exceptions (`:message-type: exception`) end the stream
 * incomplete, recorded with the exception's status. messageStart, contentBlockStart/Stop and messageStop are skipped unparsed.
 */
function readBedrockMessage(message: Message, tally: UsageTally): void {
  const messageType = stringHeader(message, ':message-type');
  if (messageType === 'exception') {
    tally.noteStreamError(bedrockExceptionStatus(stringHeader(message, ':exception-type')));
    return;
  }
  // An event-stream `error` message (`:error-code`, `:error-message`): a failure the service did not model.
  if (messageType === 'error') {
    tally.noteStreamError(bedrockExceptionStatus(stringHeader(message, ':error-code')));
    return;
  }
  if (messageType !== 'event') return;
  switch (stringHeader(message, ':event-type')) {
    case 'contentBlockDelta':
      tally.addText(converseDeltaText(member(payload(message), 'delta')));
      break;
    case 'metadata':
      tally.usage = converseUsage(member(payload(message), 'usage')) ?? tally.usage;
      tally.complete = true;
      break;
    case 'chunk': {
      const bytes = stringMember(payload(message), 'bytes');
      const chunk = bytes === null ? null : parseJsonObject(Buffer.from(bytes, 'base64').toString('utf8'));
      if (chunk === null) break;
      // Claude's message_start: its prompt stands if the stream ends before the metrics chunk.
      if (chunk.type === 'message_start') noteStartPrompt(member(chunk.message, 'usage'), tally);
      tally.addText(invokeChunkText(chunk));
      const metrics = chunk['amazon-bedrock-invocationMetrics'];
      if (metrics !== undefined) {
        const input = tokenCount(member(metrics, 'inputTokenCount'));
        if (input !== null) {
          const cached = firstTokenCount(metrics, 'cacheReadInputTokenCount') ?? 0;
          const written = firstTokenCount(metrics, 'cacheWriteInputTokenCount') ?? 0;
          tally.usage = tokenUsage(input + cached + written, tokenCount(member(metrics, 'outputTokenCount')) ?? 0, { cachedRead: cached, cachedWrite: written });
        }
        tally.complete = true;
      }
      break;
    }
    default:
      break;
  }
}

/** Text of one model-native stream chunk: Anthropic deltas, Nova contentBlockDelta, or the body readers. */
function invokeChunkText(chunk: JsonObject): string {
  const delta = chunk.delta;
  const anthropic = textOf(stringMember(delta, 'text')) + textOf(stringMember(delta, 'thinking')) + textOf(stringMember(delta, 'partial_json'));
  const nova = textOf(stringMember(member(member(chunk, 'contentBlockDelta'), 'delta'), 'text'));
  return anthropic + nova + bodyText(chunk);
}

/**
 * InvokeModel reports its counts in headers for every model; read them when the proxy passes headers.
 * Embedding models (Titan Text Embeddings, Cohere Embed) send the input count alone: `complete` is
 * false then (no output count), and the usage has 0 completion tokens.
 */
function headerUsage(headers: ResponseHeaders | undefined): { usage: TokenUsage; complete: boolean } | null {
  if (headers === undefined) return null;
  const input = headerCount(headers, 'x-amzn-bedrock-input-token-count');
  if (input === null) return null;
  const output = headerCount(headers, 'x-amzn-bedrock-output-token-count');
  const cachedRead = headerCount(headers, 'x-amzn-bedrock-cache-read-input-token-count') ?? 0;
  const cachedWrite = headerCount(headers, 'x-amzn-bedrock-cache-write-input-token-count') ?? 0;
  return { usage: tokenUsage(input + cachedRead + cachedWrite, output ?? 0, { cachedRead, cachedWrite }), complete: output !== null };
}

/**
 * Reads the JSON body and, when it reports no usage (Cohere Embed's body carries no count; a body too
 * large to parse whole may hide it), charges the input count InvokeModel reported in its header.
 */
class HeaderFallbackObserver implements ResponseObserver {
  constructor(
    private readonly inner: ResponseObserver,
    private readonly fallback: TokenUsage,
  ) {}

  write(chunk: Buffer): Buffer {
    return this.inner.write(chunk);
  }

  flush(): Buffer {
    return this.inner.flush();
  }

  drained(): Promise<void> | null {
    return this.inner.drained?.() ?? null;
  }

  result(): ObservedUsage {
    const observed = this.inner.result();
    if (observed.usage !== null) return observed;
    return { usage: this.fallback, completionText: '', complete: true, ...(observed.responseModel === undefined ? {} : { responseModel: observed.responseModel }) };
  }
}

function headerCount(headers: ResponseHeaders, name: string): number | null {
  const value = headers[name];
  const text = typeof value === 'string' ? value : undefined;
  return text !== undefined && /^\d{1,15}$/.test(text) ? Number(text) : null;
}

const FREE = Object.freeze({ usage: Object.freeze({ promptTokens: 0, completionTokens: 0 }), completionText: '', complete: true });

/** Bedrock: the model id and streaming come from the path; usage from JSON, event-stream frames or headers. */
export const bedrockUsageAccounting: UsageAccounting = {
  prepareRequest(providerPath: string, body: Buffer, contentType: string | undefined): PreparedRequest {
    const json = parseJsonRequestBody(body, contentType);
    const route = bedrockRoute(providerPath);
    return {
      body,
      json,
      model: route?.model ?? null,
      operation: route?.operation ?? (isGuardrailApply(providerPath) ? 'apply_guardrail' : 'other'),
      stream: route?.stream ?? false,
      maxCompletionTokens: completionLimit(json, COMPLETION_LIMITS),
      stripUsageChunk: false,
    };
  },

  observeResponse(prepared: PreparedRequest, status: number, contentType: string | undefined, headers?: ResponseHeaders): ResponseObserver {
    if (status < 200 || status > 299) return new PassThroughObserver(NOTHING_TO_COUNT);
    // CountTokens counts a prompt and is not billed; ApplyGuardrail is billed in policy units (its
    // `usage` counts text units of 1,000 characters), not tokens: neither is charged tokens.
    if (prepared.operation === 'count_tokens' || prepared.operation === 'apply_guardrail') return new PassThroughObserver(FREE);
    const kind = bodyKind(contentType);
    if (kind === 'aws-eventstream' || (kind === 'none' && prepared.stream)) return new EventStreamResponseObserver(readBedrockMessage);
    const fromHeaders = headerUsage(headers);
    if (fromHeaders?.complete === true) return new PassThroughObserver({ usage: fromHeaders.usage, completionText: '', complete: true });
    if (kind === 'json' || kind === 'none') {
      const observer = new JsonResponseObserver(BEDROCK_JSON_READER);
      return fromHeaders === null ? observer : new HeaderFallbackObserver(observer, fromHeaders.usage);
    }
    return new PassThroughObserver(fromHeaders === null ? NOTHING_TO_COUNT : { usage: fromHeaders.usage, completionText: '', complete: true });
  },
};
