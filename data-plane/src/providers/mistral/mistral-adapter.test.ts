import { apiKeyAuth } from '../../../../test/support/data-plane/snapshot-fixtures';
import { mistralAdapter } from './mistral-adapter';

describe('mistralAdapter', () => {
  it('sends the configured Authorization header', () => {
    const authenticator = mistralAdapter.compileAuthenticator(apiKeyAuth('Authorization', 'Bearer mistral-secret'), { protocol: 'https:', hostname: 'api.mistral.ai', port: 443, hostHeader: 'api.mistral.ai' });
    const request = { method: 'POST', path: '/v1/chat/completions', query: '', headers: {} };
    if (authenticator.kind !== 'headers') throw new Error('expected a header authenticator');
    authenticator.apply(request);
    expect(request.headers).toEqual({ authorization: 'Bearer mistral-secret' });
  });

  it('renders errors in Mistral format, without null usage-like fields beyond the documented ones', () => {
    expect(JSON.parse(mistralAdapter.errorResponse(401, 'unauthenticated', 'Invalid API key.', 'r').body)).toEqual({
      object: 'error', message: 'Invalid API key.', type: 'invalid_request_error', param: null, code: 'tokengate_unauthenticated',
    });
  });
});
