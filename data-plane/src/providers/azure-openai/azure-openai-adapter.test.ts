import type { UpstreamEndpoint, UpstreamRequestDraft } from '../provider-adapter';
import { apiKeyAuth } from '../../../../test/support/data-plane/snapshot-fixtures';
import { azureOpenAiAdapter } from './azure-openai-adapter';

const endpoint: UpstreamEndpoint = { protocol: 'https:', hostname: 'x.openai.azure.com', port: 443, hostHeader: 'x.openai.azure.com' };
const DEPLOYMENT = '/openai/deployments/gpt/chat/completions';

function applied(apiVersion: string, query: string, path = DEPLOYMENT): UpstreamRequestDraft {
  const authenticator = azureOpenAiAdapter.compileAuthenticator(apiKeyAuth('api-key', 'azure-secret', apiVersion), endpoint);
  const request: UpstreamRequestDraft = { method: 'POST', path, query, headers: {} };
  if (authenticator.kind !== 'headers') throw new Error('expected a header authenticator');
  authenticator.apply(request);
  return request;
}

describe('azureOpenAiAdapter', () => {
  it('sends api-key and adds the configured api-version to a deployment path when the client sent none', () => {
    const request = applied('2024-10-21', '');
    expect(request.headers).toEqual({ 'api-key': 'azure-secret' });
    expect(request.query).toBe('?api-version=2024-10-21');
    expect(applied('2024-10-21', '?foo=bar').query).toBe('?foo=bar&api-version=2024-10-21');
    expect(applied('2024-10-21', '?api-version=&foo=bar').query).toBe('?foo=bar&api-version=2024-10-21'); // an empty one is none
  });

  it("keeps the client's api-version on a deployment path, however the name is spelled", () => {
    for (const query of ['?api-version=2023-05-15', '?foo=bar&api-version=2025-04-01-preview', '?api%2Dversion=2024-06-01']) {
      expect(applied('2024-10-21', query).query).toBe(query);
    }
  });

  it('finds deployment paths below a service URL that ends in /openai, and on every deployment operation', () => {
    for (const path of ['/openai/deployments/gpt-4o/embeddings', '/deployments/gpt-4o/chat/completions', '/prefix/openai/deployments/d%20x/completions', '/openai/deployments/d']) {
      expect(applied('2024-10-21', '', path).query).toBe('?api-version=2024-10-21');
    }
  });

  it('adds no api-version on the v1 API or any other path, whatever the client sent', () => {
    for (const path of ['/openai/v1/chat/completions', '/openai/v1/responses', '/openai/v1/embeddings', '/openai/v1', '/chat/completions', '/openai/files', '/openai/deployments']) {
      expect(applied('2024-10-21', '', path).query).toBe('');
      expect(applied('2024-10-21', '?api-version=preview', path).query).toBe('?api-version=preview');
    }
  });

  it('adds nothing anywhere when the service has no api-version configured', () => {
    expect(applied('', '').query).toBe('');
    expect(applied('', '?api-version=2023-05-15').query).toBe('?api-version=2023-05-15');
    expect(applied('', '', '/openai/v1/chat/completions').query).toBe('');
  });

  it('refuses an api_version that would break the query string', () => {
    expect(() => azureOpenAiAdapter.compileAuthenticator(apiKeyAuth('api-key', 'k', '2024&x=1'), endpoint)).toThrow('is not a valid api-version');
  });

  it('uses the OpenAI error format', () => {
    expect(JSON.parse(azureOpenAiAdapter.errorResponse(403, 'forbidden', 'no', 'r').body)).toEqual({ error: { message: 'no', type: 'invalid_request_error', param: null, code: 'tokengate_forbidden' } });
  });
});
