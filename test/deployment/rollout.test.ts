// Deployment rollouts with BullMQ on real Redis and PostgreSQL: status per environment moves
// PENDING → IN_PROGRESS → DEPLOYED | FAILED as the proxies of that environment ACK or NACK.
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { DataPlaneHandle } from '../../data-plane/src/main';
import { currentRevision, type Gateway, startGateway } from '../support/gateway-harness';
import { runCli } from '../support/processes';
import { connectDeltaPeer, type DeltaPeer } from '../config-stream/delta-peer';
import { connectRawProxy, type RawProxy } from '../support/raw-proxy';
import { waitFor } from '../support/wait';

interface Deployment {
  environment: string;
  status: string;
  revision: number;
  message: string;
  dataPlanes: Array<{ proxyId: string; applied: boolean; appliedRevision: number; appliedAt: string | null; lastNackReason: string | null }>;
}

let gw: Gateway;
let second: DataPlaneHandle;

beforeAll(async () => {
  gw = await startGateway({}, { TOKENGATE_INPROCESS_WORKER: 'true', TOKENGATE_ROLLOUT_TIMEOUT_MS: '1500' });
  second = await gw.startProxy({ proxyId: 'proxy-b' });
});
afterAll(async () => {
  await gw?.stop();
});

async function deployment(serviceId: string, environment = 'production'): Promise<Deployment> {
  const { deployments } = await gw.cp.ok<{ deployments: Deployment[] }>(
    'query($s: ID!) { deployments(serviceId: $s) { environment status revision message dataPlanes { proxyId applied appliedRevision appliedAt lastNackReason } } }',
    { s: serviceId },
  );
  return deployments.find((d) => d.environment === environment)!;
}

async function change(serviceId: string, maxTotalTokens: number): Promise<number> {
  await gw.cp.ok('mutation($s: ID!, $n: Int) { configureServiceEnvironment(serviceId: $s, environment: "production", input: {rateLimit: {timeUnit: HOUR, maxTotalTokens: $n}}) { id } }', { s: serviceId, n: maxTotalTokens });
  return currentRevision(gw.cp);
}

async function settledDeployment(serviceId: string, revision: number, environment = 'production'): Promise<Deployment> {
  return waitFor(async () => {
    const d = await deployment(serviceId, environment);
    return d.revision === revision && (d.status === 'DEPLOYED' || d.status === 'FAILED') && d;
  }, `the rollout of revision ${revision}`);
}

