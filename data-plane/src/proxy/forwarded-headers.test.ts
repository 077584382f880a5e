import { downstreamResponseHeaders, upstreamRequestHeaders } from './forwarded-headers';
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
