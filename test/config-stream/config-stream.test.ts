// The control plane's side of the gRPC config stream, driven by a raw gRPC client standing in for a proxy.
import { createHash } from 'node:crypto';
import { type Tenant, type TestControlPlane, seedEnvironments, seedTenant, startTestControlPlane } from '../support/control-plane-harness';
import { connectRawProxy as connect, type RawControlPlaneMessage, type RawSnapshot } from '../support/raw-proxy';
import { waitFor } from '../support/wait';
import { connectDeltaPeer } from './delta-peer';

const OPENAI_KEY = 'sk-config-stream-test-0123456789';
let a: TestControlPlane;
let b: TestControlPlane;
let tenant: Tenant;
let serviceId: string;

beforeAll(async () => {
  a = await startTestControlPlane();
  // Replica B polls never: whatever reaches it from replica A must come through Redis pub/sub.
  b = await startTestControlPlane({ TOKENGATE_REVISION_POLL_MS: '0' }, a);
  await seedEnvironments(a);
  tenant = await seedTenant(a, 'initech');
  const { registerGenAIService } = await a.ok<{ registerGenAIService: { id: string } }>(
    `mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id } }`,
    {
      i: {
        organizationId: tenant.organizationId, scope: 'ORGANIZATION', provider: 'OPENAI', name: 'GPT', contextPath: '/gpt', serviceUrl: 'http://127.0.0.1:9/v1',
        environments: [{ environment: 'production', backendSecurity: { value: OPENAI_KEY }, rateLimit: { timeUnit: 'MINUTE', maxTotalTokens: 1000 } }],
      },
    },
  );
  serviceId = registerGenAIService.id;
});

afterAll(async () => {
  await b?.stop();
  await a?.stop();
});

it('sends a full snapshot after Hello, translating rows into the proxy model', async () => {
  const proxy = connect(b.grpcAddress, b.dataPlaneToken, { proxyId: 'proxy-1', environment: 'production', version: 'test', lastAppliedRevision: 0 });
  try {
    const [snapshot] = await waitFor(() => proxy.snapshots.length > 0 && proxy.snapshots, 'the first snapshot');
    expect(snapshot.environment).toBe('production');
    expect(snapshot.revision).toBeGreaterThan(0);
    expect(snapshot.services).toEqual([
      expect.objectContaining({
        id: serviceId, organizationHandle: 'initech', contextPath: '/gpt', provider: 'OPENAI', upstreamUrl: 'http://127.0.0.1:9/v1', marketplaceRemoved: false,
        backendAuth: { apiKey: { headerName: 'Authorization', headerValue: `Bearer ${OPENAI_KEY}`, apiVersion: '' }, auth: 'apiKey' },
        rateLimit: { timeUnit: 'MINUTE', maxPromptTokens: 0, maxCompletionTokens: 0, maxTotalTokens: 1000, shadow: false },
        connectionQuota: null,
        streamCutoff: false,
      }),
    ]);
    proxy.stream.write({ ack: { revision: snapshot.revision } });
    const { dataPlanes } = await waitFor(async () => {
      const data = await a.ok<{ dataPlanes: Array<{ id: string; environment: string; appliedRevision: number; connected: boolean }> }>('{ dataPlanes(environment: "production") { id environment appliedRevision connected } }');
      return data.dataPlanes[0]?.appliedRevision === snapshot.revision && data;
    }, 'the ACK to be recorded');
    expect(dataPlanes).toEqual([{ id: 'proxy-1', environment: 'production', appliedRevision: snapshot.revision, connected: true }]);
  } finally {
    proxy.close();
  }
  await waitFor(async () => (await a.ok<{ dataPlanes: Array<{ connected: boolean }> }>('{ dataPlanes { connected } }')).dataPlanes.every((d) => !d.connected), 'the disconnect to be recorded');
});

it('pushes a change made through another replica, with keys as hashes only', async () => {
  const proxy = connect(b.grpcAddress, b.dataPlaneToken, { proxyId: 'proxy-2', environment: 'production', version: 'test', lastAppliedRevision: 0 });
  try {
    const first = (await waitFor(() => proxy.snapshots[0], 'the first snapshot')) as RawSnapshot;
    const { createConnection } = await a.ok<{ createConnection: { keys: Array<{ environment: string; apiKey: string }> } }>(
      `mutation($i: CreateConnectionInput!) { createConnection(input: $i) { keys { environment apiKey } } }`,
      { i: { projectId: tenant.projectId, serviceId, name: 'app' } },
      tenant.tokens.developer,
    );
    const next = await waitFor(() => proxy.snapshots.find((s) => s.revision > first.revision), 'the pushed snapshot');
    const key = createConnection.keys.find((k) => k.environment === 'production')!.apiKey;
    expect(next.consumerKeys).toEqual([expect.objectContaining({ keyHash: createHash('sha256').update(key).digest('hex'), serviceId, projectId: tenant.projectId })]);
    expect(JSON.stringify(next)).not.toContain(key);

    proxy.stream.write({ nack: { revision: next.revision, reason: 'cannot compile route /gpt: test refusal' } });
    await waitFor(async () => {
      const data = await a.ok<{ dataPlanes: Array<{ id: string; lastNackReason: string | null; lastNackRevision: number | null }> }>('{ dataPlanes { id lastNackReason lastNackRevision } }');
      return data.dataPlanes.find((d) => d.id === 'proxy-2' && d.lastNackReason === 'cannot compile route /gpt: test refusal' && d.lastNackRevision === next.revision);
    }, 'the NACK to be recorded');
  } finally {
    proxy.close();
  }
});

