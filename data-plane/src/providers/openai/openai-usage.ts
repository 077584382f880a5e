import { createOpenAiCompatibleUsageAccounting } from '../shared/openai-compatible-usage';

/**
 * Plain OpenAI: the base as it is. Streamed (chat) completions report usage only with
 * `stream_options.include_usage`, which every version of the API accepts, so it is always injected
 * when the client did not ask for it. `POST /v1/moderations` is free (OpenAI's moderation models are
 * "free models for detecting harmful content") and answers without usage. Every answer OpenAI bills
 * tokens for reports its usage, so an answer of another endpoint without usage is charged nothing.
 */
export const openAiUsageAccounting = createOpenAiCompatibleUsageAccounting({
  acceptsStreamOptions: () => true,
  freeOperations: new Set(['moderations']),
  reportsUsageOfEveryTokenCharge: true,
});
