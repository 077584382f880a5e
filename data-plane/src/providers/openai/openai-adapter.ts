import { createApiKeyProviderAdapter } from '../shared/api-key-provider-adapter';
import { openAiPromptCounting } from './openai-prompt';
import { openAiUsageAccounting } from './openai-usage';
import { openAiStreamCutoff } from './openai-cutoff';
import { openAiRealtime, openAiRealtimeBypass } from '../shared/openai-realtime';

/** Plain OpenAI: `Authorization: Bearer <key>` (header_value arrives complete), OpenAI error format. */
export const openAiAdapter = createApiKeyProviderAdapter({
  id: 'OPENAI',
  label: 'openai',
  defaultHeaderName: 'authorization',
  usage: openAiUsageAccounting,
  prompt: openAiPromptCounting,
  streamCutoff: openAiStreamCutoff,
  realtime: openAiRealtime,
  unsupportedOperation: openAiRealtimeBypass,
});
