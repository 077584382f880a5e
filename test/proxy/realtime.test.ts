// OpenAI Realtime over WebSocket through the proxy (ADR 022): the official SDK's OpenAIRealtimeWS
// (Node: the `ws` package; it always dials wss://, so the proxy here serves TLS) against the fake
// Realtime upstream. Sessions are routed and authenticated as requests are, the provider key replaces
// the consumer's, messages cross unchanged, and every response.done is metered and charged.
import { OpenAIRealtimeWebSocket, RealtimeAgent, RealtimeSession } from '@openai/agents/realtime';
import OpenAI, { AzureOpenAI } from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import type { DataPlaneHandle } from '../../data-plane/src/main';
import { type FakeRealtimeServer, realtimeUsage, startFakeOpenAIRealtime } from '../fakes';
import { WEATHER_CALL, weatherTool } from '../support/agent-tools';
import { TEST_TLS } from '../support/data-plane/tls-fixtures';
import { RecordLog } from '../support/data-plane/record-log';
import { type Gateway, PROVIDER_SECRETS, registerServiceWithConnection, HEALTHY_REDIS_TIMEOUT_MS, startGateway } from '../support/gateway-harness';
import { type UsageRow, usageRows } from '../support/usage-report';
import { waitFor } from '../support/wait';

let gw: Gateway;
let fake: FakeRealtimeServer;
let azureFake: FakeRealtimeServer;
/** The TLS proxy the SDK dials (wss://), with its access log recorded. */
let tlsProxy: DataPlaneHandle;
const accessLog = new RecordLog<Record<string, unknown>>();

interface Limits {
  maxPromptTokens?: number;
  maxCompletionTokens?: number;
  maxTotalTokens?: number;
}

interface RealtimeService {
  id: string;
  connectionId: string;
  key: string;
  /** Path under a proxy: `/acme/{context path}`. */
  path: string;
}

let counter = 0;
async function realtimeService(provider: 'OPENAI' | 'AZURE_OPENAI' = 'OPENAI', limits?: Limits): Promise<RealtimeService> {
  counter += 1;
  const openai = provider === 'OPENAI';
  const registered = await registerServiceWithConnection(gw, {
    provider,
    name: `Realtime ${counter}`,
    contextPath: `/realtime-${counter}`,
    serviceUrl: openai ? `${fake.url}/v1` : azureFake.url,
    backendSecurity: openai ? { value: PROVIDER_SECRETS.openai } : { value: PROVIDER_SECRETS.azure, apiVersion: '2025-04-01-preview' },
    ...(limits === undefined ? {} : { rateLimit: { timeUnit: 'DAY', ...limits } }),
  });
  return { ...registered, path: `/acme/realtime-${counter}` };
}

beforeAll(async () => {
  gw = await startGateway({ rateLimiting: { redisTimeoutMs: HEALTHY_REDIS_TIMEOUT_MS, usageReportIntervalMs: 100 } });
  fake = await startFakeOpenAIRealtime({ requireApiKey: PROVIDER_SECRETS.openai });
  azureFake = await startFakeOpenAIRealtime({ requireApiKey: PROVIDER_SECRETS.azure, keyHeader: 'api-key' });
  const logger = pino({ level: 'info' }, { write: (line: string) => accessLog.push(JSON.parse(line) as Record<string, unknown>) });
  tlsProxy = await gw.startProxy({ tls: TEST_TLS, accessLog: true, logger });
});
afterAll(async () => {
  await gw?.stop();
  await fake?.close();
  await azureFake?.close();
});
beforeEach(() => {
  fake.reset();
  azureFake.reset();
});

/** An SDK session through the TLS proxy, open (its session.created seen). */
async function openSession(service: RealtimeService, key = service.key): Promise<{ rt: OpenAIRealtimeWS; events: RecordLog<{ type: string } & Record<string, unknown>>; errors: Error[] }> {
  const client = new OpenAI({ baseURL: `${tlsProxy.url}${service.path}`, apiKey: key, maxRetries: 0 });
  const rt = new OpenAIRealtimeWS({ model: 'gpt-realtime', options: { ca: TEST_TLS.cert } }, client);
  const events = new RecordLog<{ type: string } & Record<string, unknown>>();
  const errors: Error[] = [];
  rt.on('event', (event) => events.push(event as unknown as { type: string } & Record<string, unknown>));
  rt.on('error', (error) => errors.push(error));
  await events.waitFor((e) => e.type === 'session.created');
  return { rt, events, errors };
}