it('a configuration change reaches DEPLOYED with both proxies listed', async () => {
  const revision = await change(gw.services.openai.id, 1000);
  const d = await settledDeployment(gw.services.openai.id, revision);
  expect(d.status).toBe('DEPLOYED');
  expect(d.message).toBe(`revision ${revision} applied by 2 proxies of production`);
  expect(d.dataPlanes.filter((p) => p.applied).map((p) => p.proxyId).sort()).toEqual([gw.proxy.proxyId, 'proxy-b'].sort());
  expect(d.dataPlanes.every((p) => p.appliedRevision >= revision && p.appliedAt !== null)).toBe(true);
  // Queue health on the control plane's /metrics.
  const metrics = await (await fetch(gw.cp.graphqlUrl.replace('/graphql', '/metrics'))).text();
  expect(Number(/^tokengate_rollout_jobs{state="completed"} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
  expect(metrics).toMatch(/^tokengate_rollout_jobs{state="failed"} \d+/m);
});

it('an environment without a connected proxy ends DEPLOYED with an explanation, not a hang', async () => {
  await gw.cp.ok('mutation($s: ID!) { configureServiceEnvironment(serviceId: $s, environment: "development", input: {rateLimit: {timeUnit: DAY, maxTotalTokens: 5}}) { id } }', { s: gw.services.openai.id });
  const revision = await currentRevision(gw.cp, 'development');
  const d = await settledDeployment(gw.services.openai.id, revision, 'development');
  expect(d).toMatchObject({ status: 'DEPLOYED', message: `no proxy of development is connected; proxies receive revision ${revision} when they connect` });
});

describe('with a proxy that refuses or does not answer', () => {
  let raw: RawProxy;
  afterEach(() => raw?.close());

  it('a NACK makes the rollout FAILED with the proxy’s reason', async () => {
    raw = connectRawProxy(gw.cp.grpcAddress, gw.cp.dataPlaneToken, { proxyId: 'picky-proxy', environment: 'production', version: 'test', lastAppliedRevision: 0 });
    await waitFor(() => raw.snapshots.length > 0, 'the first snapshot');
    raw.ack(raw.snapshots[0].revision);
    const revision = await change(gw.services.anthropic.id, 2000);
    const snapshot = await waitFor(() => raw.snapshots.find((s) => s.revision === revision), 'the new snapshot');
    raw.nack(snapshot.revision, 'route /acme/claude: upstream URL rejected by policy');
    const d = await settledDeployment(gw.services.anthropic.id, revision);
    expect(d.status).toBe('FAILED');
    expect(d.message).toBe(`proxy picky-proxy refused revision ${revision}: route /acme/claude: upstream URL rejected by policy`);
    expect(d.dataPlanes.find((p) => p.proxyId === 'picky-proxy')?.lastNackReason).toBe('route /acme/claude: upstream URL rejected by policy');
  });

  describe('a proxy that accepts deltas', () => {
    let peer: DeltaPeer;
    afterEach(() => peer?.close());

    /** Connects, ACKs the first snapshot, makes a change and NACKs its delta, then asks for a snapshot as the proxy does. */
    async function refuseDelta(proxyId: string, serviceId: string, maxTotalTokens: number): Promise<{ revision: number; full: number }> {
      peer = connectDeltaPeer(gw.cp.grpcAddress, gw.cp.dataPlaneToken, { proxyId, environment: 'production' });
      const first = await peer.nth(0);
      if (first.kind !== 'snapshot') throw new Error('expected a snapshot first');
      peer.write({ ack: { revision: first.snapshot.revision } });
      const revision = await change(serviceId, maxTotalTokens);
      const refused = await peer.nth(1);
      if (refused.kind !== 'delta') throw new Error('expected a delta');
      peer.write({ nack: { revision: refused.delta.revision, reason: 'delta refused in test' } });
      peer.write({ resync: { applied_revision: first.snapshot.revision, reason: 'a delta was refused' } });
      const full = await peer.nth(2);
      if (full.kind !== 'snapshot') throw new Error('expected a full snapshot after the SnapshotRequest');
      return { revision, full: Number(full.snapshot.revision) };
    }

    it('is DEPLOYED when it NACKs a delta, then applies the full snapshot it asks for', async () => {
      const { revision, full } = await refuseDelta('delta-recovering-proxy', gw.services.bedrock.id, 4000);
      expect(full).toBeGreaterThanOrEqual(revision);
      peer.write({ ack: { revision: String(full) } });
      const d = await settledDeployment(gw.services.bedrock.id, revision);
      expect(d.status).toBe('DEPLOYED');
      // What the proxy recovered from is no refusal of the revision.
      expect(d.dataPlanes.find((p) => p.proxyId === 'delta-recovering-proxy')).toMatchObject({ applied: true, lastNackReason: null });
    });

    it('is FAILED with the reason the full snapshot was refused for, when that is refused too', async () => {
      const { revision, full } = await refuseDelta('delta-refusing-proxy', gw.services.bedrock.id, 5000);
      peer.write({ nack: { revision: String(full), reason: 'route /acme/bedrock: refused in test' } });
      const d = await settledDeployment(gw.services.bedrock.id, revision);
      expect(d.status).toBe('FAILED');
      expect(d.message).toBe(`proxy delta-refusing-proxy refused revision ${full}: route /acme/bedrock: refused in test`);
    });
  });

  it('a proxy that never answers makes it FAILED after the timeout, naming it', async () => {
    raw = connectRawProxy(gw.cp.grpcAddress, gw.cp.dataPlaneToken, { proxyId: 'silent-proxy', environment: 'production', version: 'test', lastAppliedRevision: 0 });
    await waitFor(() => raw.snapshots.length > 0, 'the first snapshot');
    const revision = await change(gw.services.mistral.id, 3000);
    const d = await settledDeployment(gw.services.mistral.id, revision);
    expect(d.status).toBe('FAILED');
    expect(d.message).toBe(`timed out waiting for proxy silent-proxy to apply revision ${revision}`);
  });
});

it('ten rapid changes end in one DEPLOYED deployment at the newest revision', async () => {
  let revision = 0;
  for (let i = 1; i <= 10; i++) revision = await change(gw.services.azure.id, 100 * i);
  const d = await settledDeployment(gw.services.azure.id, revision);
  expect(d.status).toBe('DEPLOYED');
  const { genAIService } = await gw.cp.ok<{ genAIService: { environmentConfigs: Array<{ environment: string; rateLimit: { maxTotalTokens: number } }> } }>(
    'query($s: ID!) { genAIService(id: $s) { environmentConfigs { environment rateLimit { maxTotalTokens } } } }',
    { s: gw.services.azure.id },
  );
  expect(genAIService.environmentConfigs.find((c) => c.environment === 'production')?.rateLimit.maxTotalTokens).toBe(1000);
  for (const proxy of [gw.proxy, second]) expect(proxy.holder.revision).toBeGreaterThanOrEqual(BigInt(revision));
});

it('a subscription client receives each transition in order, and only for services it may see', async () => {
  const client: Client = createClient({
    url: gw.cp.graphqlUrl.replace('http', 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${gw.tenant.tokens.developer}` },
  });
  const seen: Array<{ status: string; revision: number; environment: string }> = [];
  const subscribed = new Promise<void>((resolve, reject) => {
    client.subscribe<{ deploymentStatusChanged: { status: string; revision: number; environment: string } }>(
      { query: 'subscription($s: ID!) { deploymentStatusChanged(serviceId: $s) { environment status revision } }', variables: { s: gw.services.openai.id } },
      { next: (value) => value.data && seen.push(value.data.deploymentStatusChanged), error: reject, complete: () => resolve() },
    );
  });
  try {
    // Let the subscription register before the change (graphql-ws acknowledges the connection first).
    await waitFor(async () => {
      const revision = await change(gw.services.openai.id, 4242 + seen.length);
      return waitFor(() => seen.some((e) => e.revision === revision && e.status === 'DEPLOYED'), 'the DEPLOYED event', 5000).then(() => revision).catch(() => false);
    }, 'a full rollout seen through the subscription');
    const last = seen.filter((e) => e.environment === 'production').map((e) => `${e.revision}:${e.status}`);
    const revision = Math.max(...seen.map((e) => e.revision));
    expect(last.filter((e) => e.startsWith(`${revision}:`))).toEqual([`${revision}:PENDING`, `${revision}:IN_PROGRESS`, `${revision}:DEPLOYED`]);
  } finally {
    await client.dispose();
  }
  await subscribed.catch(() => undefined);

  const outsider = createClient({ url: gw.cp.graphqlUrl.replace('http', 'ws'), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${gw.cp.adminToken}` }, lazy: true });
  const refused = await new Promise<unknown>((resolve) => {
    outsider.subscribe({ query: 'subscription { deploymentStatusChanged(serviceId: "00000000-0000-0000-0000-000000000000") { status } }' }, { next: resolve, error: resolve, complete: () => resolve(null) });
  });
  expect(JSON.stringify(refused)).toContain('NOT_FOUND');
  await outsider.dispose();
});

it('a rollout survives its worker being killed: another worker finishes it', async () => {
  // Workers as real processes with a short lock, so a killed worker's job is taken over quickly.
  const env = {
    DATABASE_URL: gw.cp.databaseUrl,
    TOKENGATE_REDIS_NAMESPACE: gw.cp.redisNamespace,
    TOKENGATE_SECRET_KEY: gw.cp.secretKey,
    TOKENGATE_DATAPLANE_TOKEN: gw.cp.dataPlaneToken,
    TOKENGATE_ROLLOUT_LOCK_MS: '1000',
    TOKENGATE_ROLLOUT_TIMEOUT_MS: '30000',
    TOKENGATE_LOG_LEVEL: 'info',
    TOKENGATE_WORKER_PORT: '0',
  };
  await gw.cp.plane.stopInProcessWorker();
  const raw = connectRawProxy(gw.cp.grpcAddress, gw.cp.dataPlaneToken, { proxyId: 'slow-proxy', environment: 'production', version: 'test', lastAppliedRevision: 0 });
  const first = runCli(['worker'], env);
  try {
    await first.waitFor(/rollout worker started/);
    const [, metricsPort] = await first.waitFor(/"port":(\d+),"msg":"worker metrics listening"/);
    expect(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()).toMatch(/^tokengate_rollout_jobs{state="active"} \d+/m);
    const revision = await change(gw.services.bedrock.id, 5000);
    await waitFor(async () => (await deployment(gw.services.bedrock.id)).status === 'IN_PROGRESS', 'the rollout to start');
    first.child.kill('SIGKILL');
    await first.exited;
    const replacement = runCli(['worker'], env);
    try {
      await replacement.waitFor(/rollout worker started/);
      const snapshot = await waitFor(() => raw.snapshots.find((s) => s.revision >= revision), 'the snapshot');
      raw.ack(snapshot.revision);
      const d = await settledDeployment(gw.services.bedrock.id, revision);
      expect(d.status).toBe('DEPLOYED');
      expect(d.dataPlanes.find((p) => p.proxyId === 'slow-proxy')?.applied).toBe(true);
    } finally {
      expect(await replacement.stop('SIGTERM')).toBe(0);
    }
  } finally {
    raw.close();
    await first.stop('SIGKILL');
  }
});
