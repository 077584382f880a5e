import { createOpenAiCompatibleStreamCutoff } from '../shared/openai-compatible-cutoff';

/** Plain OpenAI: the usage of a cut stream goes in the usage-only chunk, when the request asked for one. */
export const openAiStreamCutoff = createOpenAiCompatibleStreamCutoff({ usageOn: 'usage-chunk' });
