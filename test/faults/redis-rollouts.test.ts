// Redis down while a configuration changes: the mutation still commits (PostgreSQL is the system of
// record) and its deployment waits PENDING; when Redis returns, empty, on the same port, the
// control plane's sweeper (every 500 ms here) enqueues the rollout and the worker takes it to DEPLOYED.
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { currentRevision, type Gateway, startGateway } from '../support/gateway-harness';
import { type RunningProcess, runCli } from '../support/processes';
import { PrivateRedis } from '../support/redis-server';
import { waitFor, withinBound } from '../support/wait';

interface Deployment {
  environment: string;
  status: string;
  revision: number;
  message: string;
}

let redis: PrivateRedis;
let gw: Gateway;
let worker: RunningProcess | undefined;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  // Control plane, proxy and a `tokengate worker` process, all on the private Redis.
  gw = await startGateway({ rateLimiting: { redisUrl: redis.url } }, { REDIS_URL: redis.url, TOKENGATE_ROLLOUT_SWEEP_INTERVAL_MS: '500' });
  worker = await startWorker();
});

async function startWorker(): Promise<RunningProcess> {
  const started = runCli(['worker'], {
    DATABASE_URL: gw.cp.databaseUrl,
    REDIS_URL: redis.url,
    TOKENGATE_REDIS_NAMESPACE: gw.cp.redisNamespace,
    TOKENGATE_SECRET_KEY: gw.cp.secretKey,
    TOKENGATE_DATAPLANE_TOKEN: gw.cp.dataPlaneToken,
    TOKENGATE_LOG_LEVEL: 'info',
    TOKENGATE_WORKER_PORT: '0',
  });
  await started.waitFor(/rollout worker started/);
  return started;
}
afterAll(async () => {
  // Stopping does not wait on Redis, even when a failure left it down (test/faults/shutdown-during-outage.test.ts).
  await worker?.stop('SIGKILL');
  await gw?.stop();
  await redis?.stop();
});

/** Waiting rollout jobs as the control plane's /metrics reads them from Redis (-1: Redis unreadable). */
async function queueJobs(): Promise<number> {
  const text = await (await fetch(gw.cp.graphqlUrl.replace(/\/graphql$/, '/metrics'))).text();
  return Number(/^tokengate_rollout_jobs{state="waiting"} (-?\d+)/m.exec(text)?.[1]);
}

async function deployment(serviceId: string): Promise<Deployment> {
  const { deployments } = await gw.cp.ok<{ deployments: Deployment[] }>('query($s: ID!) { deployments(serviceId: $s) { environment status revision message } }', { s: serviceId });
  return deployments.find((d) => d.environment === 'production')!;
}

function limitTokens(maxTotalTokens: number) {
  return gw.cp.gql<{ configureServiceEnvironment: { id: string } }>(
    'mutation($s: ID!, $n: Int) { configureServiceEnvironment(serviceId: $s, environment: "production", input: {rateLimit: {timeUnit: HOUR, maxTotalTokens: $n}}) { id } }',
    { s: gw.services.openai.id, n: maxTotalTokens },
    gw.tenant.tokens.engineer,
  );
}

/** The total-token limit the proxy enforces for the OpenAI service, as its response headers state it. */
async function servedLimit(): Promise<string | null> {
  const response = await fetch(`${gw.services.openai.endpoint}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.services.openai.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5 }),
  });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`proxy answered ${response.status}`);
  return response.headers.get('x-ratelimit-limit-tokens');
}

it('a change made while Redis is down stays PENDING, then reaches DEPLOYED when Redis returns', async () => {
  // Baseline: with Redis up a change rolls out (the worker is consuming the private Redis).
  expect((await limitTokens(500)).errors).toBeUndefined();
  const before = await currentRevision(gw.cp);
  await waitFor(async () => {
    const d = await deployment(gw.services.openai.id);
    return d.revision === before && d.status === 'DEPLOYED';
  }, 'the baseline rollout', 30_000);

  await redis.stop();
  const change = await withinBound(limitTokens(777), 'a mutation while Redis is down');
  expect(change.errors).toBeUndefined();
  expect(change.data?.configureServiceEnvironment.id).toBeTruthy();
  const revision = await currentRevision(gw.cp);
  expect(revision).toBeGreaterThan(before);
  // Committed, announced to this replica's proxies directly, but no rollout job could be queued.
  expect(await deployment(gw.services.openai.id)).toMatchObject({ revision, status: 'PENDING' });
  await gw.settle();
  expect(await deployment(gw.services.openai.id)).toMatchObject({ revision, status: 'PENDING' });
  expect(await queueJobs()).toBe(-1);

  await redis.start(); // same port, empty
  const d = await waitFor(
    async () => {
      const current = await deployment(gw.services.openai.id);
      return current.revision === revision && (current.status === 'DEPLOYED' || current.status === 'FAILED') && current;
    },
    `the rollout of revision ${revision} after Redis returned`,
    45_000,
  );
  expect(d).toMatchObject({ status: 'DEPLOYED', message: `revision ${revision} applied by 1 proxy of production` });
  expect(gw.proxy.holder.revision).toBeGreaterThanOrEqual(BigInt(revision));
  expect(await servedLimit()).toBe('777');
});

it('a rollout left IN_PROGRESS whose job Redis lost is taken up again and finishes', async () => {
  // No worker consumes the change's job; then Redis loses it (restarted empty) while the deployment
  // row says IN_PROGRESS, as when a worker had taken the job and died with it.
  await worker!.stop('SIGKILL');
  worker = undefined;
  expect((await limitTokens(888)).errors).toBeUndefined();
  const revision = await currentRevision(gw.cp);
  const client = new Redis(redis.url);
  await client.flushall();
  client.disconnect();
  const db = new Client({ connectionString: gw.cp.databaseUrl });
  await db.connect();
  try {
    const { rowCount } = await db.query(
      "UPDATE deployments SET status = 'IN_PROGRESS', message = 'rolling out', updated_at = now() - interval '10 minutes' WHERE service_id = $1 AND revision = $2",
      [gw.services.openai.id, revision],
    );
    expect(rowCount).toBe(1);
  } finally {
    await db.end();
  }

  worker = await startWorker();
  const d = await waitFor(
    async () => {
      const current = await deployment(gw.services.openai.id);
      return current.revision === revision && current.status !== 'IN_PROGRESS' && current;
    },
    `the orphaned rollout of revision ${revision} to finish`,
    45_000,
  );
  expect(d).toMatchObject({ status: 'DEPLOYED', message: `revision ${revision} applied by 1 proxy of production` });
  expect(await servedLimit()).toBe('888');
});