it('sends a delta for a change made through another replica to a proxy that accepts deltas', async () => {
  const proxy = connectDeltaPeer(b.grpcAddress, b.dataPlaneToken, { proxyId: 'proxy-delta', environment: 'production' });
  try {
    const first = await proxy.nth(0);
    if (first.kind !== 'snapshot') throw new Error('expected a snapshot first');
    const { createConnection } = await a.ok<{ createConnection: { keys: Array<{ environment: string; apiKey: string }> } }>(
      `mutation($i: CreateConnectionInput!) { createConnection(input: $i) { keys { environment apiKey } } }`,
      { i: { projectId: tenant.projectId, serviceId, name: 'delta-app' } },
      tenant.tokens.developer,
    );
    const key = createConnection.keys.find((k) => k.environment === 'production')!.apiKey;
    const next = await proxy.nth(1);
    expect(next).toEqual({
      kind: 'delta',
      delta: expect.objectContaining({ base_revision: first.snapshot.revision, revision: String(Number(first.snapshot.revision) + 1), upserted_services: [], upserted_keys: [expect.objectContaining({ key_hash: createHash('sha256').update(key).digest('hex') })] }),
    });
  } finally {
    proxy.close();
  }
});

it('does not resend the revision a reconnecting proxy already holds', async () => {
  const { environments } = await a.ok<{ environments: Array<{ handle: string; revision: number }> }>('{ environments { handle revision } }');
  const current = environments.find((e) => e.handle === 'production')!.revision;
  const proxy = connect(b.grpcAddress, b.dataPlaneToken, { proxyId: 'proxy-3', environment: 'production', version: 'test', lastAppliedRevision: current });
  try {
    await a.ok(`mutation($s: ID!) { configureServiceEnvironment(serviceId: $s, environment: "production", input: {rateLimit: {timeUnit: HOUR, maxTotalTokens: 5}}) { id } }`, { s: serviceId });
    const pushed = await waitFor(() => proxy.snapshots[0], 'the next revision');
    expect(pushed.revision).toBe(current + 1);
    expect(proxy.snapshots.every((s) => s.revision > current)).toBe(true);
  } finally {
    proxy.close();
  }
});

it('refuses a wrong data-plane token and an unknown environment', async () => {
  const intruder = connect(a.grpcAddress, 'wrong-token', { proxyId: 'x', environment: 'production', version: 'test', lastAppliedRevision: 0 });
  const refused = await waitFor(() => intruder.error, 'the refusal');
  expect(refused.code).toBe(16); // UNAUTHENTICATED
  expect(intruder.snapshots).toEqual([]);
  intruder.close();
  const lost = connect(a.grpcAddress, a.dataPlaneToken, { proxyId: 'y', environment: 'mars', version: 'test', lastAppliedRevision: 0 });
  const invalid = await waitFor(() => lost.error, 'the refusal');
  expect(invalid.code).toBe(3); // INVALID_ARGUMENT
  expect(invalid.details).toMatch(/unknown environment "mars"/);
  lost.close();
});

it('stores a usage batch once, acknowledges every copy, and shows it per connection and per service', async () => {
  const { createConnection } = await a.ok<{ createConnection: { connection: { id: string } } }>(
    `mutation($i: CreateConnectionInput!) { createConnection(input: $i) { connection { id } } }`,
    { i: { projectId: tenant.projectId, serviceId, name: 'metered' } },
    tenant.tokens.developer,
  );
  const connectionId = createConnection.connection.id;
  const proxy = connect(b.grpcAddress, b.dataPlaneToken, { proxyId: 'proxy-usage', environment: 'production', version: 'test', lastAppliedRevision: 0 });
  const acks: string[] = [];
  proxy.stream.on('data', (message: RawControlPlaneMessage) => message.usageAck && acks.push(message.usageAck.batchId));
  try {
    const windowStart = '2026-11-25T10:00:00.000Z';
    const batch = {
      batchId: 'proxy-usage:1',
      records: [
        { serviceId, connectionId, windowUnit: 'HOUR', windowStart, promptTokens: 11, completionTokens: 7, totalTokens: 18, requests: 1 },
        { serviceId: '00000000-0000-0000-0000-000000000000', connectionId, windowUnit: 'HOUR', windowStart, promptTokens: 1, completionTokens: 1, totalTokens: 2, requests: 1 },
      ],
    };
    proxy.stream.write({ usage: batch });
    proxy.stream.write({ usage: batch }); // re-sent after a lost ACK
    proxy.stream.write({ usage: { batchId: 'proxy-usage:2', records: [{ ...batch.records[0], promptTokens: 5, completionTokens: 5, totalTokens: 10 }] } });
    await waitFor(() => acks.length === 3, 'three usage ACKs');
    expect(acks).toEqual(['proxy-usage:1', 'proxy-usage:1', 'proxy-usage:2']);
    const { connection } = await a.ok<{ connection: { usage: unknown[] } }>('query($id: ID!) { connection(id: $id) { usage(environment: "production") { environment windowUnit windowStart promptTokens completionTokens totalTokens requests } } }', { id: connectionId }, tenant.tokens.developer);
    expect(connection.usage).toEqual([{ environment: 'production', windowUnit: 'HOUR', windowStart, promptTokens: 16, completionTokens: 12, totalTokens: 28, requests: 2 }]);
    const { genAIService } = await a.ok<{ genAIService: { usage: Array<{ totalTokens: number }> } }>('query($id: ID!) { genAIService(id: $id) { usage { totalTokens } } }', { id: serviceId });
    expect(genAIService.usage).toEqual([{ totalTokens: 28 }]);
  } finally {
    proxy.close();
  }
});
