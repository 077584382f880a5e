// How a provider's prompts are counted for rate limits, before the provider reports usage. One
// implementation per provider folder (`<provider>-prompt.ts`), registered in prompt-registry.ts and
// referenced by the folder's ProviderAdapter. These modules run in TokenCounter's worker thread: they
// import tokens/ and path parsing only, never usage observers, signing or HTTP code.
import type { EncodingName } from '../tokens/encodings';
import type { JsonObject, PromptTally } from '../tokens/prompt-tally';

/**
 * Every method is pure, synchronous and accepts any parsed JSON without throwing. `providerPath` is
 * the path after the service's context path with its query and trailing slashes removed
 * (`/v1/chat/completions`, `/openai/deployments/x/embeddings`, `/model/anthropic.claude-…%3A0/converse`).
 */
export interface PromptCounting {
  /**
   * The model a request names when the caller has none to give: the same rule as the provider's
   * `prepareRequest` (body `model`, Azure's deployment, Bedrock's model id from the path).
   */
  requestModel(providerPath: string, body: unknown): string | null;
  /** The encoding that counts `model` exactly (OpenAI models) or is the base of its estimate (every other). */
  encoding(model: string | null): EncodingName;
  /** 1 where `encoding` counts exactly; otherwise the model family's estimate factor (see PromptTally.total). */
  estimateFactor(model: string | null): number;
  /**
   * Adds to `tally` what the provider counts as prompt in `body` sent to `providerPath`: the strings
   * the model reads and the framing it adds. Bodies of a shape the provider does not define count all
   * their strings (`tally.strings(body)`). `model` is the request's model, as resolved by the caller.
   */
  tally(tally: PromptTally, providerPath: string, body: JsonObject, model: string | null): void;
  /**
   * The completion tokens a request may produce, from the limit it sets, or null when it sets none;
   * 0 for endpoints that produce no completion (embeddings).
   */
  expectedCompletionTokens(providerPath: string, body: JsonObject): number | null;
}
