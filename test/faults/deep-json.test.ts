// A request body nested deeper than structured cloning can copy (JSON.parse accepts it) still has its
// prompt counted: a rate-limited service admitted it with a 500 (the count could not reach the token
// counter's worker), and a service without limits forwarded it and never metered it (the count at
// settlement failed, so the request was never recorded).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startDataPlane, type DataPlaneHandle } from '../../data-plane/src/main';
import { silentLogger } from '../../data-plane/src/observability/logger';
import type { UsageRecordMessage } from '../../data-plane/src/config-stream/wire-types';
import { FakeConfigServer } from '../support/data-plane/fake-config-server';
import { httpRequest } from '../support/data-plane/http-client';
import { consumerKeyFixture, rateLimitFixture, serviceFixture, snapshotFixture } from '../support/data-plane/snapshot-fixtures';

const LIMITED_KEY = 'tgk_deep_json_limited_0001';
const OPEN_KEY = 'tgk_deep_json_unlimited_01';
const DEPTH = 50_000;
/** A chat request with a member nested DEPTH objects deep (its one message is what the prompt counts). */
const DEEP_BODY = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello there"}],"metadata_blob":${'{"a":'.repeat(DEPTH)}1${'}'.repeat(DEPTH)}}`;

let upstream: http.Server;
let config: FakeConfigServer;
let proxy: DataPlaneHandle;
let upstreamRequests = 0;

beforeAll(async () => {
  // Answers without usage, as a provider that omits it: the proxy has to count the prompt itself.
  upstream = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      upstreamRequests += 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'chatcmpl-deep', object: 'chat.completion', model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }] }));
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
  config = await FakeConfigServer.start({
    initialSnapshot: snapshotFixture({
      revision: 1,
      services: [
        // A budget smaller than the body's byte length: admission has to count the prompt exactly.
        serviceFixture({ id: 'limited', context_path: '/limited', upstream_url: upstreamUrl, rate_limit: rateLimitFixture({ max_total_tokens: '100000' }) }),
        serviceFixture({ id: 'open', context_path: '/open', upstream_url: upstreamUrl }),
      ],
      consumerKeys: [consumerKeyFixture(LIMITED_KEY, 'limited'), consumerKeyFixture(OPEN_KEY, 'open')],
    }),
  });
  proxy = await startDataPlane({
    environment: 'test',
    controlPlane: { address: config.address },
    port: 0,
    logger: silentLogger(),
    usageReportIntervalMs: 20,
    rateLimiting: { redisNamespace: `deep-json-${process.pid}-${Date.now()}` },
  });
  await proxy.waitForRevision(1n);
});

afterAll(async () => {
  await proxy.close();
  await config.stop();
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
});

function post(service: string, key: string, body: string) {
  return httpRequest(`${proxy.url}/acme/${service}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
}

function recordOf(serviceId: string): Promise<UsageRecordMessage> {
  return config.usageBatches.waitFor((batch) => batch.records.some((record) => record.service_id === serviceId)).then((batch) => batch.records.find((record) => record.service_id === serviceId) as UsageRecordMessage);
}

it('JSON.parse takes the body and structured cloning cannot (the premise)', () => {
  expect(() => JSON.parse(DEEP_BODY)).not.toThrow();
  expect(() => structuredClone(JSON.parse(DEEP_BODY))).toThrow('Maximum call stack size exceeded');
});

it('on a rate-limited service, is counted, admitted and forwarded (not a 500), and metered once', async () => {
  const before = upstreamRequests;
  const response = await post('limited', LIMITED_KEY, DEEP_BODY);
  expect(response.status).toBe(200);
  expect(upstreamRequests).toBe(before + 1);
  const record = await recordOf('limited');
  expect(record.requests).toBe('1');
  // The one message's text and framing: a few tokens, not the 300 KB of braces.
  expect(Number(record.prompt_tokens)).toBeGreaterThan(0);
  expect(Number(record.prompt_tokens)).toBeLessThan(50);
  expect(Number(record.completion_tokens)).toBe(1);
});

it('on a service without limits, is forwarded and metered once', async () => {
  const response = await post('open', OPEN_KEY, DEEP_BODY);
  expect(response.status).toBe(200);
  const record = await recordOf('open');
  expect(record.requests).toBe('1');
  expect(Number(record.prompt_tokens)).toBeGreaterThan(0);
  expect(Number(record.prompt_tokens)).toBeLessThan(50);
});
