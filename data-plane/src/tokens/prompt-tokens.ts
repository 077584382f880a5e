// Token counting for rate limiting: what a provider will count as prompt tokens for a request body,
// the completion limit the request sets, and a cheap upper bound. Pure and synchronous; on the
// proxy these functions run inside TokenCounter's worker (token-counter.ts), never on the event loop.
// Every function accepts any parsed JSON and never throws on it. What each provider reads is its
// PromptCounting (../providers/<provider>/<provider>-prompt.ts), found by provider name; providers
// this proxy does not know count every string of the body.
import type { ProviderName } from '../config-stream/wire-types';
import type { PromptCounting } from '../providers/prompt-counting';
import { promptCountingFor } from '../providers/prompt-registry';
import { type EncodingName, UNKNOWN_TOKENIZER_ESTIMATE_FACTOR } from './encodings';
import { countString, isObject, PromptTally, type TokenEncoder } from './prompt-tally';

export { ENCODING_NAMES, type EncodingName } from './encodings';
export type { StringTokenCounter, TokenEncoder } from './prompt-tally';

/** Providers without a PromptCounting: every string counts, estimated with the most cautious factor. */
const ALL_STRINGS: PromptCounting = {
  requestModel: (_providerPath, body) => (isObject(body) && typeof body.model === 'string' ? body.model : null),
  encoding: () => 'o200k_base',
  estimateFactor: () => UNKNOWN_TOKENIZER_ESTIMATE_FACTOR,
  tally: (tally, _providerPath, body) => tally.strings(body),
  expectedCompletionTokens: (_providerPath, body) => firstCount(body.max_completion_tokens, body.max_tokens, body.max_output_tokens),
};

function countingFor(provider: ProviderName | number): PromptCounting {
  return promptCountingFor(provider) ?? ALL_STRINGS;
}

/** Tokens of one string with `encoder` (exact for OpenAI-family models; no framing, no factor). */
export function countTextTokens(encoder: TokenEncoder, text: string): number {
  return countString(encoder, text);
}

/** The encoding that counts `model` exactly (OpenAI, Azure OpenAI) or is the base of its estimate (others). */
export function encodingFor(provider: ProviderName | number, model: string | null): EncodingName {
  return countingFor(provider).encoding(model);
}

/** 1 where the count is exact; the model family's estimate factor otherwise. */
export function estimateFactorFor(provider: ProviderName | number, model: string | null): number {
  return countingFor(provider).estimateFactor(model);
}

/**
 * Completion text as the provider would have counted it: exact with the model's encoding for OpenAI
 * and Azure OpenAI, the o200k_base count times the provider's estimate factor for the others.
 * `encoder` must be the encoding `encodingFor(provider, model)` names.
 */
export function countCompletionTokens(encoder: TokenEncoder, provider: ProviderName | number, model: string | null, text: string): number {
  const tally = new PromptTally(encoder);
  tally.text(text);
  return tally.total(estimateFactorFor(provider, model));
}

/**
 * The prompt tokens the provider will count for `body` sent to `providerPath` (the path after the
 * service's context path, e.g. `/v1/chat/completions`, `/openai/deployments/x/embeddings`,
 * `/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse`). `model` is the model the request
 * names (body `model`, Azure deployment, Bedrock model id); derived from body and path when omitted.
 * `encoder` must be the encoding `encodingFor(provider, model)` names. Bodies of unknown shape count
 * all their string values.
 */
export function countPromptTokens(
  encoder: TokenEncoder,
  provider: ProviderName | number,
  providerPath: string,
  body: unknown,
  model?: string | null,
): number {
  const counting = countingFor(provider);
  const path = normalizePath(providerPath);
  const resolvedModel = model ?? counting.requestModel(path, body);
  const tally = new PromptTally(encoder);
  if (isObject(body)) counting.tally(tally, path, body, resolvedModel);
  else tally.strings(body);
  return tally.total(counting.estimateFactor(resolvedModel));
}

/**
 * The completion tokens a request may produce, from the limit it sets: `max_completion_tokens`,
 * `max_tokens` or `max_output_tokens` (OpenAI, Azure, Mistral; times `n`/`best_of` when more than one
 * completion is asked for), `max_tokens` (Anthropic), `inferenceConfig.maxTokens` (Bedrock Converse)
 * or the model vendor's field in a Bedrock InvokeModel body. Null when the request sets none (the
 * caller reserves its configured default); 0 for embeddings, which produce no completion tokens.
 */