/** The HTTP status a WebSocket upgrade through the plain proxy is refused with, and the body. */
function refusedUpgrade(url: string, headers: Record<string, string>, protocols?: string[]): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, protocols, { headers });
    socket.on('open', () => {
      socket.terminate();
      reject(new Error('expected the upgrade to be refused'));
    });
    socket.on('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body, headers: response.headers }));
    });
    socket.on('error', (error) => reject(error));
  });
}

const sum = (rows: UsageRow[]) => rows.reduce((total, row) => ({ requests: total.requests + row.requests, prompt: total.prompt + row.promptTokens, completion: total.completion + row.completionTokens, cached: total.cached + row.cachedPromptReadTokens }), { requests: 0, prompt: 0, completion: 0, cached: 0 });

it('a session with two response.create: events relayed as sent, each response.done metered exactly, the session logged once', async () => {
  const service = await realtimeService();
  const { rt, events, errors } = await openSession(service);
  rt.send({ type: 'session.update', session: { type: 'realtime', output_modalities: ['text'], instructions: 'Be brief.' } });
  await events.waitFor((e) => e.type === 'session.updated');
  rt.send({ type: 'response.create' });
  const first = await events.waitFor((e) => e.type === 'response.done');
  rt.send({ type: 'response.create' });
  const second = await events.waitFor((e) => e.type === 'response.done' && e !== first);
  rt.close();
  expect(errors).toEqual([]);
  // The text arrived as the fake sent it, delta by delta.
  const deltas = events.all.filter((e) => e.type === 'response.output_text.delta').map((e) => e['delta']);
  expect(deltas.join('')).toBe('Hello from the fake realtime model.Hello from the fake realtime model.');
  const usages = [first, second].map((e) => (e['response'] as { usage: { input_tokens: number; output_tokens: number; input_token_details: { cached_tokens: number } } }).usage);
  expect(usages).toEqual(fake.behaviour.responses.map(realtimeUsage));

  const rows = await waitFor(async () => {
    const found = await usageRows(gw, service.connectionId);
    return sum(found).requests === 2 && found;
  }, 'the usage of two realtime responses');
  expect(rows).toEqual([expect.objectContaining({ operation: 'realtime', requestModel: 'gpt-realtime', responseModel: 'gpt-realtime', requests: 2, errors4xx: 0, errors5xx: 0 })]);
  expect(sum(rows)).toEqual({
    requests: 2,
    prompt: usages[0].input_tokens + usages[1].input_tokens,
    completion: usages[0].output_tokens + usages[1].output_tokens,
    cached: usages[0].input_token_details.cached_tokens + usages[1].input_token_details.cached_tokens,
  });
  const line = await accessLog.waitFor((l) => l['msg'] === 'proxied realtime session' && l['service'] === service.id);
  expect(line).toMatchObject({ status: 101, realtime: { responses: 2, clientCloseCode: 1000, upstreamCloseCode: 1000, promptTokens: 350, completionTokens: 105 } });
  expect(accessLog.all.filter((l) => l['service'] === service.id)).toHaveLength(1);
});

it('the upstream gets the provider key and never the consumer key; the browser form (key as a subprotocol) is accepted and not forwarded', async () => {
  const service = await realtimeService();
  const { rt } = await openSession(service);
  rt.close();
  // A browser cannot set headers: it offers the key as a subprotocol, beside the ones it means.
  const browser = new WebSocket(`ws://${new URL(gw.proxy.url).host}${service.path}/realtime?model=gpt-realtime`, ['realtime', `openai-insecure-api-key.${service.key}`]);
  const created = await new Promise<string>((resolve, reject) => {
    browser.on('message', (data: Buffer) => resolve(data.toString()));
    browser.on('error', reject);
  });
  expect(JSON.parse(created)).toMatchObject({ type: 'session.created' });
  expect(browser.protocol).toBe('realtime');
  browser.close();
  expect(fake.sessions).toHaveLength(2);
  for (const session of fake.sessions) {
    expect(session.headers['authorization']).toBe(`Bearer ${PROVIDER_SECRETS.openai}`);
    expect(JSON.stringify(session.headers)).not.toContain(service.key);
  }
  expect(fake.sessions[1].headers['sec-websocket-protocol']).toBe('realtime');
  expect(fake.sessions[1].protocol).toBe('realtime');
  expect(fake.sessions[0].query).toEqual({ model: 'gpt-realtime' });
});

