// The proxy's end of the config stream against a real gRPC server (FakeConfigServer).
import { startDataPlane, type DataPlaneHandle } from '../main';
import { silentLogger } from '../observability/logger';
import { FakeConfigServer } from '../../../test/support/data-plane/fake-config-server';
import { RecordLog } from '../../../test/support/data-plane/record-log';
import { httpRequest, jsonOf } from '../../../test/support/data-plane/http-client';
import { RecordingUpstream } from '../../../test/support/data-plane/recording-upstream';
import { consumerKeyFixture, serviceFixture, snapshotFixture, TEST_ENVIRONMENT } from '../../../test/support/data-plane/snapshot-fixtures';
import { TEST_TLS } from '../../../test/support/data-plane/tls-fixtures';
import type { ConfigStreamTlsOptions } from './config-stream-client';
import { hashConsumerKey } from '../snapshot/consumer-key-index';
import type { ServiceMessage, SnapshotDeltaMessage, SnapshotMessage } from './wire-types';

const TOKEN = 'dataplane-token-for-tests';
const KEY = 'tgk_config_stream_key';

let upstream: RecordingUpstream;
let server: FakeConfigServer;
let proxy: DataPlaneHandle | undefined;

function snapshotAt(revision: number, services: ServiceMessage[] = [serviceFixture({ id: 'openai', upstream_url: upstream.url })]): SnapshotMessage {
  return snapshotFixture({ revision, services, consumerKeys: services.map((s) => consumerKeyFixture(`${KEY}_${s.id}`, s.id)) });
}

async function startProxy(address: string, tls?: ConfigStreamTlsOptions): Promise<DataPlaneHandle> {
  proxy = await startDataPlane({
    environment: TEST_ENVIRONMENT,
    controlPlane: { address, token: TOKEN, tls, backoff: { initialDelayMs: 10, maxDelayMs: 50 } },
    port: 0,
    proxyId: 'proxy-under-test',
    version: '9.9.9',
    logger: silentLogger(),
    // No Redis: usage batches stay in memory, so the counts below are this proxy's alone.
    rateLimiting: null,
  });
  return proxy;
}

function callService(handle: DataPlaneHandle, serviceId: string) {
  return httpRequest(`${handle.url}/acme/${serviceId}/v1/models`, { headers: { authorization: `Bearer ${KEY}_${serviceId}` } });
}

beforeEach(async () => {
  upstream = await RecordingUpstream.start();
});

afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  await server?.stop();
  await upstream.close();
});

it('says Hello with its identity and token, then compiles, swaps and ACKs a snapshot', async () => {
  server = await FakeConfigServer.start({ token: TOKEN });
  const handle = await startProxy(server.address);
  const hello = await server.hellos.waitFor();
  expect(hello).toEqual({ proxy_id: 'proxy-under-test', environment: TEST_ENVIRONMENT, version: '9.9.9', last_applied_revision: '0', accepts_deltas: true, authorization: `Bearer ${TOKEN}` });

  expect((await httpRequest(`${handle.url}/readyz`)).status).toBe(503);
  expect((await callService(handle, 'openai')).status).toBe(503);

  server.publish(snapshotAt(3));
  expect(await server.replyFor(3)).toEqual({ kind: 'ack', revision: '3', proxyId: 'proxy-under-test' });
  await handle.waitForRevision(3n);
  const ready = await httpRequest(`${handle.url}/readyz`);
  expect(ready.status).toBe(200);
  expect(jsonOf(ready)).toEqual({ status: 'ready', revision: '3' });
  expect((await callService(handle, 'openai')).status).toBe(200);
  expect(handle.configStream?.connected).toBe(true);
  expect((await httpRequest(`${handle.url}/metrics`)).text).toMatch(/tokengate_snapshot_revision{environment="test"} 3\n[\s\S]*tokengate_control_plane_connected{environment="test"} 1/);
});

