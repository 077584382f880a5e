import type { UpstreamEndpoint, UpstreamRequestDraft } from '../provider-adapter';
import { apiKeyAuth } from '../../../../test/support/data-plane/snapshot-fixtures';
import { openAiAdapter } from './openai-adapter';

const endpoint: UpstreamEndpoint = { protocol: 'https:', hostname: 'api.openai.com', port: 443, hostHeader: 'api.openai.com' };

function draft(): UpstreamRequestDraft {
  return { method: 'POST', path: '/v1/chat/completions', query: '', headers: { host: 'api.openai.com', 'content-type': 'application/json' } };
}

describe('openAiAdapter', () => {
  it('sets the configured header verbatim (header_value is complete)', () => {
    const authenticator = openAiAdapter.compileAuthenticator(apiKeyAuth('Authorization', 'Bearer sk-live'), endpoint);
    const request = draft();
    if (authenticator.kind !== 'headers') throw new Error('expected a header authenticator');
    authenticator.apply(request);
    expect(request.headers).toEqual({ host: 'api.openai.com', 'content-type': 'application/json', authorization: 'Bearer sk-live' });
  });

  it('falls back to Authorization when the header name is empty', () => {
    const authenticator = openAiAdapter.compileAuthenticator(apiKeyAuth('', 'Bearer sk-live'), endpoint);
    const request = draft();
    if (authenticator.kind === 'headers') authenticator.apply(request);
    expect(request.headers['authorization']).toBe('Bearer sk-live');
  });

  it.each([
    [401, 'unauthenticated', 'invalid_request_error'],
    [404, 'route_not_found', 'invalid_request_error'],
    [429, 'unauthenticated', 'tokens'],
    [502, 'upstream_unreachable', 'server_error'],
  ] as const)('renders %i as OpenAI error type %s', (status, code, type) => {
    const rendered = openAiAdapter.errorResponse(status, code, 'why', 'req-1');
    expect(rendered.contentType).toBe('application/json');
    expect(JSON.parse(rendered.body)).toEqual({ error: { message: 'why', type, param: null, code: `tokengate_${code}` } });
  });
});
