// The encodings the token worker builds, and the estimate rule's provider-neutral part. Which model is
// counted with which encoding, and with which factor, is each provider's PromptCounting
// (../providers/<provider>/<provider>-prompt.ts).
export type EncodingName = 'o200k_base' | 'cl100k_base';
export const ENCODING_NAMES: readonly EncodingName[] = ['o200k_base', 'cl100k_base'];

/**
 * Providers without a public tokenizer are estimated as the o200k_base count times a factor of their
 * model family (PromptTally.total caps the result at the strings' byte length). Factors are chosen
 * slightly high: near the boundary an overestimate refuses a request that might just have fit, an
 * underestimate admits one that overshoots; either way the provider's reported usage replaces the
 * estimate. Each family's factor and its rationale sits with its provider: CLAUDE_ESTIMATE_FACTOR
 * (anthropic/), MISTRAL_ESTIMATE_FACTOR (mistral/), BEDROCK_ESTIMATE_FACTORS (aws-bedrock/).
 *
 * This one is for tokenizers nothing is known about (Amazon Titan/Nova, Cohere, AI21 and DeepSeek on
 * Bedrock, providers this proxy does not know): the most cautious factor in use.
 */
export const UNKNOWN_TOKENIZER_ESTIMATE_FACTOR = 1.25;
