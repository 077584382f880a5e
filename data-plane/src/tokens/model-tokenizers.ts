// Which tokenizer stands for which model: every model-id rule of the token counting lives here.
// OpenAI-family models are counted exactly with their own encoding; providers without a public
// tokenizer are estimated as the o200k_base count times a factor (rationale in README.md).
import type { ProviderName } from '../config-stream/wire-types';

export type EncodingName = 'o200k_base' | 'cl100k_base';
export const ENCODING_NAMES: readonly EncodingName[] = ['o200k_base', 'cl100k_base'];

/**
 * o200k_base count → estimated count, for tokenizers that are not published. Chosen slightly high:
 * near the boundary an overestimate refuses a request that might just have fit, an underestimate
 * admits one that overshoots; either way the provider's reported usage replaces the estimate.
 */
export const ESTIMATE_FACTORS = {
  /**
   * Claude (Anthropic API and Bedrock): Anthropic publishes no tokenizer, only the count_tokens
   * endpoint (a network round trip). A published comparison of Claude 3.5 Sonnet with GPT-4o found
   * Claude's tokenizer 20–30 % more verbose, least on English prose, most on code and math;
   * Anthropic's own token-counting reference says OpenAI tokenizers undercount Claude by ~15–20 % on
   * typical text, more on code and non-English text. 1.25 covers prose with margin, code nearly.
   */
  claude: 1.25,
  /**
   * Mistral: current models use Tekken (tiktoken-based, ~131k vocabulary, which Mistral reports
   * compresses better than Llama 3's tokenizer for ~85 % of languages, so close to o200k on
   * English); older open models use a 32k SentencePiece vocabulary, ~30 % less compact. 1.15 leans
   * toward current models and leaves some margin for the older ones.
   */
  mistral: 1.15,
  /** Llama 3/4 on Bedrock: tiktoken-based 128k vocabulary (cl100k plus 28k), ≈ o200k on English. */
  llama: 1.1,
  /** gpt-oss on Bedrock: o200k_harmony, which is o200k_base plus special tokens. */
  openai: 1,
  /** Anything else (Amazon Titan/Nova, Cohere, AI21, DeepSeek, unknown ids): the most cautious factor. */
  unknown: 1.25,
} as const;

export type ModelFamily = keyof typeof ESTIMATE_FACTORS;

/** The encoding that counts `model` exactly (OpenAI, Azure OpenAI) or is the base of its estimate (others). */
export function encodingFor(provider: ProviderName | number, model: string | null): EncodingName {
  if (provider !== 'OPENAI' && provider !== 'AZURE_OPENAI') return 'o200k_base';
  return openAiEncoding(model);
}

/**
 * cl100k_base for GPT-4 (not 4o/4.1/4.5), GPT-3.5, text-embedding-3-*, text-embedding-ada-002 and
 * davinci-002/babbage-002 (as tiktoken maps them); o200k_base for everything else: gpt-4o*, gpt-4.1*,
 * gpt-4.5*, gpt-5*, o1*, o3*, o4*, chatgpt-4o*, gpt-oss*, and ids we do not know (new models use it).
 * Fine-tuned ids (`ft:gpt-4o-mini:org::id`) count as their base model. Azure deployment names are
 * free-form: named after the model (the usual practice) they resolve like it, otherwise o200k_base.
 */
function openAiEncoding(model: string | null): EncodingName {
  if (model === null) return 'o200k_base';
  let id = model.trim().toLowerCase();
  if (id.startsWith('ft:')) id = id.slice(3).split(':')[0] ?? '';
  id = id.slice(id.lastIndexOf('/') + 1);
  if (/^gpt-?4(?:-(?!o)|$)/.test(id)) return 'cl100k_base';
  if (/^gpt-?3\.?5/.test(id)) return 'cl100k_base';
  if (/^text-embedding-(?:3|ada-002)/.test(id)) return 'cl100k_base';
  if (id === 'davinci-002' || id === 'babbage-002') return 'cl100k_base';
  return 'o200k_base';
}

/** 1 where the count is exact; the family's estimate factor otherwise. */
export function estimateFactorFor(provider: ProviderName | number, model: string | null): number {
  switch (provider) {
    case 'OPENAI':
    case 'AZURE_OPENAI':
      return 1;
    case 'ANTHROPIC':
      return ESTIMATE_FACTORS.claude;
    case 'MISTRAL':
      return ESTIMATE_FACTORS.mistral;
    case 'AWS_BEDROCK':
      return ESTIMATE_FACTORS[bedrockModelFamily(model)];
    default:
      return ESTIMATE_FACTORS.unknown;
  }
}

/**
 * The model family of a Bedrock model id as it appears in the path: a foundation model id
 * (`anthropic.claude-3-5-sonnet-20240620-v1:0`), a cross-region inference profile
 * (`us.anthropic.claude-...`), or an ARN (`arn:aws:bedrock:...:inference-profile/us.meta.llama3-...`),
 * possibly percent-encoded. An application inference profile ARN names no model: 'unknown'.
 */
export function bedrockModelFamily(modelId: string | null): ModelFamily {
  if (modelId === null) return 'unknown';
  let id = modelId;
  try {
    id = decodeURIComponent(modelId);
  } catch {
    // Malformed escapes: match on the raw id.
  }
  id = id.toLowerCase();
  if (id.includes('anthropic.') || id.includes('claude')) return 'claude';
  if (id.includes('mistral') || id.includes('mixtral') || id.includes('pixtral')) return 'mistral';
  if (id.includes('llama')) return 'llama';
  if (id.includes('openai.') || id.includes('gpt-oss')) return 'openai';
  return 'unknown';
}
