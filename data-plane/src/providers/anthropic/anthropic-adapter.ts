import { compileApiVersion } from '../shared/api-key-header';
import { createApiKeyProviderAdapter } from '../shared/api-key-provider-adapter';
import { anthropicErrorResponse } from './anthropic-error';
import { anthropicPromptCounting } from './anthropic-prompt';
import { anthropicUsageAccounting } from './anthropic-usage';
import { anthropicStreamCutoff } from './anthropic-cutoff';

/** Message Batches and their reads (create, list, retrieve, cancel): their objects name `results_url`. */
const MESSAGE_BATCHES = /\/messages\/batches(?:\/[^/]+(?:\/cancel)?)?\/?$/;
const RESULTS_URL = ['results_url'] as const;

/** The version Anthropic's SDKs send today; used only when neither the config nor the client names one. */
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

/**
 * Anthropic: `x-api-key` (by default) and `anthropic-version`, which is the configured api_version when
 * there is one, else the client's, else DEFAULT_ANTHROPIC_VERSION (the API rejects requests without it).
 */
export const anthropicAdapter = createApiKeyProviderAdapter({
  id: 'ANTHROPIC',
  label: 'anthropic',
  defaultHeaderName: 'x-api-key',
  compileVersioning: (auth) => {
    if (auth.api_version !== '') {
      const pinned = compileApiVersion(auth.api_version, 'anthropic-version');
      return (draft) => {
        draft.headers['anthropic-version'] = pinned;
      };
    }
    return (draft) => {
      if (draft.headers['anthropic-version'] === undefined) draft.headers['anthropic-version'] = DEFAULT_ANTHROPIC_VERSION;
    };
  },
  errorResponse: anthropicErrorResponse,
  usage: anthropicUsageAccounting,
  prompt: anthropicPromptCounting,
  streamCutoff: anthropicStreamCutoff,
  // The SDK fetches a batch's results from its `results_url` as given: under the proxy, not the provider.
  responseUrlMembers: (providerPath) => (MESSAGE_BATCHES.test(providerPath) ? RESULTS_URL : null),
});
