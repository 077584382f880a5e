// The request path end to end in one process: real listener, real upstream socket, compiled snapshots.
import http from 'node:http';
import net from 'node:net';
import { pino } from 'pino';
import { startProxyHarness, type ProxyHarness } from '../../../test/support/data-plane/proxy-harness';
import { httpRequest, jsonOf } from '../../../test/support/data-plane/http-client';
import { respondJson } from '../../../test/support/data-plane/recording-upstream';
import { waitFor } from '../../../test/support/wait';
import { apiKeyAuth, consumerKeyFixture, serviceFixture, sigV4Auth } from '../../../test/support/data-plane/snapshot-fixtures';
import type { ServiceMessage } from '../config-stream/wire-types';

const OPENAI_KEY = 'tgk_openai_consumer_key';
const OTHER_KEY = 'tgk_other_service_key';

let harness: ProxyHarness;

function services(): ServiceMessage[] {
  return [
    serviceFixture({ id: 'openai', context_path: '/openai', upstream_url: `${harness.upstream.url}/v1` }),
    serviceFixture({ id: 'other', context_path: '/other', upstream_url: harness.upstream.url }),
    serviceFixture({ id: 'unconfigured', context_path: '/unconfigured', upstream_url: harness.upstream.url, backend_auth: null }),
    serviceFixture({ id: 'claude', provider: 'ANTHROPIC', context_path: '/claude', upstream_url: harness.upstream.url, backend_auth: apiKeyAuth('x-api-key', 'sk-ant-upstream') }),
    serviceFixture({ id: 'bedrock', provider: 'AWS_BEDROCK', context_path: '/bedrock', upstream_url: harness.upstream.url, backend_auth: sigV4Auth() }),
  ];
}

const keys = [consumerKeyFixture(OPENAI_KEY, 'openai'), consumerKeyFixture(OTHER_KEY, 'other'), consumerKeyFixture('tgk_unconfigured', 'unconfigured'), consumerKeyFixture('tgk_claude', 'claude'), consumerKeyFixture('tgk_bedrock', 'bedrock')];

async function start(options: Parameters<typeof startProxyHarness>[0] = {}): Promise<void> {
  harness = await startProxyHarness(options);
  harness.apply(services(), keys);
}

afterEach(async () => {
  await harness.close();
});

