import { compileApiVersion } from '../shared/api-key-header';
import { replaceQueryParameter } from '../shared/query-string';
import { createApiKeyProviderAdapter } from '../shared/api-key-provider-adapter';
import { azureOpenAiPromptCounting } from './azure-openai-prompt';
import { azureOpenAiUsageAccounting } from './azure-openai-usage';
import { azureOpenAiStreamCutoff } from './azure-openai-cutoff';

/**
 * Azure OpenAI differs from OpenAI by its `api-key` header and by the `api-version` query parameter:
 * when the environment configures one it replaces whatever the client sent (the platform engineer pins
 * the API version); otherwise the client's is forwarded untouched.
 */
export const azureOpenAiAdapter = createApiKeyProviderAdapter({
  id: 'AZURE_OPENAI',
  label: 'azure-openai',
  defaultHeaderName: 'api-key',
  usage: azureOpenAiUsageAccounting,
  prompt: azureOpenAiPromptCounting,
  streamCutoff: azureOpenAiStreamCutoff,
  compileVersioning: (auth) => {
    if (auth.api_version === '') return undefined;
    const apiVersion = compileApiVersion(auth.api_version, 'api-version');
    return (draft) => {
      draft.query = replaceQueryParameter(draft.query, 'api-version', apiVersion);
    };
  },
});
