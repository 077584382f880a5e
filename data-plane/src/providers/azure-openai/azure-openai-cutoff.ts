import { createOpenAiCompatibleStreamCutoff } from '../shared/openai-compatible-cutoff';

/** Azure OpenAI closes a stream as OpenAI does (its opening `choices: []` chunk names no choice to end). */
export const azureOpenAiStreamCutoff = createOpenAiCompatibleStreamCutoff({ usageOn: 'usage-chunk' });