it('refusals at the upgrade, as HTTP responses in the provider format: 401 wrong key, 403 another service, 404 unknown route, 400 not a Realtime path', async () => {
  const service = await realtimeService();
  const wrong = new OpenAIRealtimeWS({ model: 'gpt-realtime', options: { ca: TEST_TLS.cert } }, new OpenAI({ baseURL: `${tlsProxy.url}${service.path}`, apiKey: 'tgk_wrong', maxRetries: 0 }));
  const failure = await new Promise<Error>((resolve) => wrong.on('error', resolve));
  expect(failure.message).toMatch(/401/);
  const base = `ws://${new URL(gw.proxy.url).host}`;
  const unknown = await refusedUpgrade(`${base}${service.path}/realtime?model=gpt-realtime`, { authorization: 'Bearer tgk_wrong' });
  expect(unknown.status).toBe(401);
  expect(JSON.parse(unknown.body)).toMatchObject({ error: { code: 'tokengate_unauthenticated' } });
  expect(unknown.headers['x-tokengate-error-code']).toBe('unauthenticated');
  const other = await refusedUpgrade(`${base}${service.path}/realtime?model=gpt-realtime`, { authorization: `Bearer ${gw.services.openai.key}` });
  expect(other.status).toBe(403);
  expect((await refusedUpgrade(`${base}/acme/nowhere/realtime`, { authorization: `Bearer ${service.key}` })).status).toBe(404);
  const notRealtime = await refusedUpgrade(`${base}${service.path}/chat/completions`, { authorization: `Bearer ${service.key}` });
  expect(notRealtime.status).toBe(400);
  expect(JSON.parse(notRealtime.body)).toMatchObject({ error: { message: expect.stringContaining('WebSocket') } });
  expect(fake.sessions).toEqual([]);
  expect(fake.refused).toEqual([]);
});

it('an exhausted budget refuses the upgrade with 429 and Retry-After; a session that uses the budget up is closed with 1008 after an error event', async () => {
  const service = await realtimeService('OPENAI', { maxTotalTokens: 300 });
  // The first response (184 tokens) fits; the second (271) overdraws the budget: the session is closed.
  const { rt, events } = await openSession(service);
  const closed = new Promise<number>((resolve) => rt.socket.on('close', (code: number) => resolve(code)));
  rt.send({ type: 'response.create' });
  await events.waitFor((e) => e.type === 'response.done');
  rt.send({ type: 'response.create' });
  expect(await closed).toBe(1008);
  const error = events.all.find((e) => e.type === 'error');
  expect(error).toMatchObject({ error: { type: 'rate_limit_error', code: 'tokengate_rate_limited', message: expect.stringMatching(/total token budget of this day is used up.*session is closed/) } });
  // Both responses were metered, the overdraft included: the provider billed it.
  await waitFor(async () => sum(await usageRows(gw, service.connectionId)).requests === 2, 'both responses metered');
  expect(sum(await usageRows(gw, service.connectionId))).toMatchObject({ prompt: 350, completion: 105 });
  await waitFor(() => fake.sessions[0]?.closeCode === 1000, 'the upstream session closed');

  const refused = await refusedUpgrade(`ws://${new URL(gw.proxy.url).host}${service.path}/realtime?model=gpt-realtime`, { authorization: `Bearer ${service.key}` });
  expect(refused.status).toBe(429);
  expect(refused.headers['retry-after']).toMatch(/^\d+$/);
  expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'tokengate_rate_limited' } });
  const sdk = new OpenAIRealtimeWS({ model: 'gpt-realtime', options: { ca: TEST_TLS.cert } }, new OpenAI({ baseURL: `${tlsProxy.url}${service.path}`, apiKey: service.key, maxRetries: 0 }));
  expect((await new Promise<Error>((resolve) => sdk.on('error', resolve))).message).toMatch(/429/);
  expect(fake.sessions).toHaveLength(1);
});

