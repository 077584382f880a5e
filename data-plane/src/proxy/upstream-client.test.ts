// The proxy's upstream client (undici, ADR 010) as a user of a real provider meets it: https with the
// provider's certificate, warm keep-alive sockets, and never a second upstream call for one request.
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { startProxyHarness, type ProxyHarness } from '../../../test/support/data-plane/proxy-harness';
import { httpRequest } from '../../../test/support/data-plane/http-client';
import { consumerKeyFixture, serviceFixture } from '../../../test/support/data-plane/snapshot-fixtures';
import { TEST_TLS } from '../../../test/support/data-plane/tls-fixtures';

const KEY = 'tgk_upstream_client_key';
const AUTH = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };

let harness: ProxyHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/** An https provider stand-in (certificate for localhost/127.0.0.1 from the test CA); counts the TLS connections and the requests it accepted. */
async function httpsUpstream(): Promise<{ url: string; connections: () => number; requests: () => number; close: () => Promise<void> }> {
  let connections = 0;
  let requests = 0;
  const server = https.createServer({ ...TEST_TLS, keepAliveTimeout: 30_000 }, (req, res) => {
    requests += 1;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = JSON.stringify({ id: 'chatcmpl-tls', object: 'chat.completion', echo: Buffer.concat(chunks).toString(), usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
  });
  server.on('secureConnection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://localhost:${port}/v1`,
    connections: () => connections,
    requests: () => requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('an https upstream', () => {
  it('is called over TLS with the configured CA, and sequential requests share one warm connection', async () => {
    const upstream = await httpsUpstream();
    try {
      harness = await startProxyHarness({ upstreamAgents: { freeSocketTimeoutMs: 15_000, maxSocketsPerOrigin: null, ca: TEST_TLS.cert } });
      harness.apply([serviceFixture({ id: 'openai', context_path: '/openai', upstream_url: upstream.url })], [consumerKeyFixture(KEY, 'openai')]);
      for (let i = 0; i < 5; i += 1) {
        const response = await httpRequest(`${harness.proxy.url}/acme/openai/chat/completions`, { method: 'POST', headers: AUTH, body: `{"model":"gpt-4o","n":${i}}` });
        expect(response.status).toBe(200);
        expect(JSON.parse(response.text)).toMatchObject({ id: 'chatcmpl-tls', echo: `{"model":"gpt-4o","n":${i}}` });
      }
      expect(upstream.connections()).toBe(1);
      expect(upstream.requests()).toBe(5);
    } finally {
      await upstream.close();
    }
  });

  it('whose certificate the proxy does not trust gets no request: the client is answered 502', async () => {
    const upstream = await httpsUpstream();
    try {
      harness = await startProxyHarness();
      harness.apply([serviceFixture({ id: 'openai', context_path: '/openai', upstream_url: upstream.url })], [consumerKeyFixture(KEY, 'openai')]);
      const response = await httpRequest(`${harness.proxy.url}/acme/openai/chat/completions`, { method: 'POST', headers: AUTH, body: '{"model":"gpt-4o"}' });
      expect(response.status).toBe(502);
      expect(response.headers['x-tokengate-error-code']).toBe('upstream_unreachable');
      expect(upstream.requests()).toBe(0);
    } finally {
      await upstream.close();
    }
  });
});

describe('a request the upstream drops', () => {
  it('reaches the provider once and is answered 502: a charged request is never resent', async () => {
    harness = await startProxyHarness();
    const { upstream } = harness;
    harness.apply([serviceFixture({ id: 'openai', context_path: '/openai', upstream_url: upstream.url })], [consumerKeyFixture(KEY, 'openai')]);
    // Warm a keep-alive socket, then make the provider reset the next request's connection.
    expect((await httpRequest(`${harness.proxy.url}/acme/openai/chat/completions`, { method: 'POST', headers: AUTH, body: '{}' })).status).toBe(200);
    upstream.respondWith((req) => req.socket.destroy());
    const arrivalsBefore = upstream.arrivals.length;
    const response = await httpRequest(`${harness.proxy.url}/acme/openai/chat/completions`, { method: 'POST', headers: AUTH, body: '{"model":"gpt-4o"}' });
    expect(response.status).toBe(502);
    expect(upstream.arrivals.length - arrivalsBefore).toBe(1);
  });
});
