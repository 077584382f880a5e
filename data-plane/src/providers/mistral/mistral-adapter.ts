import { createApiKeyProviderAdapter } from '../shared/api-key-provider-adapter';
import { mistralErrorResponse } from './mistral-error';
import { mistralPromptCounting } from './mistral-prompt';
import { mistralUsageAccounting } from './mistral-usage';
import { mistralStreamCutoff } from './mistral-cutoff';

/** Mistral: OpenAI-style `Authorization: Bearer`, its own flat error format. */
export const mistralAdapter = createApiKeyProviderAdapter({
  id: 'MISTRAL',
  label: 'mistral',
  defaultHeaderName: 'authorization',
  errorResponse: mistralErrorResponse,
  usage: mistralUsageAccounting,
  prompt: mistralPromptCounting,
  streamCutoff: mistralStreamCutoff,
});
