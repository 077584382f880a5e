import { createOpenAiCompatibleStreamCutoff } from '../shared/openai-compatible-cutoff';

/** Mistral reports usage on its last chunk (the one with finish_reason), never as `"usage": null`. */
export const mistralStreamCutoff = createOpenAiCompatibleStreamCutoff({ usageOn: 'finish-chunk' });
