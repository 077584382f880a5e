// Token counting for rate limiting: what a provider will count as prompt tokens for a request body,
// the completion limit the request sets, and a cheap upper bound. Pure and synchronous; on the
// proxy these functions run inside TokenCounter's worker (token-counter.ts), never on the event loop.
// Every function accepts any parsed JSON and never throws on it.
import type { ProviderName } from '../config-stream/wire-types';
import { tallyAnthropicMessages } from './anthropic-prompt';
import { tallyConverse, tallyInvokeModel } from './bedrock-prompt';
import { bedrockModelFamily, encodingFor, estimateFactorFor } from './model-tokenizers';
import { MISTRAL_CHAT_STYLE, openAiChatStyle, tallyChatCompletion, tallyResponses, tallyTextInputs } from './openai-prompt';
import { countString, isObject, PromptTally, type TokenEncoder } from './prompt-tally';

export { ENCODING_NAMES, ESTIMATE_FACTORS, encodingFor, estimateFactorFor, type EncodingName } from './model-tokenizers';
export type { StringTokenCounter, TokenEncoder } from './prompt-tally';

type Endpoint =
  | 'chat'
  | 'embeddings'
  | 'completions'
  | 'responses'
  | 'fim'
  | 'anthropic-messages'
  | 'anthropic-complete'
  | 'converse'
  | 'invoke'
  | 'other';

const BEDROCK_PATH = /\/model\/([^/]+)\/(converse|converse-stream|invoke|invoke-with-response-stream)$/;
const AZURE_DEPLOYMENT_PATH = /\/deployments\/([^/]+)\//;

/** Tokens of one string with `encoder` (exact for OpenAI-family models; no framing, no factor). */
export function countTextTokens(encoder: TokenEncoder, text: string): number {
  return countString(encoder, text);
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
  const resolvedModel = model ?? requestModel(provider, providerPath, body);
  const tally = new PromptTally(encoder);
  if (!isObject(body)) {
    tally.strings(body);
    return tally.total(estimateFactorFor(provider, resolvedModel));
  }
  switch (endpointOf(provider, providerPath)) {
    case 'chat':
      tallyChatCompletion(tally, body, provider === 'MISTRAL' ? MISTRAL_CHAT_STYLE : openAiChatStyle(encodingFor(provider, resolvedModel)));
      break;
    case 'embeddings':
      tallyTextInputs(tally, body.input);
      break;
    case 'completions':
    case 'fim':
      tallyTextInputs(tally, body.prompt);
      tally.text(body.suffix);
      break;
    case 'responses':
      tallyResponses(tally, body, encodingFor(provider, resolvedModel));
      break;
    case 'anthropic-messages':
      tallyAnthropicMessages(tally, body);
      break;
    case 'anthropic-complete':
      tally.text(body.prompt);
      break;
    case 'converse':
      tallyConverse(tally, body, bedrockModelFamily(resolvedModel));
      break;
    case 'invoke':
      tallyInvokeModel(tally, body, bedrockModelFamily(resolvedModel));
      break;
    case 'other':
      tally.strings(body);
      break;
  }
  return tally.total(estimateFactorFor(provider, resolvedModel));
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
  const endpoint = endpointOf(provider, providerPath);
  if (endpoint === 'embeddings') return 0;
  switch (provider) {
    case 'OPENAI':
    case 'AZURE_OPENAI':
    case 'MISTRAL': {
      const limit = firstCount(body.max_completion_tokens, body.max_tokens, body.max_output_tokens);
      if (limit === null) return null;
      const completions = Math.max(1, firstCount(body.n) ?? 1, endpoint === 'completions' ? (firstCount(body.best_of) ?? 1) : 1);
      return Math.min(limit * completions, Number.MAX_SAFE_INTEGER);
    }
    case 'ANTHROPIC':
      return firstCount(body.max_tokens, body.max_tokens_to_sample);
    case 'AWS_BEDROCK': {
      const inference = isObject(body.inferenceConfig) ? body.inferenceConfig : {};
      if (endpoint === 'converse') return firstCount(inference.maxTokens);
      const generation = isObject(body.textGenerationConfig) ? body.textGenerationConfig : {};
      return firstCount(
        body.max_tokens, // Anthropic, Mistral, Cohere, DeepSeek, gpt-oss
        body.max_completion_tokens,
        body.max_gen_len, // Meta Llama
        body.max_new_tokens,
        generation.maxTokenCount, // Amazon Titan
        inference.max_new_tokens, // Amazon Nova
        inference.maxTokens,
        body.maxTokens, // AI21 Jurassic
      );
    }
    default:
      return firstCount(body.max_completion_tokens, body.max_tokens, body.max_output_tokens);
  }
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
 * (`previous_response_id`). Those are rare near a budget boundary, and reported usage settles them.
 */
export function promptUpperBound(bodyBytes: number): number {
  return Math.max(0, Math.ceil(bodyBytes));
}

function endpointOf(provider: ProviderName | number, providerPath: string): Endpoint {
  const path = normalizePath(providerPath);
  switch (provider) {
    case 'OPENAI':
    case 'AZURE_OPENAI':
      if (path.endsWith('/chat/completions')) return 'chat';
      if (path.endsWith('/embeddings')) return 'embeddings';
      if (path.endsWith('/completions')) return 'completions';
      if (path.endsWith('/responses')) return 'responses';
      return 'other';
    case 'MISTRAL':
      if (path.endsWith('/fim/completions')) return 'fim';
      if (path.endsWith('/chat/completions') || path.endsWith('/agents/completions')) return 'chat';
      if (path.endsWith('/embeddings')) return 'embeddings';
      return 'other';
    case 'ANTHROPIC':
      if (path.endsWith('/messages') || path.endsWith('/messages/count_tokens')) return 'anthropic-messages';
      if (path.endsWith('/complete')) return 'anthropic-complete';
      return 'other';
    case 'AWS_BEDROCK': {
      const operation = BEDROCK_PATH.exec(path)?.[2];
      if (operation === undefined) return 'other';
      return operation.startsWith('converse') ? 'converse' : 'invoke';
    }
    default:
      return 'other';
  }
}

/** The model a request names: Bedrock's model id and Azure's deployment from the path, else body `model`. */
export function requestModel(provider: ProviderName | number, providerPath: string, body: unknown): string | null {
  const path = normalizePath(providerPath);
  if (provider === 'AWS_BEDROCK') return BEDROCK_PATH.exec(path)?.[1] ?? null;
  if (provider === 'AZURE_OPENAI') {
    const deployment = AZURE_DEPLOYMENT_PATH.exec(path)?.[1];
    if (deployment !== undefined) return deployment;
  }
  return isObject(body) && typeof body.model === 'string' ? body.model : null;
}

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

