import type { BackendAuthMessage } from '../../config-stream/wire-types';
import type { ProviderAdapter, UpstreamAuthenticator } from '../provider-adapter';
import { compileCredentialHeader, requireApiKeyAuth, setCredentialHeader } from '../shared/api-key-header';
import { bedrockErrorResponse } from './bedrock-error';
import { bedrockUnsupportedOperation } from './bedrock-path';
import { bedrockPromptCounting } from './bedrock-prompt';
import { bedrockUsageAccounting } from './bedrock-usage';
import { bedrockStreamCutoff } from './bedrock-cutoff';
import { compileSigV4Authenticator } from './sigv4-authenticator';

/**
 * AWS Bedrock Runtime: SigV4 (the proxy signs the final upstream request, so it buffers the body) or a
 * Bedrock API key sent as `Authorization: Bearer` (streamed like every other provider).
 */
export const awsBedrockAdapter: ProviderAdapter = {
  id: 'AWS_BEDROCK',
  label: 'aws-bedrock',
  // `/model/{modelId}/…`, `/guardrail/{guardrailIdentifier}/…` and `/async-invoke/{invocationArn}`
  // take ARNs, which the AWS SDK sends with '/' as `%2F` (`…:inference-profile%2Fus.anthropic…`).
  encodedIdentifierAfter: new Set(['model', 'guardrail', 'async-invoke']),
  compileAuthenticator(auth: BackendAuthMessage): UpstreamAuthenticator {
    if (auth.aws_sigv4) return compileSigV4Authenticator(auth.aws_sigv4);
    const header = compileCredentialHeader(requireApiKeyAuth(auth, 'aws-bedrock'), 'authorization');
    return { kind: 'headers', apply: (draft) => setCredentialHeader(draft, header) };
  },
  errorResponse: bedrockErrorResponse,
  usage: bedrockUsageAccounting,
  prompt: bedrockPromptCounting,
  streamCutoff: bedrockStreamCutoff,
  unsupportedOperation: bedrockUnsupportedOperation,
};
