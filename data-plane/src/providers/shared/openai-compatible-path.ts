// The endpoint an OpenAI-style path names, read once for usage accounting (the operation) and for
// prompt counting (which tally applies). OpenAI, Azure OpenAI and Mistral share it.
import type { UsageOperation } from '../usage-accounting';

/** The path's last one or two segments, for the endpoints the usage or the prompt count tell apart. */
export type OpenAiEndpoint =
  | 'chat/completions'
  | 'agents/completions' // Mistral
  | 'fim/completions' // Mistral
  | 'completions'
  | 'responses'
  | 'responses/input_tokens'
  | 'embeddings'
  | 'moderations' // OpenAI `/v1/moderations`; Mistral `/v1/moderations` and `/v1/chat/moderations`
  | 'ocr'; // Mistral

const ENDPOINT_PATH = /\/((?:chat\/|agents\/|fim\/)?completions|responses(?:\/input_tokens)?|embeddings|moderations|ocr)\/?$/;

/** The endpoint `providerPath` ends with (one trailing slash allowed), or null for any other path. */
export function openAiEndpoint(providerPath: string): OpenAiEndpoint | null {
  return (ENDPOINT_PATH.exec(providerPath)?.[1] as OpenAiEndpoint | undefined) ?? null;
}

const OPERATIONS: Readonly<Record<OpenAiEndpoint, UsageOperation>> = {
  'chat/completions': 'chat_completions',
  'agents/completions': 'completions',
  'fim/completions': 'completions',
  completions: 'completions',
  responses: 'responses',
  'responses/input_tokens': 'count_tokens',
  embeddings: 'embeddings',
  moderations: 'moderations',
  ocr: 'ocr',
};

/** The operation an OpenAI-style path names (chat and legacy/FIM completions, Responses, embeddings, moderations). */
export function openAiOperation(providerPath: string): UsageOperation {
  const endpoint = openAiEndpoint(providerPath);
  return endpoint === null ? 'other' : OPERATIONS[endpoint];
}
