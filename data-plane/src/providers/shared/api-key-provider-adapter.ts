// Base for the providers that authenticate with one API-key header (OpenAI, Azure OpenAI, Mistral,
// Anthropic): each lists only how it differs (default header, version header/query, error format).
import type { ApiKeyAuthMessage, BackendAuthMessage, ProviderName } from '../../config-stream/wire-types';
import type { ErrorResponse, ProviderAdapter, TokengateErrorCode, UpstreamAuthenticator, UpstreamRequestDraft } from '../provider-adapter';
import type { PromptCounting } from '../prompt-counting';
import type { RealtimeSupport } from '../realtime';
import type { StreamCutoff } from '../stream-cutoff';
import type { UsageAccounting } from '../usage-accounting';
import { compileCredentialHeader, requireApiKeyAuth, setCredentialHeader } from './api-key-header';
import { openAiErrorResponse } from '../openai/openai-error';

/** What a provider changes relative to plain OpenAI. */
export interface ApiKeyProviderDifferences {
  readonly id: ProviderName;
  readonly label: string;
  /** Header used when the control plane sends an empty header_name. */
  readonly defaultHeaderName: string;
  /**
   * Builds, once per service, the extra per-request edit derived from api_version (or fixed);
   * undefined when the provider needs none. Throws BackendAuthConfigError for unusable values.
   */
  readonly compileVersioning?: (auth: ApiKeyAuthMessage) => ((draft: UpstreamRequestDraft) => void) | undefined;
  readonly errorResponse?: (status: number, code: TokengateErrorCode, message: string, requestId: string) => ErrorResponse;
  /** How the provider's requests and responses are read for token accounting. */
  readonly usage: UsageAccounting;
  /** How the provider's prompts are counted (the object registered in prompt-registry.ts). */
  readonly prompt: PromptCounting;
  /** How the provider's streams are ended by a cut-off; absent: never cut. */
  readonly streamCutoff?: StreamCutoff;
  /** The provider's Realtime WebSocket sessions; absent: none. */
  readonly realtime?: RealtimeSupport;
  /** See ProviderAdapter.responseUrlMembers. */
  readonly responseUrlMembers?: ProviderAdapter['responseUrlMembers'];
  /** See ProviderAdapter.unsupportedOperation. */
  readonly unsupportedOperation?: ProviderAdapter['unsupportedOperation'];
}

export function createApiKeyProviderAdapter(differences: ApiKeyProviderDifferences): ProviderAdapter {
  const renderError = differences.errorResponse ?? openAiErrorResponse;
  return {
    id: differences.id,
    label: differences.label,
    compileAuthenticator(auth: BackendAuthMessage): UpstreamAuthenticator {
      const apiKey = requireApiKeyAuth(auth, differences.label);
      const header = compileCredentialHeader(apiKey, differences.defaultHeaderName);
      const versioning = differences.compileVersioning?.(apiKey);
      if (versioning === undefined) {
        return { kind: 'headers', apply: (draft) => setCredentialHeader(draft, header) };
      }
      return {
        kind: 'headers',
        apply: (draft) => {
          setCredentialHeader(draft, header);
          versioning(draft);
        },
      };
    },
    errorResponse: (status, code, message, requestId) => renderError(status, code, message, requestId),
    usage: differences.usage,
    prompt: differences.prompt,
    ...(differences.streamCutoff === undefined ? {} : { streamCutoff: differences.streamCutoff }),
    ...(differences.realtime === undefined ? {} : { realtime: differences.realtime }),
    ...(differences.unsupportedOperation === undefined ? {} : { unsupportedOperation: differences.unsupportedOperation }),
    ...(differences.responseUrlMembers === undefined ? {} : { responseUrlMembers: differences.responseUrlMembers }),
  };
}