it('NACKs a snapshot it cannot compile, with the reason, and keeps serving the previous one', async () => {
  server = await FakeConfigServer.start({ token: TOKEN, initialSnapshot: snapshotAt(1) });
  const handle = await startProxy(server.address);
  await server.replyFor(1);

  server.publish(snapshotAt(2, [serviceFixture({ id: 'openai', upstream_url: 'notaurl' })]));
  expect(await server.replyFor(2)).toEqual({ kind: 'nack', revision: '2', reason: 'service openai: upstream_url "notaurl" is not a valid URL', proxyId: 'proxy-under-test' });
  expect(handle.holder.revision).toBe(1n);
  expect((await callService(handle, 'openai')).status).toBe(200);

  // Older than the applied one: refused; equal: confirmed again without recompiling.
  server.publish(snapshotAt(0));
  expect(await server.replyFor(0)).toMatchObject({ kind: 'nack', reason: 'revision 0 is not above the applied revision 1' });
  const applied = handle.holder.current;
  server.publish(snapshotAt(1));
  await server.replies.waitFor((reply) => reply.revision === '1' && reply.kind === 'ack', 1);
  expect(handle.holder.current).toBe(applied);

  server.publish(snapshotAt(5, [serviceFixture({ id: 'openai', upstream_url: upstream.url }), serviceFixture({ id: 'second', upstream_url: upstream.url })]));
  expect(await server.replyFor(5)).toMatchObject({ kind: 'ack' });
  expect((await callService(handle, 'second')).status).toBe(200);
  expect((await httpRequest(`${handle.url}/metrics`)).text).toContain('tokengate_snapshot_rejections_total{environment="test"} 2');
});

describe('deltas', () => {
  const delta = (fields: Partial<SnapshotDeltaMessage> & { base_revision: string; revision: string }): SnapshotDeltaMessage => ({
    upserted_services: [], removed_service_ids: [], upserted_keys: [], removed_key_hashes: [], ...fields,
  });

  it('applies a delta on the applied snapshot and ACKs it: a new service and key work, a removed key is refused', async () => {
    server = await FakeConfigServer.start({ initialSnapshot: snapshotAt(1) });
    const handle = await startProxy(server.address);
    await server.replyFor(1);
    const second = serviceFixture({ id: 'second', upstream_url: upstream.url });
    server.broadcast({ delta: delta({ base_revision: '1', revision: '3', upserted_services: [second], upserted_keys: [consumerKeyFixture(`${KEY}_second`, 'second')], removed_key_hashes: [hashConsumerKey(`${KEY}_openai`)] }) });
    expect(await server.replyFor(3)).toEqual({ kind: 'ack', revision: '3', proxyId: 'proxy-under-test' });
    expect(handle.holder.revision).toBe(3n);
    expect((await callService(handle, 'second')).status).toBe(200);
    expect((await callService(handle, 'openai')).status).toBe(401);
    expect(server.snapshotRequests.length).toBe(0);
  });

  it('asks for a full snapshot on a gap, ignoring deltas until it arrives', async () => {
    server = await FakeConfigServer.start({ initialSnapshot: snapshotAt(1) });
    const handle = await startProxy(server.address);
    await server.replyFor(1);
    server.current = snapshotAt(6);
    server.broadcast({ delta: delta({ base_revision: '2', revision: '4' }) });
    server.broadcast({ delta: delta({ base_revision: '4', revision: '5' }) });
    expect(await server.snapshotRequests.waitFor()).toEqual({ applied_revision: '1', reason: 'delta based on revision 2, applied revision 1' });
    expect(await server.replyFor(6)).toMatchObject({ kind: 'ack' });
    expect(handle.holder.revision).toBe(6n);
    expect(server.snapshotRequests.length).toBe(1);
    expect(server.replies.all.some((reply) => reply.revision === '4' || reply.revision === '5')).toBe(false);
  });

  it('NACKs a delta it cannot compile, keeps serving, and asks for a full snapshot', async () => {
    server = await FakeConfigServer.start({ initialSnapshot: snapshotAt(1) });
    const handle = await startProxy(server.address);
    await server.replyFor(1);
    const applied = handle.holder.current;
    server.current = snapshotAt(3);
    server.broadcast({ delta: delta({ base_revision: '1', revision: '2', upserted_services: [serviceFixture({ id: 'openai', upstream_url: 'notaurl' })] }) });
    expect(await server.replyFor(2)).toEqual({ kind: 'nack', revision: '2', reason: 'service openai: upstream_url "notaurl" is not a valid URL', proxyId: 'proxy-under-test' });
    expect(await server.snapshotRequests.waitFor()).toEqual({ applied_revision: '1', reason: 'a delta was refused' });
    expect(handle.holder.current === applied || handle.holder.revision === 3n).toBe(true);
    expect(await server.replyFor(3)).toMatchObject({ kind: 'ack' });
    expect((await callService(handle, 'openai')).status).toBe(200);
  });
});

