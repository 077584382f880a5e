import { downstreamResponseHeaders, upstreamRequestHeaders, proxiedLocation } from './forwarded-headers';
import { hasDotSegment } from './proxy-request-handler';

describe('upstreamRequestHeaders', () => {
  it('drops hop-by-hop, pseudo, credential and AWS signing headers, keeping the rest', () => {
    expect(
      upstreamRequestHeaders({
        ':authority': 'proxy', ':path': '/x', host: 'proxy:8080', connection: 'keep-alive, X-Private', 'x-private': '1', 'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked', te: 'trailers', trailer: 'x', upgrade: 'h2c', 'proxy-authorization': 'Basic x', 'http2-settings': 'AAA', expect: '100-continue',
        authorization: 'Bearer tgk', 'api-key': 'tgk', 'x-api-key': 'tgk', 'x-amz-date': 'd', 'x-amz-security-token': 't', 'x-amz-content-sha256': 'h', 'amz-sdk-request': 'attempt=1',
        'x-amzn-bedrock-trace': 'ENABLED', 'content-type': 'application/json', 'content-length': '2', 'anthropic-version': '2023-06-01', accept: 'text/event-stream', 'set-cookie': ['a', 'b'],
      }),
    ).toEqual({
      'x-amzn-bedrock-trace': 'ENABLED', 'content-type': 'application/json', 'content-length': '2', 'anthropic-version': '2023-06-01', accept: 'text/event-stream', 'set-cookie': ['a', 'b'],
    });
  });
});

describe('downstreamResponseHeaders', () => {
  it('drops hop-by-hop headers (forbidden in HTTP/2) and alt-svc', () => {
    expect(
      downstreamResponseHeaders({ connection: 'keep-alive', 'keep-alive': 'timeout=5', 'transfer-encoding': 'chunked', 'alt-svc': 'h3', 'content-type': 'text/event-stream', 'x-request-id': 'req_1', 'set-cookie': ['a'] }),
    ).toEqual({ 'content-type': 'text/event-stream', 'x-request-id': 'req_1', 'set-cookie': ['a'] });
  });
});

describe('hasDotSegment', () => {
  it.each([
    ['/acme/svc/v1/chat', false],
    ['/acme/svc/v1.2/x.json', false],
    ['/acme/svc/.well-known', false],
    ['/acme/svc/%2F/x', false],
    ['/acme/svc/../x', true],
    ['/acme/svc/./x', true],
    ['/acme/svc/..', true],
    ['/acme/svc/%2e%2e/x', true],
    ['/acme/svc/.%2E/x', true],
    ['/acme/svc/%2E', true],
  ])('%s → %s', (path, expected) => {
    expect(hasDotSegment(path)).toBe(expected);
  });
});

describe('proxiedLocation', () => {
  const upstream = { origin: 'https://api.openai.com', basePath: '/v1' };
  it.each([
    ['https://api.openai.com/v1/files/file-1/content', '/acme/openai/files/file-1/content'],
    ['/v1/files/file-1/content?download=1#part', '/acme/openai/files/file-1/content?download=1#part'],
    ['content', '/acme/openai/files/file-1/content'],
    ['https://api.openai.com/v1', '/acme/openai'],
  ])('%s → %s (inside the upstream: through the proxy)', (location, expected) => {
    expect(proxiedLocation(location, upstream, '/v1/files/file-1/', '/acme/openai')).toBe(expected);
  });

  it.each([
    ['https://files.oaiusercontent.com/file-1?sig=abc'],
    ['http://api.openai.com/v1/files'],
    ['https://api.openai.com/v2/files'],
    ['https://api.openai.com/v10/files'],
    ['http://[bad'],
  ])('%s is left as the provider sent it', (location) => {
    expect(proxiedLocation(location, upstream, '/v1/files', '/acme/openai')).toBeNull();
  });

  it('rewrites any same-origin path when the upstream has no base path, and ignores absent or repeated headers', () => {
    expect(proxiedLocation('/models/x', { origin: 'http://127.0.0.1:9000', basePath: '' }, '/models', '/acme/mistral')).toBe('/acme/mistral/models/x');
    expect(proxiedLocation(undefined, upstream, '/v1', '/acme/openai')).toBeNull();
    expect(proxiedLocation(['/v1/a', '/v1/b'], upstream, '/v1', '/acme/openai')).toBeNull();
  });
});