describe('routing and refusals', () => {
  beforeEach(() => start());

  it('forwards method, provider path and query below the upstream base path', async () => {
    const response = await httpRequest(`${harness.proxy.url}/acme/openai/chat/completions?stream=false&x=%2F`, {
      method: 'POST',
      headers: { authorization: `Bearer ${OPENAI_KEY}`, 'content-type': 'application/json' },
      body: '{"model":"gpt-4o"}',
    });
    expect(response.status).toBe(200);
    const received = await harness.upstream.requests.waitFor();
    expect(received).toMatchObject({ method: 'POST', url: '/v1/chat/completions?stream=false&x=%2F', body: Buffer.from('{"model":"gpt-4o"}') });
    expect(received.headers['host']).toBe(`127.0.0.1:${harness.upstream.port}`);
    expect(response.headers['x-tokengate-request-id']).toBe(received.headers['x-request-id']);
  });

  it('keeps a client x-request-id and sends it upstream', async () => {
    await httpRequest(`${harness.proxy.url}/acme/openai/models`, { headers: { authorization: `Bearer ${OPENAI_KEY}`, 'x-request-id': 'trace-123' } });
    expect((await harness.upstream.requests.waitFor()).headers['x-request-id']).toBe('trace-123');
  });

  it('answers 404 in the guessed provider format for unknown organizations and paths', async () => {
    for (const path of ['/globex/openai/v1/models', '/acme/openaix/v1/models', '/acme', '/']) {
      const response = await httpRequest(`${harness.proxy.url}${path}`, { headers: { authorization: `Bearer ${OPENAI_KEY}` } });
      expect(response.status).toBe(404);
      expect(response.headers['x-tokengate-error-code']).toBe('route_not_found');
      expect(jsonOf(response)).toEqual({ error: { message: 'No Tokengate service is published at this path.', type: 'invalid_request_error', param: null, code: 'tokengate_route_not_found' } });
    }
    const anthropicStyle = await httpRequest(`${harness.proxy.url}/acme/nothing/v1/messages`, { headers: { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' } });
    expect(jsonOf(anthropicStyle)).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    expect(harness.upstream.arrivals.length).toBe(0);
  });

  it('refuses dot segments instead of letting them climb out of the upstream base path', async () => {
    for (const path of ['/acme/openai/../other/x', '/acme/openai/%2e%2E/x', '/acme/openai/./x', '/acme/openai/v1/..%2fother/x', '/acme/openai/chat%2F..%2F..%2Fother', '/acme/openai/%252e%252e/x']) {
      const response = await httpRequest(`${harness.proxy.url}${path}`, { headers: { authorization: `Bearer ${OPENAI_KEY}` } });
      expect(response.status).toBe(400);
      expect(response.headers['x-tokengate-error-code']).toBe('bad_request');
      expect((jsonOf(response).error as { message: string }).message).toMatch(/'\.' or '\.\.' segment/);
    }
    const anthropicStyle = await httpRequest(`${harness.proxy.url}/acme/claude/v1/%5c..`, { headers: { 'x-api-key': 'tgk_claude', 'anthropic-version': '2023-06-01' } });
    expect(anthropicStyle.status).toBe(400);
    expect(jsonOf(anthropicStyle)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', tokengate_code: 'bad_request' } });
    expect(harness.upstream.arrivals.length).toBe(0);
  });

  it("refuses encoded slashes outside an identifier segment of the provider's grammar, in the service's format", async () => {
    for (const path of ['/acme/openai/files/a%2Fb', '/acme/openai/chat%2fcompletions', '/acme/claude/v1%2Fmessages']) {
      const response = await httpRequest(`${harness.proxy.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${OPENAI_KEY}` }, body: '{}' });
      expect(response.status).toBe(400);
      expect(response.headers['x-tokengate-error-code']).toBe('bad_request');
      expect((jsonOf(response).error as { message: string }).message).toMatch(/encoded slash/);
    }
    // Refused before authentication: a request without a key gets the same 400.
    expect((await httpRequest(`${harness.proxy.url}/acme/openai/files/a%2Fb`)).status).toBe(400);
    expect(harness.upstream.arrivals.length).toBe(0);
  });

  it('forwards a Bedrock ARN model id with its %2F as the AWS SDK encodes it, and refuses %2F elsewhere on Bedrock', async () => {
    const arn = 'arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-sonnet-20240620-v1%3A0';
    const headers = { authorization: 'Bearer tgk_bedrock', 'content-type': 'application/json' };
    const body = '{"messages":[{"role":"user","content":[{"text":"Hi"}]}]}';
    expect((await httpRequest(`${harness.proxy.url}/acme/bedrock/model/${arn}/converse`, { method: 'POST', headers, body })).status).toBe(200);
    expect((await harness.upstream.requests.waitFor()).url).toBe(`/model/${arn}/converse`);
    for (const path of [`/model/${arn}/converse%2Fx`, '/model/a%252Fb/converse', '/model/a%2F..%2Fb/converse', '/x%2Fy/converse']) {
      const refused = await httpRequest(`${harness.proxy.url}/acme/bedrock${path}`, { method: 'POST', headers, body });
      expect(refused.status).toBe(400);
      expect(refused.headers['x-amzn-errortype']).toBe('ValidationException');
    }
    expect(harness.upstream.arrivals.length).toBe(1);
  });

  it('accepts the consumer key from Authorization: Bearer, api-key or x-api-key', async () => {
    for (const headers of [{ authorization: `Bearer ${OPENAI_KEY}` }, { authorization: `bearer ${OPENAI_KEY}` }, { 'api-key': OPENAI_KEY }, { 'x-api-key': OPENAI_KEY }, { authorization: `Bearer ${OPENAI_KEY}`, 'x-api-key': OPENAI_KEY }]) {
      expect((await httpRequest(`${harness.proxy.url}/acme/openai/models`, { headers })).status).toBe(200);
    }
  });

  it('answers 401 alike for a missing and an unknown key, differing only in the message', async () => {
    const missing = await httpRequest(`${harness.proxy.url}/acme/openai/models`);
    const unknown = await httpRequest(`${harness.proxy.url}/acme/openai/models`, { headers: { authorization: 'Bearer tgk_nobody' } });
    const conflicting = await httpRequest(`${harness.proxy.url}/acme/openai/models`, { headers: { authorization: `Bearer ${OPENAI_KEY}`, 'api-key': OTHER_KEY } });
    const otherScheme = await httpRequest(`${harness.proxy.url}/acme/openai/models`, { headers: { authorization: `AWS4-HMAC-SHA256 Credential=${OPENAI_KEY}` } });
    for (const response of [missing, unknown, conflicting, otherScheme]) {
      expect(response.status).toBe(401);
      expect(response.headers['x-tokengate-error-code']).toBe('unauthenticated');
    }
    const strip = (r: typeof missing) => ({ ...(jsonOf(r).error as Record<string, unknown>), message: undefined });
    expect(strip(missing)).toEqual(strip(unknown));
    expect((jsonOf(missing).error as { message: string }).message).toMatch(/^Missing/);
    expect((jsonOf(unknown).error as { message: string }).message).toMatch(/^Invalid/);
    expect(harness.upstream.arrivals.length).toBe(0);
  });

  it('answers 403 for a valid key of another service, in that provider format', async () => {
    const response = await httpRequest(`${harness.proxy.url}/acme/claude/v1/messages`, { method: 'POST', headers: { 'x-api-key': OPENAI_KEY }, body: '{}' });
    expect(response.status).toBe(403);
    expect(jsonOf(response)).toEqual({
      type: 'error',
      error: { type: 'permission_error', message: 'This API key is not allowed to call this service.', tokengate_code: 'forbidden' },
      request_id: response.headers['x-tokengate-request-id'],
    });
  });

  it("answers another organization's valid key exactly like an unknown key (401, same body)", async () => {
    harness.apply(
      [...services(), serviceFixture({ id: 'globex-openai', organization_id: 'org-globex', organization_handle: 'globex', context_path: '/openai', upstream_url: harness.upstream.url })],
      [...keys, consumerKeyFixture('tgk_globex', 'globex-openai')],
    );
    const foreign = await httpRequest(`${harness.proxy.url}/acme/openai/models`, { headers: { authorization: 'Bearer tgk_globex' } });
    const unknown = await httpRequest(`${harness.proxy.url}/acme/openai/models`, { headers: { authorization: 'Bearer tgk_nobody' } });
    const withoutRequestId = (r: typeof foreign) => JSON.stringify(jsonOf(r)).replace(r.headers['x-tokengate-request-id'] as string, '');
    expect([foreign.status, unknown.status]).toEqual([401, 401]);
    expect(withoutRequestId(foreign)).toBe(withoutRequestId(unknown));
    // The same key works on its own organization's route.
    expect((await httpRequest(`${harness.proxy.url}/globex/openai/models`, { headers: { authorization: 'Bearer tgk_globex' } })).status).toBe(200);
    expect(harness.upstream.arrivals.length).toBe(1);
  });

  it('answers 503 when the environment has no provider credentials for the service', async () => {
    const response = await httpRequest(`${harness.proxy.url}/acme/unconfigured/v1/models`, { headers: { authorization: 'Bearer tgk_unconfigured' } });
    expect(response.status).toBe(503);
    expect(response.headers['x-tokengate-error-code']).toBe('backend_not_configured');
    expect(jsonOf(response)).toMatchObject({ error: { type: 'server_error', code: 'tokengate_backend_not_configured' } });
  });

  it('relays provider errors untouched', async () => {
    harness.upstream.respondWith(respondJson(429, { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } }, { 'retry-after': '7' }));
    const response = await httpRequest(`${harness.proxy.url}/acme/openai/models`, { headers: { authorization: `Bearer ${OPENAI_KEY}` } });
    expect(response.status).toBe(429);
    expect(response.headers['retry-after']).toBe('7');
    expect(response.headers['x-tokengate-error-code']).toBeUndefined();
    expect(jsonOf(response)).toEqual({ error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } });
  });

  it('strips hop-by-hop headers both ways, including those named in Connection', async () => {
    harness.upstream.respondWith((_req, res, body) => {
      void body.then(() => {
        res.writeHead(200, { 'content-type': 'text/plain', connection: 'x-upstream-private', 'x-upstream-private': 'secret', 'x-kept': 'yes', 'alt-svc': 'h3=":443"' });
        res.end('ok');
      });
    });
    const response = await httpRequest(`${harness.proxy.url}/acme/openai/models`, {
      headers: { authorization: `Bearer ${OPENAI_KEY}`, connection: 'x-client-private, keep-alive', 'x-client-private': 'no', 'proxy-authorization': 'Basic x', te: 'trailers', 'x-kept': 'yes' },
    });
    const received = await harness.upstream.requests.waitFor();
    expect(received.headers['x-client-private']).toBeUndefined();
    expect(received.headers['proxy-authorization']).toBeUndefined();
    expect(received.headers['te']).toBeUndefined();
    expect(received.headers['x-kept']).toBe('yes');
    expect(response.headers['x-upstream-private']).toBeUndefined();
    expect(response.headers['alt-svc']).toBeUndefined();
    expect(response.headers['x-kept']).toBe('yes');
  });

  it('keeps the snapshot a request started with when a new one is swapped in', async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    harness.upstream.respondWith((_req, res, body) => {
      void Promise.all([body, released]).then(() => res.end('old snapshot answer'));
    });
    const pending = httpRequest(`${harness.proxy.url}/acme/openai/models`, { headers: { authorization: `Bearer ${OPENAI_KEY}` } });
    await harness.upstream.arrivals.waitFor();
    harness.apply([]); // the service disappears
    expect((await httpRequest(`${harness.proxy.url}/acme/openai/models`, { headers: { authorization: `Bearer ${OPENAI_KEY}` } })).status).toBe(404);
    release();
    expect(await pending).toMatchObject({ status: 200, text: 'old snapshot answer' });
  });

  it('serves /healthz always and counts requests on /metrics', async () => {
    expect(await httpRequest(`${harness.proxy.url}/healthz`)).toMatchObject({ status: 200, text: 'ok\n' });
    await httpRequest(`${harness.proxy.url}/acme/openai/models`, { headers: { authorization: `Bearer ${OPENAI_KEY}` } });
    await httpRequest(`${harness.proxy.url}/acme/openai/models`);
    const metrics = await httpRequest(`${harness.proxy.url}/metrics`);
    expect(metrics.text).toContain('tokengate_proxy_requests_total{service="openai",provider="openai",status="200",environment="test"} 1');
    expect(metrics.text).toContain('tokengate_proxy_requests_total{service="openai",provider="openai",status="401",environment="test"} 1');
  });
});

