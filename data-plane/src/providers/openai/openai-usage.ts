import { createOpenAiCompatibleUsageAccounting } from '../shared/openai-compatible-usage';

/**
 * Plain OpenAI: the base as it is. Streamed (chat) completions report usage only with
 * `stream_options.include_usage`, which every version of the API accepts, so it is always injected
 * when the client did not ask for it.
 */
export const openAiUsageAccounting = createOpenAiCompatibleUsageAccounting({
  acceptsStreamOptions: () => true,
});
