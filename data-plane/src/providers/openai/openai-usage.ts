import { createOpenAiCompatibleUsageAccounting } from '../shared/openai-compatible-usage';

/**
 * Plain OpenAI: the base as it is. Streamed (chat) completions report usage only with
 * `stream_options.include_usage`, which every version of the API accepts, so it is always injected
 * when the client did not ask for it. `POST /v1/moderations` is free (OpenAI's moderation models are
 * "free models for detecting harmful content") and answers without usage.
 */
export const openAiUsageAccounting = createOpenAiCompatibleUsageAccounting({
  acceptsStreamOptions: () => true,
  freeOperations: new Set(['moderations']),
});
