// One port, two protocols (HTTP/1.1 and h2c), TLS with ALPN, streaming, aborts and graceful shutdown.
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { h2cRequest, httpRequest } from '../../../test/support/data-plane/http-client';
import { startProxyHarness, type ProxyHarness } from '../../../test/support/data-plane/proxy-harness';
import { consumerKeyFixture, serviceFixture } from '../../../test/support/data-plane/snapshot-fixtures';
import { TEST_TLS } from '../../../test/support/data-plane/tls-fixtures';
import { waitFor } from '../../../test/support/wait';
import { sniffProtocol } from './proxy-listener';

const KEY = 'tgk_listener_key';
const AUTH = { authorization: `Bearer ${KEY}` };

let harness: ProxyHarness;

async function start(options: Parameters<typeof startProxyHarness>[0] = {}): Promise<void> {
  harness = await startProxyHarness(options);
  harness.apply([serviceFixture({ id: 'openai', upstream_url: harness.upstream.url })], [consumerKeyFixture(KEY, 'openai')]);
}

afterEach(async () => {
  await harness?.close();
});

describe('sniffProtocol', () => {
  it('tells the HTTP/2 preface from HTTP/1.x, waiting while the bytes are ambiguous', () => {
    expect(sniffProtocol(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00'))).toBe('h2');
    expect(sniffProtocol(Buffer.from('PRI * HT'))).toBe('undecided');
    expect(sniffProtocol(Buffer.from('P'))).toBe('undecided');
    expect(sniffProtocol(Buffer.from('POST /x HTTP/1.1\r\n'))).toBe('h1');
    expect(sniffProtocol(Buffer.from('GET / HTTP/1.1\r\n'))).toBe('h1');
  });
});

describe('cleartext listener', () => {
  beforeEach(() => start());

  it('serves HTTP/2 with prior knowledge on the HTTP/1.1 port, dropping headers HTTP/2 forbids', async () => {
    // The upstream's Node server adds Connection and Keep-Alive, which HTTP/2 responses must not carry.
    const response = await h2cRequest(harness.proxy.url, '/acme/openai/v1/models?limit=1', { headers: AUTH });
    expect(response.status).toBe(200);
    expect(response.text).toBe('{"ok":true}');
    expect(response.headers['connection']).toBeUndefined();
    expect(response.headers['keep-alive']).toBeUndefined();
    const received = await harness.upstream.requests.waitFor();
    expect(received.url).toBe('/v1/models?limit=1');
    expect(received.headers['host']).toBe(`127.0.0.1:${harness.upstream.port}`);
    expect(Object.keys(received.headers).filter((name) => name.startsWith(':'))).toEqual([]);

    const refused = await h2cRequest(harness.proxy.url, '/acme/openai/v1/models');
    expect(refused.status).toBe(401);
    expect((await h2cRequest(harness.proxy.url, '/healthz')).status).toBe(200);
  });

  it('declines an upgrade that is not a WebSocket one (curl --http2: Upgrade: h2c): served as HTTP/1.1, body and keep-alive intact', async () => {
    const socket = net.connect(harness.proxy.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    const body = '{"model":"gpt-4o-mini","messages":[]}';
    socket.write(`POST /acme/openai/v1/chat/completions HTTP/1.1\r\nHost: proxy\r\nAuthorization: Bearer ${KEY}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);
    setTimeout(() => socket.write(`${body.slice(10)}GET /acme/openai/v1/models HTTP/1.1\r\nHost: proxy\r\nAuthorization: Bearer ${KEY}\r\n\r\n`), 20);
    const first = await harness.upstream.requests.waitFor();
    expect(first.method).toBe('POST');
    expect(first.headers['upgrade']).toBeUndefined();
    expect(first.headers['http2-settings']).toBeUndefined();
    const second = await harness.upstream.requests.waitFor((r) => r.method === 'GET');
    expect(second.url).toBe('/v1/models');
    await waitFor(() => (answer.match(/HTTP\/1\.1 200 OK/g) ?? []).length === 2, 'two answers');
    socket.destroy();
  });

  it('serves many HTTP/1.1 requests over one keep-alive connection', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 5; i++) {
        const status = await new Promise<number>((resolve, reject) => {
          http.get(`${harness.proxy.url}/acme/openai/v1/models`, { agent, headers: AUTH }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          }).on('error', reject);
        });
        expect(status).toBe(200);
      }
      expect(harness.proxy).toBeDefined();
    } finally {
      agent.destroy();
    }
  });

  it('streams server-sent events through without buffering (HTTP/1.1)', async () => {
    let clientGotFirstEvent: () => void = () => undefined;
    const firstEventSeen = new Promise<void>((resolve) => (clientGotFirstEvent = resolve));
    harness.upstream.respondWith((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('data: {"delta":"Hel"}\n\n');
      // The rest only comes once the client has seen the first event: a buffering proxy deadlocks here.
      void firstEventSeen.then(() => res.end('data: {"delta":"lo"}\n\ndata: [DONE]\n\n'));
    });
    const body = await new Promise<string>((resolve, reject) => {
      http.get(`${harness.proxy.url}/acme/openai/v1/chat/completions`, { agent: false, headers: AUTH }, (res) => {
        expect(res.headers['content-type']).toBe('text/event-stream');
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          if (text.includes('"Hel"')) clientGotFirstEvent();
        });
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    expect(body).toBe('data: {"delta":"Hel"}\n\ndata: {"delta":"lo"}\n\ndata: [DONE]\n\n');
  });

  it('streams an AWS event stream through without buffering (HTTP/2)', async () => {
    let clientGotFirstFrame: () => void = () => undefined;
    const firstFrameSeen = new Promise<void>((resolve) => (clientGotFirstFrame = resolve));
    harness.upstream.respondWith((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
      res.write(Buffer.from([0, 0, 0, 16, 0, 0, 0, 0]));
      void firstFrameSeen.then(() => res.end(Buffer.from([1, 2, 3, 4])));
    });
    const session = http2.connect(harness.proxy.url);
    try {
      const received = await new Promise<number>((resolve, reject) => {
        const stream = session.request({ ':path': '/acme/openai/model/m/converse-stream', ':method': 'POST', ...AUTH });
        let bytes = 0;
        stream.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes >= 8) clientGotFirstFrame();
        });
        stream.on('end', () => resolve(bytes));
        stream.on('error', reject);
        stream.end('{}');
      });
      expect(received).toBe(12);
    } finally {
      session.close();
    }
  });

  it('aborts the upstream request when an HTTP/1.1 client goes away', async () => {
    harness.upstream.respondWith(() => undefined);
    const request = http.request(`${harness.proxy.url}/acme/openai/v1/chat/completions`, { method: 'POST', agent: false, headers: AUTH });
    request.on('error', () => undefined);
    request.end('{"stream":true}');
    await harness.upstream.arrivals.waitFor();
    request.destroy();
    expect(await harness.upstream.aborted.waitFor()).toBe('/v1/chat/completions');
  });

  it('aborts the upstream request when an HTTP/2 client resets its stream', async () => {
    harness.upstream.respondWith((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
    });
    const session = http2.connect(harness.proxy.url);
    try {
      const stream = session.request({ ':path': '/acme/openai/v1/chat/completions', ':method': 'POST', ...AUTH });
      stream.on('error', () => undefined);
      stream.end('{}');
      await new Promise<void>((resolve) => stream.once('data', () => resolve()));
      stream.close(http2.constants.NGHTTP2_CANCEL);
      expect(await harness.upstream.aborted.waitFor()).toBe('/v1/chat/completions');
    } finally {
      session.close();
    }
  });

  it('lets in-flight requests finish on close, then stops accepting', async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    harness.upstream.respondWith((_req, res, body) => {
      void Promise.all([body, released]).then(() => res.end('finished during shutdown'));
    });
    const inFlight = httpRequest(`${harness.proxy.url}/acme/openai/v1/models`, { headers: AUTH });
    await harness.upstream.arrivals.waitFor();
    const closed = harness.proxy.close();
    release();
    expect(await inFlight).toMatchObject({ status: 200, text: 'finished during shutdown' });
    await closed;
    await expect(httpRequest(`${harness.proxy.url}/healthz`)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('TLS listener', () => {
  beforeEach(() => start({ tls: TEST_TLS }));

  it('negotiates HTTP/1.1 and h2 by ALPN on one HTTPS port', async () => {
    expect(harness.proxy.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const h1Status = await new Promise<number>((resolve, reject) => {
      https.get(`${harness.proxy.url}/acme/openai/v1/models`, { ca: TEST_TLS.cert, agent: false, headers: AUTH }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(h1Status).toBe(200);

    const session = http2.connect(harness.proxy.url, { ca: TEST_TLS.cert });
    try {
      const h2Status = await new Promise<number>((resolve, reject) => {
        const stream = session.request({ ':path': '/acme/openai/v1/models', ...AUTH });
        stream.on('response', (headers) => resolve(Number(headers[':status'])));
        stream.on('error', reject);
        stream.resume();
        stream.end();
      });
      expect(h2Status).toBe(200);
    } finally {
      session.close();
    }
  });
});
