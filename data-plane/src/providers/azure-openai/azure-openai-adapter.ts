import { compileApiVersion } from '../shared/api-key-header';
import { replaceQueryParameter } from '../shared/query-string';
import { createApiKeyProviderAdapter } from '../shared/api-key-provider-adapter';
import { azureDeployment } from './azure-openai-path';
import { azureOpenAiPromptCounting } from './azure-openai-prompt';
import { azureOpenAiUsageAccounting } from './azure-openai-usage';
import { azureOpenAiStreamCutoff } from './azure-openai-cutoff';
import { openAiRealtime, openAiRealtimeBypass } from '../shared/openai-realtime';

/**
 * Azure OpenAI differs from OpenAI by its `api-key` header and by the `api-version` query parameter.
 * Deployment paths (`/openai/deployments/{d}/…`, the dated API) need one: the environment's configured
 * api-version is added when the client sent none, and a client's own is kept. The v1 API
 * (`/openai/v1/…`, what the `openai` client and the AI SDKs call with a base URL) takes no dated
 * api-version and gets none. A service may be configured without one: then nothing is ever added.
 */
export const azureOpenAiAdapter = createApiKeyProviderAdapter({
  id: 'AZURE_OPENAI',
  label: 'azure-openai',
  defaultHeaderName: 'api-key',
  usage: azureOpenAiUsageAccounting,
  prompt: azureOpenAiPromptCounting,
  streamCutoff: azureOpenAiStreamCutoff,
  realtime: openAiRealtime,
  unsupportedOperation: openAiRealtimeBypass,
  compileVersioning: (auth) => {
    if (auth.api_version === '') return undefined;
    const apiVersion = compileApiVersion(auth.api_version, 'api-version');
    return (draft) => {
      // draft.path is the upstream path, base path included: a service URL ending in /openai still
      // shows its deployment paths, one ending in /openai/v1 never does.
      if (azureDeployment(draft.path) !== null && !sendsApiVersion(draft.query)) {
        draft.query = replaceQueryParameter(draft.query, 'api-version', apiVersion);
      }
    };
  },
});

/** Whether a raw query carries a non-empty api-version (names compared decoded, as Azure reads them). */
function sendsApiVersion(query: string): boolean {
  if (query.length <= 1) return false;
  return new URLSearchParams(query.slice(1)).getAll('api-version').some((value) => value !== '');
}
