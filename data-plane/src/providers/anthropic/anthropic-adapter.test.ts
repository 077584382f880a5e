import type { OutgoingHttpHeaders } from 'node:http';
import type { UpstreamEndpoint } from '../provider-adapter';
import { apiKeyAuth } from '../../../../test/support/data-plane/snapshot-fixtures';
import { anthropicAdapter } from './anthropic-adapter';

const endpoint: UpstreamEndpoint = { protocol: 'https:', hostname: 'api.anthropic.com', port: 443, hostHeader: 'api.anthropic.com' };

function headersAfter(apiVersion: string, clientHeaders: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const authenticator = anthropicAdapter.compileAuthenticator(apiKeyAuth('x-api-key', 'sk-ant-secret', apiVersion), endpoint);
  const request = { method: 'POST', path: '/v1/messages', query: '', headers: { ...clientHeaders } };
  if (authenticator.kind !== 'headers') throw new Error('expected a header authenticator');
  authenticator.apply(request);
  return request.headers;
}

describe('anthropicAdapter', () => {
  it('sends x-api-key and picks anthropic-version: configured, else the client one, else the default', () => {
    expect(headersAfter('2024-01-01', { 'anthropic-version': '2023-06-01' })).toEqual({ 'x-api-key': 'sk-ant-secret', 'anthropic-version': '2024-01-01' });
    expect(headersAfter('', { 'anthropic-version': '2023-01-01' })).toEqual({ 'x-api-key': 'sk-ant-secret', 'anthropic-version': '2023-01-01' });
    expect(headersAfter('', {})).toEqual({ 'x-api-key': 'sk-ant-secret', 'anthropic-version': '2023-06-01' });
  });

  it.each([
    [400, 'invalid_request_error'],
    [401, 'authentication_error'],
    [403, 'permission_error'],
    [404, 'not_found_error'],
    [413, 'request_too_large'],
    [429, 'rate_limit_error'],
    [500, 'api_error'],
    [502, 'api_error'],
    [503, 'api_error'],
    [504, 'timeout_error'],
  ])('renders %i as Anthropic error type %s', (status, type) => {
    expect(JSON.parse(anthropicAdapter.errorResponse(status, 'forbidden', 'why', 'req-9').body)).toEqual({
      type: 'error',
      error: { type, message: 'why', tokengate_code: 'forbidden' },
      request_id: 'req-9',
    });
  });
});