it('a session closed by the upstream closes the client with the same code and reason; binary frames and pings cross both ways', async () => {
  const service = await realtimeService();
  const client = new WebSocket(`ws://${new URL(gw.proxy.url).host}${service.path}/realtime?model=gpt-realtime`, { headers: { authorization: `Bearer ${service.key}` } });
  const messages = new RecordLog<{ data: Buffer; binary: boolean }>();
  client.on('message', (data: Buffer, binary: boolean) => messages.push({ data, binary }));
  await new Promise((resolve) => client.on('open', resolve));
  await messages.waitFor();
  const pong = new Promise<Buffer>((resolve) => client.on('pong', resolve));
  client.ping(Buffer.from('are you there'));
  expect((await pong).toString()).toBe('are you there');
  const bytes = Buffer.from([0, 1, 2, 254, 255]);
  client.send(bytes);
  await waitFor(() => fake.sessions[0]?.binary.length === 1, 'the binary message upstream');
  expect(fake.sessions[0].binary[0]).toEqual(bytes);
  fake.sendBinary(Buffer.from([9, 8, 7]));
  const binary = await messages.waitFor((m) => m.binary);
  expect(binary.data).toEqual(Buffer.from([9, 8, 7]));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => client.on('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
  fake.closeSessions(4001, 'session expired');
  expect(await closed).toEqual({ code: 4001, reason: 'session expired' });
  // Counted once, as upgraded (101).
  const metrics = await waitFor(async () => {
    const text = await (await fetch(`${gw.proxy.url}/metrics`)).text();
    return text.split('\n').find((line) => line.startsWith('tokengate_proxy_requests_total{') && line.includes(`service="${service.id}"`) && line.includes('status="101"'));
  }, 'the session in the metrics');
  expect(metrics).toMatch(/ 1$/);
});

it('a client that stops reading for a while still gets every message, in order, once it reads again', async () => {
  const service = await realtimeService();
  const client = new WebSocket(`ws://${new URL(gw.proxy.url).host}${service.path}/realtime?model=gpt-realtime`, { headers: { authorization: `Bearer ${service.key}` } });
  const received: number[] = [];
  const created = new Promise((resolve) => client.once('message', resolve));
  client.on('message', (data: Buffer, binary: boolean) => {
    if (binary) received.push(data[0]);
  });
  await created;
  client.pause();
  const count = 64;
  for (let i = 0; i < count; i++) fake.sendBinary(Buffer.alloc(1 << 20, i));
  // 64 MiB sent while the client reads nothing: the proxy buffers at most about 1 MiB a direction
  // (MessageRelay, unit-tested), the rest waits in the sockets and at the provider.
  await new Promise((resolve) => setTimeout(resolve, 300));
  client.resume();
  await waitFor(() => received.length === count, 'every message relayed', 30_000);
  expect(received).toEqual([...Array(count).keys()]);
  client.close();
});

it('the upstream refusing the handshake reaches the client as the provider answered it', async () => {
  const { key } = await registerServiceWithConnection(gw, { provider: 'OPENAI', name: 'Realtime wrong upstream key', contextPath: '/realtime-wrong-upstream', serviceUrl: `${fake.url}/v1`, backendSecurity: { value: 'sk-not-the-upstream-key' } });
  const refused = await refusedUpgrade(`ws://${new URL(gw.proxy.url).host}/acme/realtime-wrong-upstream/realtime?model=gpt-realtime`, { authorization: `Bearer ${key}` });
  expect(refused.status).toBe(401);
  expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'invalid_api_key' } });
  expect(fake.refused).toHaveLength(1);
});

it('Azure OpenAI: AzureOpenAI + OpenAIRealtimeWS.azure, api-key swapped for the provider key, usage metered', async () => {
  const service = await realtimeService('AZURE_OPENAI');
  const client = new AzureOpenAI({ endpoint: `${tlsProxy.url}${service.path}`, apiKey: service.key, apiVersion: '2025-04-01-preview', deployment: 'gpt-realtime-deployment' });
  const rt = await OpenAIRealtimeWS.azure(client, { options: { ca: TEST_TLS.cert } });
  const events = new RecordLog<{ type: string } & Record<string, unknown>>();
  rt.on('event', (event) => events.push(event as unknown as { type: string } & Record<string, unknown>));
  await events.waitFor((e) => e.type === 'session.created');
  rt.send({ type: 'response.create' });
  await events.waitFor((e) => e.type === 'response.done');
  rt.close();
  expect(azureFake.sessions).toHaveLength(1);
  expect(azureFake.sessions[0].headers['api-key']).toBe(PROVIDER_SECRETS.azure);
  expect(JSON.stringify(azureFake.sessions[0].headers)).not.toContain(service.key);
  const rows = await waitFor(async () => {
    const found = await usageRows(gw, service.connectionId);
    return sum(found).requests === 1 && found;
  }, 'the usage of one Azure realtime response');
  expect(rows).toEqual([expect.objectContaining({ operation: 'realtime', requestModel: 'gpt-realtime-deployment', promptTokens: 120, completionTokens: 64 })]);
});

