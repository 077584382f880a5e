import { createOpenAiCompatiblePromptCounting } from '../shared/openai-compatible-prompt';

/** Plain OpenAI: the base as it is, counted exactly with the encoding of the model the body names. */
export const openAiPromptCounting = createOpenAiCompatiblePromptCounting({});