describe('limits and upstream failures', () => {
  it('answers 413 from Content-Length without calling the provider', async () => {
    await start({ maxBodyBytes: 1024 });
    const response = await httpRequest(`${harness.proxy.url}/acme/openai/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${OPENAI_KEY}`, 'content-type': 'application/json' },
      body: Buffer.alloc(1025, 120),
    });
    expect(response.status).toBe(413);
    expect(response.headers['x-tokengate-error-code']).toBe('request_too_large');
    expect(response.headers['connection']).toBe('close');
    expect(harness.upstream.arrivals.length).toBe(0);
  });

  it('answers 413 when a streamed body without Content-Length grows past the limit, before anything reaches the provider', async () => {
    await start({ maxBodyBytes: 1024 });
    const response = await new Promise<{ status: number; code: string | string[] | undefined }>((resolve, reject) => {
      const request = http.request(`${harness.proxy.url}/acme/openai/chat/completions`, { method: 'POST', agent: false, headers: { authorization: `Bearer ${OPENAI_KEY}`, 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, code: res.headers['x-tokengate-error-code'] });
      });
      request.on('error', reject);
      request.write(Buffer.alloc(800, 120), () => request.write(Buffer.alloc(800, 120)));
    });
    expect(response).toEqual({ status: 413, code: 'request_too_large' });
    // The body is read (within the limit) before the provider is called: nothing was sent upstream.
    expect(harness.upstream.arrivals.length).toBe(0);
  });

  it('answers 502 when the provider cannot be reached', async () => {
    await start();
    const closedPort = await new Promise<number>((resolve) => {
      const probe = net.createServer();
      probe.listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    harness.apply([serviceFixture({ id: 'openai', upstream_url: `http://127.0.0.1:${closedPort}` })], keys);
    const response = await httpRequest(`${harness.proxy.url}/acme/openai/v1/models`, { headers: { authorization: `Bearer ${OPENAI_KEY}` } });
    expect(response.status).toBe(502);
    expect(jsonOf(response)).toMatchObject({ error: { type: 'server_error', code: 'tokengate_upstream_unreachable' } });
  });

  it('answers 504 when the provider sends no response headers in time', async () => {
    await start({ upstreamHeadersTimeoutMs: 50 });
    harness.upstream.respondWith(() => undefined);
    const response = await httpRequest(`${harness.proxy.url}/acme/claude/v1/messages`, { method: 'POST', headers: { 'x-api-key': 'tgk_claude' }, body: '{}' });
    expect(response.status).toBe(504);
    expect(jsonOf(response)).toMatchObject({ type: 'error', error: { type: 'timeout_error', tokengate_code: 'upstream_timeout' } });
    await harness.upstream.aborted.waitFor();
  });

  it('cuts the client stream when the provider falls silent mid-response', async () => {
    await start({ upstreamIdleTimeoutMs: 50 });
    harness.upstream.respondWith((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
    });
    const outcome = await new Promise<string>((resolve) => {
      const request = http.get(`${harness.proxy.url}/acme/openai/chat/completions`, { agent: false, headers: { authorization: `Bearer ${OPENAI_KEY}` } }, (res) => {
        res.on('data', () => undefined);
        res.on('end', () => resolve('ended cleanly'));
        res.on('error', () => resolve('cut'));
        res.on('aborted', () => resolve('cut'));
      });
      request.on('error', () => resolve('cut'));
    });
    expect(outcome).toBe('cut');
  });

  it("relays a stream's headers before its first event when the provider sends them alone", async () => {
    await start();
    let clientHasHeaders!: () => void;
    const headersAtClient = new Promise<void>((resolve) => (clientHasHeaders = resolve));
    harness.upstream.respondWith((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      // The first event only once the client has the headers: a proxy that held them for it never ends.
      void headersAtClient.then(() => res.end('data: first\n\n'));
    });
    const body = await new Promise<string>((resolve, reject) => {
      const request = http.get(`${harness.proxy.url}/acme/openai/chat/completions`, { agent: false, headers: { authorization: `Bearer ${OPENAI_KEY}` } }, (res) => {
        expect(res.headers['content-type']).toBe('text/event-stream');
        clientHasHeaders();
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve(text));
      });
      request.on('error', reject);
    });
    expect(body).toBe('data: first\n\n');
  });

  /** Streams `events` SSE events `gapMs` apart after the headers (then ends, unless `end` is false) and reports how the client saw it. */
  async function streamThrough(events: number, gapMs: number, end = true): Promise<{ outcome: string; received: number }> {
    harness.upstream.respondWith((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let sent = 0;
      const tick = setInterval(() => {
        if (res.destroyed) return clearInterval(tick);
        if (sent === events) {
          clearInterval(tick);
          if (end) res.end('data: [DONE]\n\n');
          return;
        }
        sent += 1;
        res.write(`data: ${sent}\n\n`);
      }, gapMs);
    });
    return new Promise((resolve) => {
      let received = 0;
      const request = http.get(`${harness.proxy.url}/acme/openai/chat/completions`, { agent: false, headers: { authorization: `Bearer ${OPENAI_KEY}` } }, (res) => {
        res.on('data', (chunk: Buffer) => (received += chunk.toString().split('data: ').length - 1));
        res.on('end', () => resolve({ outcome: 'ended cleanly', received }));
        res.on('error', () => resolve({ outcome: 'cut', received }));
        res.on('aborted', () => resolve({ outcome: 'cut', received }));
      });
      request.on('error', () => resolve({ outcome: 'cut', received }));
    });
  }

  it('with an idle timeout longer than the headers timeout, a stream that keeps flowing past the headers timeout is not cut', async () => {
    // One timer per exchange: the headers timer goes on to time the body once the headers came. The
    // stream outlasts the headers timeout 8 times over; the idle timeout leaves a loaded machine 10 s per gap.
    await start({ upstreamHeadersTimeoutMs: 100, upstreamIdleTimeoutMs: 10_000 });
    expect(await streamThrough(20, 40)).toEqual({ outcome: 'ended cleanly', received: 21 });
  });

  it('counts a stream the provider ends without its terminator ([DONE]) as 502, though the client saw 200', async () => {
    await start();
    harness.upstream.respondWith((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n');
    });
    const body = JSON.stringify({ model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Hi' }] });
    const response = await httpRequest(`${harness.proxy.url}/acme/openai/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${OPENAI_KEY}`, 'content-type': 'application/json' }, body });
    expect(response.status).toBe(200);
    const counted = 'tokengate_proxy_requests_total{service="openai",provider="openai",status="502",environment="test"} 1';
    await waitFor(async () => (await httpRequest(`${harness.proxy.url}/metrics`)).text.includes(counted), 'the stream counted as 502');
  });

  it('with an idle timeout longer than the headers timeout, a stream that falls silent after the headers is cut, and counted as the 504 of a timeout', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    await start({ upstreamHeadersTimeoutMs: 100, upstreamIdleTimeoutMs: 1_000, logger, accessLog: true });
    expect(await streamThrough(2, 20, false)).toEqual({ outcome: 'cut', received: 2 });
    // The client saw 200; what is recorded is the timeout that ended it (ADR 021).
    const counted = 'tokengate_proxy_requests_total{service="openai",provider="openai",status="504",environment="test"} 1';
    const metrics = await waitFor(async () => {
      const { text } = await httpRequest(`${harness.proxy.url}/metrics`);
      return text.includes(counted) && text;
    }, 'the cut stream counted');
    expect(metrics).not.toContain('status="200"');
    expect(lines.filter((line) => line.msg === 'proxied request')).toEqual([expect.objectContaining({ status: 504, clientStatus: 200 })]);
  });
});
