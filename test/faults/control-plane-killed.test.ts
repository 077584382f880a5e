// A control-plane replica SIGKILLed while proxies are connected to it cannot record that their streams
// ended. A proxy that does not come back under the same id (restarted meanwhile: ids are per process
// by default; a pod replaced or scaled away) must not count as connected for ever: rollouts would wait
// for it and end FAILED on every change, and `dataPlanes` would list it as connected. Conversely, a
// replica that records the end of a proxy's old stream after the proxy reconnected elsewhere must not
// leave it disconnected for ever.
import { currentRevision } from '../support/gateway-harness';
import { registerOpenAIService, seedEnvironments, seedTenant, startTestControlPlane, type Tenant, type TestControlPlane } from '../support/control-plane-harness';
import { freePort } from '../support/free-port';
import { type RunningProcess, runCli } from '../support/processes';
import { connectRawProxy, type RawProxy } from '../support/raw-proxy';
import { waitFor } from '../support/wait';

interface Deployment {
  environment: string;
  status: string;
  revision: number;
  message: string;
}

let cp: TestControlPlane;
let tenant: Tenant;
let serviceId: string;
let killed: RunningProcess | undefined;
const peers: RawProxy[] = [];

beforeAll(async () => {
  // The surviving replica runs the rollouts; both refresh their proxies' liveness every 500 ms.
  cp = await startTestControlPlane({ TOKENGATE_INPROCESS_WORKER: 'true', TOKENGATE_ROLLOUT_TIMEOUT_MS: '15000', TOKENGATE_PROXY_HEARTBEAT_MS: '500' });
  await seedEnvironments(cp);
  tenant = await seedTenant(cp, 'acme');
  serviceId = await registerOpenAIService(cp, tenant, 'http://127.0.0.1:9/v1');
});
afterAll(async () => {
  for (const peer of peers) peer.close();
  await killed?.stop('SIGKILL');
  await cp?.stop();
});

/** A stand-in proxy that ACKs every snapshot it is sent. */
function ackingProxy(address: string, proxyId: string): RawProxy {
  const peer = connectRawProxy(address, cp.dataPlaneToken, { proxyId, environment: 'production', version: 'test', lastAppliedRevision: 0 });
  peer.stream.on('data', (message: { snapshot?: { revision: number } }) => message.snapshot && peer.ack(message.snapshot.revision));
  peers.push(peer);
  return peer;
}

async function proxies(): Promise<Array<{ id: string; connected: boolean }>> {
  const { dataPlanes } = await cp.ok<{ dataPlanes: Array<{ id: string; connected: boolean }> }>('query { dataPlanes(environment: "production") { id connected } }');
  return dataPlanes;
}

/** The production deployment of the service once its rollout of `revision` ended. */
function settledDeployment(revision: number): Promise<Deployment> {
  return waitFor(
    async () => {
      const { deployments } = await cp.ok<{ deployments: Deployment[] }>('query($s: ID!) { deployments(serviceId: $s) { environment status revision message } }', { s: serviceId });
      const current = deployments.find((x) => x.environment === 'production')!;
      return current.revision === revision && (current.status === 'DEPLOYED' || current.status === 'FAILED') && current;
    },
    `the rollout of revision ${revision} to end`,
    30_000,
  );
}

