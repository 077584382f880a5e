// Compile-time guard: both protocols' request/response classes fit the one surface the handler uses.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { ProxyRequest, ProxyRequestListener, ProxyResponse } from './proxy-types';

type Fits<Actual, Surface> = Actual extends Surface ? true : false;

it('accepts node:http and node:http2 compatibility objects', () => {
  const checks: [Fits<IncomingMessage, ProxyRequest>, Fits<ServerResponse, ProxyResponse>, Fits<Http2ServerRequest, ProxyRequest>, Fits<Http2ServerResponse, ProxyResponse>] = [true, true, true, true];
  const asHttp1: (req: IncomingMessage, res: ServerResponse) => void = (() => undefined) as ProxyRequestListener;
  const asHttp2: (req: Http2ServerRequest, res: Http2ServerResponse) => void = (() => undefined) as ProxyRequestListener;
  expect(checks).toEqual([true, true, true, true]);
  expect([typeof asHttp1, typeof asHttp2]).toEqual(['function', 'function']);
});
