import type { UpstreamEndpoint, UpstreamRequestDraft } from '../provider-adapter';
import { apiKeyAuth } from '../../testing/snapshot-fixtures';
import { azureOpenAiAdapter } from './azure-openai-adapter';

const endpoint: UpstreamEndpoint = { protocol: 'https:', hostname: 'x.openai.azure.com', port: 443, hostHeader: 'x.openai.azure.com' };

function applied(apiVersion: string, query: string): UpstreamRequestDraft {
  const authenticator = azureOpenAiAdapter.compileAuthenticator(apiKeyAuth('api-key', 'azure-secret', apiVersion), endpoint);
  const request: UpstreamRequestDraft = { method: 'POST', path: '/openai/deployments/gpt/chat/completions', query, headers: {} };
  if (authenticator.kind !== 'headers') throw new Error('expected a header authenticator');
  authenticator.apply(request);
  return request;
}

describe('azureOpenAiAdapter', () => {
  it('sends api-key and replaces the client api-version with the configured one', () => {
    const request = applied('2024-10-21', '?api-version=2023-05-15&foo=bar&api%2Dversion=x');
    expect(request.headers).toEqual({ 'api-key': 'azure-secret' });
    expect(request.query).toBe('?foo=bar&api-version=2024-10-21');
  });

  it('adds api-version when the client sent none, and keeps the client one when none is configured', () => {
    expect(applied('2024-10-21', '').query).toBe('?api-version=2024-10-21');
    expect(applied('', '?api-version=2023-05-15').query).toBe('?api-version=2023-05-15');
  });

  it('refuses an api_version that would break the query string', () => {
    expect(() => azureOpenAiAdapter.compileAuthenticator(apiKeyAuth('api-key', 'k', '2024&x=1'), endpoint)).toThrow('is not a valid api-version');
  });

  it('uses the OpenAI error format', () => {
    expect(JSON.parse(azureOpenAiAdapter.errorResponse(403, 'forbidden', 'no', 'r').body)).toEqual({ error: { message: 'no', type: 'invalid_request_error', param: null, code: 'tokengate_forbidden' } });
  });
});