export function expectedCompletionTokens(provider: ProviderName | number, providerPath: string, body: unknown): number | null {
  if (!isObject(body)) return null;
  return countingFor(provider).expectedCompletionTokens(normalizePath(providerPath), body);
}

/**
 * A bound on the prompt tokens of a body of `bodyBytes` UTF-8 bytes that costs nothing to compute:
 * `bodyBytes` itself. It holds for the exact o200k_base/cl100k_base counts because every BPE token
 * covers at least one byte of the text it encodes, JSON carries each counted string in at least as
 * many bytes (escapes only add), and the JSON framing of messages, names and tools
 * (`{"role":"user","content":""}` is 29 bytes for 4 tokens of framing) outweighs the tokens the chat
 * format adds. It holds for the estimates too: the scaled part of an estimate is capped at the
 * strings' byte length. It does NOT hold for what costs tokens without costing bytes: images given
 * by URL or file id (85–1,600 tokens each), PDF/document references, Claude's tool-use system prompt
 * (313–346 tokens once tools are present), and conversation state stored at the provider
 * (`previous_response_id`). A body that may carry them (promptUpperBoundHolds) is counted before it is
 * admitted, so that a prompt larger than the whole budget is refused outright there too.
 */
export function promptUpperBound(bodyBytes: number): number {
  return Math.max(0, Math.ceil(bodyBytes));
}

/** Members whose presence may make a body cost more prompt tokens than it has bytes (see promptUpperBound). */
const TOKENS_BEYOND_BYTES_NAMES = ['image', 'input_image', 'document', 'video', 'file', 'input_file', 'input_audio', 'previous_response_id', 'conversation'];
const TOKENS_BEYOND_BYTES = TOKENS_BEYOND_BYTES_NAMES.map((name) => Buffer.from(`"${name}`));
const TOKENS_BEYOND_BYTES_PATTERN = new RegExp(`"(?:${TOKENS_BEYOND_BYTES_NAMES.join('|')})`);
/** Claude's tool-use system prompt (Anthropic, and Claude on Bedrock): 313–346 tokens once tools are present. */
const CLAUDE_TOOLS_NAMES = ['tools', 'toolConfig'];
const CLAUDE_TOOLS = CLAUDE_TOOLS_NAMES.map((name) => Buffer.from(`"${name}"`));
const CLAUDE_TOOLS_PATTERN = new RegExp(`"(?:${CLAUDE_TOOLS_NAMES.join('|')})"`);
/**
 * Below this size one regular-expression pass over the body read as Latin-1 (the markers are ASCII,
 * and every byte is one Latin-1 character, so a match is a match in the bytes) beats a native search
 * per marker, whose call costs more than the search; above it the native searches win.
 */
const ONE_PASS_MAX_BYTES = 16 * 1024;

/**
 * Whether promptUpperBound() bounds this (decoded) body's prompt: false when it may carry what costs
 * tokens without costing bytes — the caller then counts it before admitting it. A cheap byte search
 * (a false alarm, such as the word in a message, only costs a count).
 */
export function promptUpperBoundHolds(provider: ProviderName | number, body: Buffer): boolean {
  const claude = provider === 'ANTHROPIC' || provider === 'AWS_BEDROCK';
  if (body.length <= ONE_PASS_MAX_BYTES) {
    const text = body.toString('latin1');
    return !TOKENS_BEYOND_BYTES_PATTERN.test(text) && !(claude && CLAUDE_TOOLS_PATTERN.test(text));
  }
  for (const marker of TOKENS_BEYOND_BYTES) if (body.includes(marker)) return false;
  if (claude) for (const marker of CLAUDE_TOOLS) if (body.includes(marker)) return false;
  return true;
}

/** The model a request names: Bedrock's model id and Azure's deployment from the path, else body `model`. */
export function requestModel(provider: ProviderName | number, providerPath: string, body: unknown): string | null {
  return countingFor(provider).requestModel(normalizePath(providerPath), body);
}

/** What PromptCounting reads: the path without its query and trailing slashes. */
function normalizePath(providerPath: string): string {
  const query = providerPath.indexOf('?');
  let path = query === -1 ? providerPath : providerPath.slice(0, query);
  while (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return path;
}

/** The first value that is a non-negative safe integer, or null. */
function firstCount(...values: unknown[]): number | null {
  for (const value of values) {
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  }
  return null;
}