it('proxies of a SIGKILLed replica that never return stop counting as connected, and rollouts end DEPLOYED', async () => {
  const grpcPort = await freePort();
  killed = runCli(['control-plane'], {
    DATABASE_URL: cp.databaseUrl,
    TOKENGATE_REDIS_NAMESPACE: cp.redisNamespace,
    TOKENGATE_SECRET_KEY: cp.secretKey,
    TOKENGATE_DATAPLANE_TOKEN: cp.dataPlaneToken,
    TOKENGATE_ADMIN_TOKEN: cp.adminToken,
    TOKENGATE_PORT: '0',
    TOKENGATE_GRPC_PORT: String(grpcPort),
    TOKENGATE_PROXY_HEARTBEAT_MS: '500',
    TOKENGATE_LOG_LEVEL: 'info',
  });
  await killed.waitFor(/control plane listening/);

  const gone = ackingProxy(`127.0.0.1:${grpcPort}`, 'proxy-of-the-killed-replica');
  await waitFor(() => gone.snapshots.length > 0, 'the first snapshot from the replica about to die');
  await waitFor(async () => (await proxies()).find((p) => p.id === 'proxy-of-the-killed-replica')?.connected, 'the proxy to be listed as connected');

  // The replica dies without a word; its proxy is replaced by one with another id, on the other replica.
  await killed.stop('SIGKILL');
  killed = undefined;
  gone.close();
  const live = ackingProxy(cp.grpcAddress, 'replacement-proxy');
  await waitFor(() => live.snapshots.length > 0, 'the replacement’s first snapshot');

  await cp.ok('mutation($s: ID!) { configureServiceEnvironment(serviceId: $s, environment: "production", input: {rateLimit: {timeUnit: HOUR, maxTotalTokens: 1234}}) { id } }', { s: serviceId }, tenant.tokens.engineer);
  const revision = await currentRevision(cp);
  const d = await settledDeployment(revision);
  expect(d).toMatchObject({ status: 'DEPLOYED', message: `revision ${revision} applied by 1 proxy of production` });
  expect(await proxies()).toEqual(
    expect.arrayContaining([
      { id: 'proxy-of-the-killed-replica', connected: false },
      { id: 'replacement-proxy', connected: true },
    ]),
  );
});

it('a proxy that moved to another replica before the old one recorded its disconnect counts as connected again', async () => {
  const other = await startTestControlPlane({ TOKENGATE_PROXY_HEARTBEAT_MS: '500' }, cp);
  try {
    // The proxy's old stream, on `cp`, is still open when its new one, on `other`, says Hello.
    const old = connectRawProxy(cp.grpcAddress, cp.dataPlaneToken, { proxyId: 'moving-proxy', environment: 'production', version: 'test', lastAppliedRevision: 0 });
    peers.push(old);
    await waitFor(() => old.snapshots.length > 0, 'the old stream’s snapshot');
    const moved = ackingProxy(other.grpcAddress, 'moving-proxy');
    await waitFor(() => moved.snapshots.length > 0, 'the new stream’s snapshot');
    const lastSeen = async () => {
      const rows: Array<{ last_seen_at: Date; applied_revision: string }> = await cp.plane.db.query("SELECT last_seen_at, applied_revision FROM data_planes WHERE id = 'moving-proxy'");
      return rows[0];
    };
    const acked = await waitFor(async () => {
      const row = await lastSeen();
      return Number(row.applied_revision) > 0 && row;
    }, 'the new stream’s ACK to be recorded');

    // Now `cp` sees the old stream end and records the proxy as disconnected (last_seen_at moves).
    old.close();
    await waitFor(async () => (await lastSeen()).last_seen_at.getTime() !== acked.last_seen_at.getTime(), 'the old replica to record the disconnect');
    await waitFor(async () => (await proxies()).find((p) => p.id === 'moving-proxy')?.connected, 'the moved proxy to count as connected again', 15_000);

    // And rollouts wait for it again: both stand-ins ACK, so the rollout names two proxies.
    await cp.ok('mutation($s: ID!) { configureServiceEnvironment(serviceId: $s, environment: "production", input: {rateLimit: {timeUnit: HOUR, maxTotalTokens: 2345}}) { id } }', { s: serviceId }, tenant.tokens.engineer);
    const revision = await currentRevision(cp);
    const d = await settledDeployment(revision);
    expect(d).toMatchObject({ status: 'DEPLOYED', message: `revision ${revision} applied by 2 proxies of production` });
  } finally {
    for (const peer of peers.splice(0)) peer.close();
    await other.stop();
  }
});