describe('keep-alive: a side that stops answering ends the session, and so does a provider stalled mid-response', () => {
  /** Short, so that the tests see a few periods; the default is 30 s. */
  const KEEPALIVE_MS = 300;
  /** The provider's longest silence inside a response (the default is 120 s); an idle session has no such limit. */
  const IDLE_MS = 1000;
  let proxy: DataPlaneHandle;
  const log = new RecordLog<Record<string, unknown>>();
  beforeAll(async () => {
    const logger = pino({ level: 'info' }, { write: (line: string) => log.push(JSON.parse(line) as Record<string, unknown>) });
    proxy = await gw.startProxy({ realtimeKeepaliveMs: KEEPALIVE_MS, upstreamIdleTimeoutMs: IDLE_MS, accessLog: true, logger });
  });
  // Left open: the harness closes every proxy it started at the end.

  /** A raw ws client (it answers pings, as the SDK's and browsers do), open with its session.created read. */
  async function connect(service: RealtimeService): Promise<{ client: WebSocket; messages: RecordLog<string>; controls: string[] }> {
    const client = new WebSocket(`ws://${new URL(proxy.url).host}${service.path}/realtime?model=gpt-realtime`, { headers: { authorization: `Bearer ${service.key}` } });
    const messages = new RecordLog<string>();
    const controls: string[] = [];
    client.on('message', (data: Buffer) => messages.push(data.toString()));
    client.on('ping', (data: Buffer) => controls.push(`ping ${data.toString()}`));
    client.on('pong', (data: Buffer) => controls.push(`pong ${data.toString()}`));
    await messages.waitFor((m) => m.includes('"session.created"'));
    return { client, messages, controls };
  }
  const sessionLine = (service: RealtimeService) => log.waitFor((l) => l['msg'] === 'proxied realtime session' && l['service'] === service.id);

  it('an idle session whose sides answer pings stays open and works; the pongs to the proxy’s pings reach neither endpoint', async () => {
    const service = await realtimeService();
    const { client, messages, controls } = await connect(service);
    // Both sides silent: each is pinged after a quiet period, answers, and is pinged again later.
    await waitFor(() => (fake.sessions[0]?.pings.length ?? 0) >= 2 && controls.filter((c) => c.startsWith('ping')).length >= 2, 'two keep-alive pings each way', 20_000);
    client.send(JSON.stringify({ type: 'response.create' }));
    await messages.waitFor((m) => m.includes('"response.done"'));
    expect(client.readyState).toBe(WebSocket.OPEN);
    expect(fake.sessions[0].closeCode).toBe(0);
    expect(fake.sessions[0].pings.map(String)).toEqual(fake.sessions[0].pings.map(() => 'tokengate-keepalive'));
    expect(new Set(controls)).toEqual(new Set(['ping tokengate-keepalive']));
    expect(fake.sessions[0].pongs).toEqual([]);
    // The endpoints' own pings still cross, and their pongs come back.
    const pong = new Promise<Buffer>((resolve) => client.once('pong', resolve));
    client.ping(Buffer.from('still there?'));
    expect((await pong).toString()).toBe('still there?');
    client.close(1000);
    expect(await sessionLine(service)).toMatchObject({ status: 101, realtime: { responses: 1, clientCloseCode: 1000 } });
  });

  it('a provider that stops answering (no events, no pongs): the client gets an error event, then 1011', async () => {
    const service = await realtimeService();
    const { client, messages } = await connect(service);
    const closed = new Promise<{ code: number; reason: string }>((resolve) => client.on('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
    fake.freezeSessions();
    expect(await closed).toEqual({ code: 1011, reason: 'Tokengate: the provider stopped answering' });
    const error = messages.all.map((m) => JSON.parse(m) as { type: string }).find((e) => e.type === 'error');
    expect(error).toMatchObject({ error: { type: 'server_error', code: 'tokengate_upstream_timeout', message: expect.stringContaining('The provider stopped answering') } });
    expect(await sessionLine(service)).toMatchObject({ status: 101, realtime: { endedBy: 'provider stopped answering', responses: 0 } });
  });

  it('a provider that answers pings but sends nothing more in the middle of a response: the client gets an error event, then 1011', async () => {
    const service = await realtimeService();
    const { client, messages } = await connect(service);
    fake.behaviour.stallResponses = true;
    const closed = new Promise<{ code: number; reason: string }>((resolve) => client.on('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
    client.send(JSON.stringify({ type: 'response.create' }));
    expect(await closed).toEqual({ code: 1011, reason: 'Tokengate: the provider stalled mid-response' });
    const events = messages.all.map((m) => JSON.parse(m) as { type: string });
    expect(events.map((e) => e.type)).toEqual(['session.created', 'response.created', 'response.output_item.added', 'error']);
    expect(events.at(-1)).toMatchObject({ error: { type: 'server_error', code: 'tokengate_upstream_timeout', message: expect.stringContaining(`nothing for ${IDLE_MS} ms in the middle of a response`) } });
    await waitFor(() => fake.sessions[0]?.closeCode === 1001, 'the provider closed');
    expect(await sessionLine(service)).toMatchObject({ status: 101, realtime: { endedBy: 'provider stalled mid-response', responses: 0 } });
  });

  it('a client that stops answering (reads nothing, answers no ping): the provider gets 1001 and the session ends', async () => {
    const service = await realtimeService();
    const { client } = await connect(service);
    client.pause();
    await waitFor(() => fake.sessions[0]?.closeCode === 1001, 'the provider told the client is gone', 20_000);
    expect(await sessionLine(service)).toMatchObject({ status: 101, realtime: { endedBy: 'client stopped answering' } });
    client.terminate();
  });
});

it('a proxy shutting down closes its sessions with 1001 on both sides', async () => {
  const service = await realtimeService();
  const proxy = await gw.startProxy();
  const client = new WebSocket(`ws://${new URL(proxy.url).host}${service.path}/realtime?model=gpt-realtime`, { headers: { authorization: `Bearer ${service.key}` } });
  await new Promise((resolve) => client.once('message', resolve));
  const closed = new Promise<number>((resolve) => client.on('close', (code: number) => resolve(code)));
  await proxy.close();
  expect(await closed).toBe(1001);
  await waitFor(() => fake.sessions[0]?.closeCode === 1001, 'the upstream told the proxy is going away');
});

describe('Realtime surfaces that would bypass the proxy', () => {
  it('refuses client secrets and WebRTC calls with 403 in OpenAI’s format (the SDK raises PermissionDeniedError), forwarding nothing', async () => {
    const { endpoint, key, fake: upstream } = gw.services.openai;
    upstream.reset();
    const client = new OpenAI({ baseURL: endpoint, apiKey: key });
    const refused = await client.realtime.clientSecrets.create({ session: { type: 'realtime', model: 'gpt-realtime' } }).then(
      () => { throw new Error('expected a refusal'); },
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(refused).toMatchObject({ status: 403, code: 'tokengate_unsupported_operation' });
    expect((refused as Error).message).toMatch(/neither meter nor limit/);
    const call = await fetch(`${endpoint}/realtime/calls`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/sdp' }, body: 'v=0\r\n' });
    expect(call.status).toBe(403);
    expect(call.headers.get('x-tokengate-error-code')).toBe('unsupported_operation');
    expect(upstream.received).toEqual([]);
  });

  it('refuses Azure’s client secrets (GA and preview paths) the same way', async () => {
    const { endpoint, key, fake: upstream } = gw.services.azure;
    upstream.reset();
    for (const path of ['/openai/v1/realtime/client_secrets', '/openai/realtimeapi/sessions?api-version=2025-04-01-preview']) {
      const answer = await fetch(`${endpoint}${path}`, { method: 'POST', headers: { 'api-key': key, 'content-type': 'application/json' }, body: '{"session":{"type":"realtime","model":"gpt-realtime"}}' });
      expect(answer.status).toBe(403);
      expect(await answer.json()).toMatchObject({ error: { code: 'tokengate_unsupported_operation' } });
    }
    expect(upstream.received).toEqual([]);
  });
});

describe('OpenAI Agents SDK voice agents (@openai/agents/realtime)', () => {
  /** The agent's session through the plain proxy (its WebSocket transport given the proxy URL), connected; its errors collected. */
  async function agentSession(service: RealtimeService, agent: RealtimeAgent): Promise<{ session: RealtimeSession; errors: unknown[] }> {
    const transport = new OpenAIRealtimeWebSocket({ url: `ws://${new URL(gw.proxy.url).host}${service.path}/realtime?model=gpt-realtime` });
    const session = new RealtimeSession(agent, { transport, model: 'gpt-realtime', config: { outputModalities: ['text'] } });
    const errors: unknown[] = [];
    session.on('error', (error) => errors.push(error));
    await session.connect({ apiKey: service.key });
    return { session, errors };
  }

  /** The connection was charged the session's first two responses, as response.done reported them. */
  async function expectTwoResponsesCharged(service: RealtimeService): Promise<void> {
    const rows = await waitFor(async () => {
      const found = await usageRows(gw, service.connectionId);
      return sum(found).requests === 2 && found;
    }, 'the usage of the session’s two responses');
    const usages = [0, 1].map((n) => realtimeUsage(fake.behaviour.responses[Math.min(n, fake.behaviour.responses.length - 1)]) as { input_tokens: number; output_tokens: number });
    expect(sum(rows)).toMatchObject({ requests: 2, prompt: usages[0].input_tokens + usages[1].input_tokens, completion: usages[0].output_tokens + usages[1].output_tokens });
  }

  it('a RealtimeSession over the proxy (its WebSocket transport given the proxy URL): the provider key injected, the agent configured, each response metered', async () => {
    const service = await realtimeService();
    const agent = new RealtimeAgent({ name: 'Concierge', instructions: 'Be brief.' });
    const { session, errors } = await agentSession(service, agent);
    const answers: string[] = [];
    for (const question of ['What is on today?', 'And tomorrow?']) {
      const ended = new Promise<string>((resolve) => session.once('agent_end', (_context, _agent, text) => resolve(text)));
      session.sendMessage(question);
      answers.push(await ended);
    }
    session.close();
    expect(errors).toEqual([]);
    expect(answers).toEqual(['Hello from the fake realtime model.', 'Hello from the fake realtime model.']);

    const [upstream] = fake.sessions;
    expect(upstream.headers.authorization).toBe(`Bearer ${PROVIDER_SECRETS.openai}`);
    expect(JSON.stringify(upstream.headers)).not.toContain(service.key);
    expect(upstream.events).toContainEqual(expect.objectContaining({ type: 'session.update', session: expect.objectContaining({ instructions: 'Be brief.' }) }));
    await expectTwoResponsesCharged(service);
  });

  it('a voice agent with a function tool: the model calls it, the SDK runs it and sends its output back, the model answers; both responses charged', async () => {
    const service = await realtimeService();
    fake.behaviour.toolCall = WEATHER_CALL;
    const { tool: getWeather, cities } = weatherTool();
    const agent = new RealtimeAgent({ name: 'Forecaster', instructions: 'Answer with the weather.', tools: [getWeather] });
    const { session, errors } = await agentSession(service, agent);
    const answered = new Promise<string>((resolve) => session.on('agent_end', (_context, _agent, text) => text !== '' && resolve(text)));
    session.sendMessage('What is the weather in Paris?');
    expect(await answered).toBe('Hello from the fake realtime model.');
    session.close();
    expect(errors).toEqual([]);
    expect(cities).toEqual(['Paris']);
    // The function's output crossed the proxy as a conversation item, then a new response was asked for.
    const [upstream] = fake.sessions;
    expect(upstream.events).toContainEqual(expect.objectContaining({ type: 'conversation.item.create', item: expect.objectContaining({ type: 'function_call_output', output: 'sunny in Paris' }) }));
    expect(upstream.events.filter((event) => (event as { type?: unknown }).type === 'response.create')).toHaveLength(2);
    await expectTwoResponsesCharged(service);
  });
});
