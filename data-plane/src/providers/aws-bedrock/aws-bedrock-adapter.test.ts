import type { UpstreamEndpoint } from '../provider-adapter';
import { apiKeyAuth, sigV4Auth } from '../../../../test/support/data-plane/snapshot-fixtures';
import { awsBedrockAdapter } from './aws-bedrock-adapter';
import { bedrockErrorType } from './bedrock-error';
import { parseQueryForSigning } from './sigv4-authenticator';

const endpoint: UpstreamEndpoint = { protocol: 'https:', hostname: 'bedrock-runtime.us-east-1.amazonaws.com', port: 443, hostHeader: 'bedrock-runtime.us-east-1.amazonaws.com' };

describe('awsBedrockAdapter', () => {
  it('signs with SigV4 over host, content type, date, payload hash and session token', async () => {
    const authenticator = awsBedrockAdapter.compileAuthenticator(sigV4Auth({ sessionToken: 'session-token' }), endpoint);
    if (authenticator.kind !== 'signed-body') throw new Error('expected a signing authenticator');
    const request = { method: 'POST', path: '/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse', query: '', headers: { host: endpoint.hostHeader, 'content-type': 'application/json', 'user-agent': 'x' } };
    await authenticator.sign(request, Buffer.from('{"messages":[]}'), endpoint);
    expect(request.headers).toMatchObject({
      'x-amz-content-sha256': expect.stringMatching(/^[0-9a-f]{64}$/),
      'x-amz-date': expect.stringMatching(/^\d{8}T\d{6}Z$/),
      'x-amz-security-token': 'session-token',
      'content-length': 15,
      authorization: expect.stringMatching(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLETESTKEY01\/\d{8}\/us-east-1\/bedrock\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
      ),
    });
  });

  it('accepts a Bedrock API key as a Bearer header', () => {
    const authenticator = awsBedrockAdapter.compileAuthenticator(apiKeyAuth('Authorization', 'Bearer bedrock-api-key'), endpoint);
    const request = { method: 'POST', path: '/model/m/converse', query: '', headers: {} };
    if (authenticator.kind !== 'headers') throw new Error('expected a header authenticator');
    authenticator.apply(request);
    expect(request.headers).toEqual({ authorization: 'Bearer bedrock-api-key' });
  });

  it('renders errors as restJson1 with the exception name the SDK maps', () => {
    const rendered = awsBedrockAdapter.errorResponse(403, 'forbidden', 'not allowed', 'req-7');
    expect(rendered).toEqual({
      contentType: 'application/json',
      body: JSON.stringify({ message: 'not allowed', tokengate_code: 'forbidden' }),
      headers: { 'x-amzn-errortype': 'AccessDeniedException', 'x-amzn-requestid': 'req-7' },
    });
    expect([400, 401, 404, 413, 429, 500, 501, 502, 503, 504].map(bedrockErrorType)).toEqual([
      'ValidationException', 'AccessDeniedException', 'ResourceNotFoundException', 'ValidationException', 'ThrottlingException',
      'InternalServerException', 'ValidationException', 'ServiceUnavailableException', 'ServiceUnavailableException', 'ModelTimeoutException',
    ]);
  });

  it('decodes a raw query for canonicalization', () => {
    expect(parseQueryForSigning('')).toEqual({});
    expect(parseQueryForSigning('?a=1&b&a=2&c=%3A%20')).toEqual({ a: ['1', '2'], b: '', c: ': ' });
  });
});