it('reconnects after the control plane restarts, serving the last snapshot meanwhile', async () => {
  server = await FakeConfigServer.start({ initialSnapshot: snapshotAt(1) });
  const port = server.port;
  const handle = await startProxy(server.address);
  await server.replyFor(1);

  await server.stop();
  expect((await callService(handle, 'openai')).status).toBe(200);
  expect((await httpRequest(`${handle.url}/readyz`)).status).toBe(200);

  server = await FakeConfigServer.start({ port, initialSnapshot: snapshotAt(2, [serviceFixture({ id: 'openai', upstream_url: upstream.url }), serviceFixture({ id: 'new', upstream_url: upstream.url })]) });
  const hello = await server.hellos.waitFor();
  expect(hello.last_applied_revision).toBe('1');
  expect(await server.replyFor(2)).toMatchObject({ kind: 'ack' });
  expect((await callService(handle, 'new')).status).toBe(200);
});

it('reconnects when the control plane ends the stream, and re-ACKs the current revision', async () => {
  server = await FakeConfigServer.start({ initialSnapshot: snapshotAt(1) });
  await startProxy(server.address);
  await server.replyFor(1);
  server.endAllStreams();
  await server.hellos.waitFor(() => true, 1);
  await server.replies.waitFor((reply) => reply.kind === 'ack' && reply.revision === '1', 1);
});

it('talks TLS to a control plane whose CA it is given', async () => {
  server = await FakeConfigServer.start({ token: TOKEN, tls: TEST_TLS, initialSnapshot: snapshotAt(1) });
  const handle = await startProxy(server.address, { caCert: TEST_TLS.cert });
  expect(await server.replyFor(1)).toMatchObject({ kind: 'ack' });
  expect(handle.configStream?.connected).toBe(true);
});

it('does not trust a TLS control plane whose CA it was not given', async () => {
  server = await FakeConfigServer.start({ tls: TEST_TLS, initialSnapshot: snapshotAt(1) });
  const failures = new RecordLog<string>();
  proxy = await startDataPlane({
    environment: TEST_ENVIRONMENT,
    // No CA material: the system roots, which do not include the test certificate.
    controlPlane: { address: server.address, tls: { caCert: Buffer.alloc(0) }, backoff: { initialDelayMs: 10, maxDelayMs: 50 } },
    port: 0,
    logger: silentLogger(),
    onConfigStreamEvent: (event) => {
      if (event.type === 'disconnected') failures.push(event.reason);
    },
  });
  expect(await failures.waitFor(() => true, 1)).toMatch(/^UNAVAILABLE/);
  expect(server.hellos.length).toBe(0);
  expect(proxy.holder.current).toBeNull();
});

it('keeps retrying while the token is refused', async () => {
  server = await FakeConfigServer.start({ token: 'another-token', initialSnapshot: snapshotAt(1) });
  const handle = await startProxy(server.address);
  await server.refusedStreams.waitFor(() => true, 2);
  expect(server.refusedStreams.all[0]).toBe(`Bearer ${TOKEN}`);
  expect(handle.holder.current).toBeNull();
  expect(handle.configStream?.connected).toBe(false);
});

it('keeps usage batches until the control plane acknowledges them, re-sending after a reconnect', async () => {
  server = await FakeConfigServer.start({ initialSnapshot: snapshotAt(1) });
  const port = server.port;
  const handle = await startProxy(server.address);
  await server.replyFor(1);
  const stream = handle.configStream;
  if (stream === null) throw new Error('no config stream');

  const batch = { batch_id: 'batch-1', records: [{ service_id: 'openai', connection_id: 'conn-openai', window_unit: 'MINUTE' as const, window_start: '2025-01-01T00:00:00Z', prompt_tokens: '10', completion_tokens: '5', total_tokens: '15', requests: '1',
    organization_id: 'org-1', project_id: 'project-1', operation: 'chat_completions', request_model: 'gpt-4o', response_model: 'gpt-4o-2024-08-06',
    cached_prompt_read_tokens: '4', cached_prompt_write_tokens: '0', reasoning_tokens: '2', errors_4xx: '0', errors_5xx: '0', would_have_refused: '0' }] };
  await server.stop();
  stream.sendUsage(batch);
  expect(stream.pendingUsageBatches).toBe(1);

  server = await FakeConfigServer.start({ port, initialSnapshot: snapshotAt(1) });
  expect(await server.usageBatches.waitFor()).toEqual(batch);
  await server.replyFor(1);
  // The fake acknowledged it; once the UsageAck is read the batch is dropped.
  stream.sendUsage({ batch_id: 'batch-2', records: [] });
  await server.usageBatches.waitFor((b) => b.batch_id === 'batch-2');
  await waitUntil(() => stream.pendingUsageBatches === 0);
});

/** Polls a cheap in-process condition on the event loop (no sleeping on wall-clock assumptions). */
async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}
