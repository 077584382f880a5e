// PostgreSQL away during a rollout for longer than its job's retries last (five attempts, about 8 s of
// back-off): the job ends failed in BullMQ while the deployment row still says IN_PROGRESS. Once the
// database is back, the rollout must still end (here DEPLOYED, its proxy having applied it), not stay
// IN_PROGRESS for ever because the sweeper's re-enqueue hit the failed job's id.
import { currentRevision } from '../support/gateway-harness';
import { registerOpenAIService, seedEnvironments, seedTenant, startTestControlPlane, type Tenant, type TestControlPlane } from '../support/control-plane-harness';
import { PrivatePostgres } from '../support/postgres-server';
import { connectRawProxy, type RawProxy } from '../support/raw-proxy';
import { waitFor } from '../support/wait';

interface Deployment {
  environment: string;
  status: string;
  revision: number;
  message: string;
}

jest.setTimeout(180_000);

let pg: PrivatePostgres;
let cp: TestControlPlane;
let tenant: Tenant;
let serviceId: string;
let proxy: RawProxy | undefined;

beforeAll(async () => {
  pg = await PrivatePostgres.start();
  cp = await startTestControlPlane(
    { TOKENGATE_INPROCESS_WORKER: 'true', TOKENGATE_ROLLOUT_TIMEOUT_MS: '10000', TOKENGATE_ROLLOUT_LOCK_MS: '1000', TOKENGATE_ROLLOUT_SWEEP_INTERVAL_MS: '500' },
    undefined,
    { database: await pg.migratedDatabase() },
  );
  await seedEnvironments(cp);
  tenant = await seedTenant(cp, 'acme');
  serviceId = await registerOpenAIService(cp, tenant, 'http://127.0.0.1:9/v1');
});
afterAll(async () => {
  proxy?.close();
  await cp?.stop();
  pg?.dispose();
});

async function deployment(): Promise<Deployment> {
  const { deployments } = await cp.ok<{ deployments: Deployment[] }>('query($s: ID!) { deployments(serviceId: $s) { environment status revision message } }', { s: serviceId });
  return deployments.find((d) => d.environment === 'production')!;
}

/** Rollout jobs in a state, as the control plane's /metrics reads them from Redis. */
async function rolloutJobs(state: string): Promise<number> {
  const text = await (await fetch(cp.graphqlUrl.replace(/\/graphql$/, '/metrics'))).text();
  return Number(new RegExp(`^tokengate_rollout_jobs{state="${state}"} (-?\\d+)`, 'm').exec(text)?.[1]);
}

it('a rollout whose job exhausted its retries while PostgreSQL was down still ends once it is back', async () => {
  proxy = connectRawProxy(cp.grpcAddress, cp.dataPlaneToken, { proxyId: 'slow-proxy', environment: 'production', version: 'test', lastAppliedRevision: 0 });
  await waitFor(() => proxy!.snapshots.length > 0, 'the first snapshot');
  proxy.ack(proxy.snapshots[0].revision);

  await cp.ok('mutation($s: ID!) { configureServiceEnvironment(serviceId: $s, environment: "production", input: {rateLimit: {timeUnit: HOUR, maxTotalTokens: 4321}}) { id } }', { s: serviceId }, tenant.tokens.engineer);
  const revision = await currentRevision(cp);
  await waitFor(() => proxy!.snapshots.some((s) => s.revision === revision), 'the new snapshot');
  await waitFor(async () => (await deployment()).status === 'IN_PROGRESS', 'the rollout to start');

  await pg.stop('fast');
  await waitFor(async () => (await rolloutJobs('failed')) >= 1, 'the rollout job to exhaust its attempts', 60_000);
  await pg.start();

  // The proxy applies the revision; the rollout must notice.
  proxy.ack(revision);
  const d = await waitFor(
    async () => {
      const current = await deployment().catch(() => null);
      return current !== null && current.revision === revision && current.status !== 'IN_PROGRESS' && current.status !== 'PENDING' && current;
    },
    `the rollout of revision ${revision} to end after PostgreSQL returned`,
    60_000,
  );
  expect(d).toMatchObject({ status: 'DEPLOYED', message: `revision ${revision} applied by 1 proxy of production` });
});
