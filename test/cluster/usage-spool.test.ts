// The usage spool on a Redis Cluster (three masters started by the test): a proxy that served
// requests while the control plane was away leaves their batches in the environment's spool hash
// on the cluster when it stops; a new proxy re-sends them once the control plane is back, and they
// are counted once.
import OpenAI from 'openai';
import { pino } from 'pino';
import { type DataPlaneHandle, startDataPlane } from '../../data-plane/src/main';
import { type FakeServer, startFakeOpenAI } from '../fakes';
import { type Tenant, type TestControlPlane, connectApp, registerOpenAIService, seedEnvironments, seedTenant, startTestControlPlane } from '../support/control-plane-harness';
import { currentRevision, PROVIDER_SECRETS } from '../support/gateway-harness';
import { PrivateRedisCluster } from '../support/redis-cluster';
import { waitFor } from '../support/wait';

const REQUESTS = 5;
const PROMPT = 20;
const COMPLETION = 10;

let cluster: PrivateRedisCluster;
let cp: TestControlPlane;
let restarted: TestControlPlane | null = null;
let tenant: Tenant;
let upstream: FakeServer;
let key: string;
let connectionId: string;
const proxies: DataPlaneHandle[] = [];

beforeAll(async () => {
  cluster = await PrivateRedisCluster.start();
  cp = await startTestControlPlane({ REDIS_URL: cluster.url });
  await seedEnvironments(cp);
  tenant = await seedTenant(cp, 'acme');
  upstream = await startFakeOpenAI({ requireApiKey: PROVIDER_SECRETS.openai });
  upstream.behaviour.usage = { prompt: PROMPT, completion: COMPLETION };
  const serviceId = await registerOpenAIService(cp, tenant, `${upstream.url}/v1`);
  ({ connectionId, key } = await connectApp(cp, tenant, serviceId));
});
afterAll(async () => {
  await Promise.all(proxies.map((proxy) => proxy.close()));
  await restarted?.stop();
  await cp?.stop();
  await upstream?.close();
  await cluster?.stop();
});

async function startProxy(proxyId: string, plane: TestControlPlane): Promise<DataPlaneHandle> {
  const proxy = await startDataPlane({
    environment: 'production',
    proxyId,
    port: 0,
    logger: pino({ level: 'silent' }),
    controlPlane: { address: plane.grpcAddress, token: plane.dataPlaneToken, backoff: { initialDelayMs: 20, maxDelayMs: 200 } },
    rateLimiting: { redisUrl: cluster.url, redisNamespace: plane.redisNamespace },
    usageReportIntervalMs: 100,
    usageOrphanAgeMs: 0,
  });
  proxies.push(proxy);
  await proxy.waitForRevision(BigInt(await currentRevision(plane)));
  return proxy;
}

/** Requests in the environment's spool hash, read through a cluster client. */
async function spooled(): Promise<{ batches: number; requests: number }> {
  const client = cluster.client();
  try {
    const entries = await client.hvals(`${cp.redisNamespace}:usage-spool:production`);
    let requests = 0;
    for (const entry of entries) for (const record of (JSON.parse(entry) as { batch: { records: Array<{ requests: string }> } }).batch.records) requests += Number(record.requests);
    return { batches: entries.length, requests };
  } finally {
    client.disconnect();
  }
}

async function reportedRequests(plane: TestControlPlane): Promise<{ requests: number; promptTokens: number; completionTokens: number }> {
  const { connection } = await plane.ok<{ connection: { usageReport: { rows: Array<{ requests: number; promptTokens: number; completionTokens: number }> } } }>(
    'query($id: ID!) { connection(id: $id) { usageReport { rows { requests promptTokens completionTokens } } } }',
    { id: connectionId },
    tenant.tokens.developer,
  );
  return connection.usageReport.rows[0] ?? { requests: 0, promptTokens: 0, completionTokens: 0 };
}

it('usage served while the control plane is away survives its proxy in the cluster spool and is counted once', async () => {
  const grpcPort = Number(cp.grpcAddress.split(':').pop());
  const first = await startProxy('cluster-proxy-a', cp);

  await cp.plane.stop();
  const client = new OpenAI({ baseURL: `${first.url}/acme/openai`, apiKey: key, maxRetries: 0 });
  for (let i = 0; i < REQUESTS; i++) {
    const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Hi ${i}` }] });
    expect(completion.usage?.prompt_tokens).toBe(PROMPT);
  }
  await waitFor(async () => (await spooled()).requests === REQUESTS, 'the usage to be spooled on the cluster');
  await first.close();
  expect((await spooled()).requests).toBe(REQUESTS);

  // The control plane returns (same database, namespace and gRPC port); a new proxy re-sends the spool.
  restarted = await startTestControlPlane({ TOKENGATE_GRPC_PORT: String(grpcPort), REDIS_URL: cluster.url }, cp);
  const plane = restarted;
  await startProxy('cluster-proxy-b', plane);
  await waitFor(async () => (await reportedRequests(plane)).requests === REQUESTS, 'the spooled usage to reach GraphQL');
  await waitFor(async () => (await spooled()).batches === 0, 'acknowledged batches to leave the spool');
  expect(await reportedRequests(plane)).toEqual({ requests: REQUESTS, promptTokens: REQUESTS * PROMPT, completionTokens: REQUESTS * COMPLETION });
});
