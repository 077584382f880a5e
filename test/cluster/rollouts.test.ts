// Rollouts on a Redis Cluster (three masters started by the test): the control plane enqueues on
// BullMQ, a `tokengate worker` process (REDIS_URL=redis+cluster://…) takes the job to DEPLOYED once
// the proxy applied the revision, and the queue's keys all live in the slot of its hash-tagged prefix.
import { Redis } from 'ioredis';
import { ROLLOUT_QUEUE, type RolloutJob, rolloutJobId, rolloutQueuePrefix } from '../../control-plane/src/deployment/rollout-queue';
import { currentRevision, type Gateway, startGateway } from '../support/gateway-harness';
import { type RunningProcess, runCli } from '../support/processes';
import { PrivateRedisCluster } from '../support/redis-cluster';
import { waitFor } from '../support/wait';

interface Deployment {
  environment: string;
  status: string;
  revision: number;
  message: string;
}

let cluster: PrivateRedisCluster;
let gw: Gateway;
let worker: RunningProcess | undefined;

beforeAll(async () => {
  cluster = await PrivateRedisCluster.start();
  gw = await startGateway({ rateLimiting: { redisUrl: cluster.url } }, { REDIS_URL: cluster.url });
  worker = runCli(['worker'], {
    DATABASE_URL: gw.cp.databaseUrl,
    REDIS_URL: cluster.url,
    TOKENGATE_REDIS_NAMESPACE: gw.cp.redisNamespace,
    TOKENGATE_SECRET_KEY: gw.cp.secretKey,
    TOKENGATE_DATAPLANE_TOKEN: gw.cp.dataPlaneToken,
    TOKENGATE_LOG_LEVEL: 'info',
    TOKENGATE_WORKER_PORT: '0',
  });
  await worker.waitFor(/rollout worker started/);
});
afterAll(async () => {
  await worker?.stop('SIGTERM');
  await gw?.stop();
  await cluster?.stop();
});

async function deployment(serviceId: string): Promise<Deployment> {
  const { deployments } = await gw.cp.ok<{ deployments: Deployment[] }>('query($s: ID!) { deployments(serviceId: $s) { environment status revision message } }', { s: serviceId });
  return deployments.find((d) => d.environment === 'production')!;
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

it('a change rolls out through BullMQ on the cluster to DEPLOYED, its job completed in the queue’s one slot', async () => {
  const serviceId = gw.services.openai.id;
  const { errors } = await gw.cp.gql(
    'mutation($s: ID!) { configureServiceEnvironment(serviceId: $s, environment: "production", input: {rateLimit: {timeUnit: HOUR, maxTotalTokens: 4321}}) { id } }',
    { s: serviceId },
    gw.tenant.tokens.engineer,
  );
  expect(errors).toBeUndefined();
  const revision = await currentRevision(gw.cp);
  const done = await waitFor(
    async () => {
      const current = await deployment(serviceId);
      return current.revision === revision && (current.status === 'DEPLOYED' || current.status === 'FAILED') && current;
    },
    `the rollout of revision ${revision}`,
    45_000,
  );
  expect(done).toMatchObject({ status: 'DEPLOYED', message: `revision ${revision} applied by 1 proxy of production` });
  expect(await servedLimit()).toBe('4321');

  // Every key of the queue hashes to the prefix's slot; the finished job is in the completed set there.
  const prefix = `${rolloutQueuePrefix(gw.cp.redisNamespace)}:${ROLLOUT_QUEUE}`;
  const port = await cluster.nodeOf(`${prefix}:completed`);
  expect(await cluster.nodeOf(`${prefix}:wait`)).toBe(port);
  const node = new Redis(port, '127.0.0.1');
  try {
    // The job of this revision in production (the service's other environments have jobs too).
    let jobId: string | undefined;
    for (const key of await node.keys(`${prefix}:${serviceId}.*`)) {
      // A job's hash is `prefix:id`; an active job also has `prefix:id:lock` (a string) and may have `:logs`.
      if (key.slice(prefix.length + 1).includes(':')) continue;
      const data = JSON.parse((await node.hget(key, 'data')) ?? 'null') as RolloutJob | null;
      if (data?.environment === 'production' && data.revision === revision) jobId = rolloutJobId(data);
    }
    if (jobId === undefined) throw new Error(`no job of revision ${revision} in production under ${prefix}`);
    // The worker marks the deployment DEPLOYED inside the job; BullMQ completes the job just after.
    await waitFor(async () => (await node.zscore(`${prefix}:completed`, jobId)) !== null, `job ${jobId} to complete`);
    expect(await node.hget(`${prefix}:${jobId}`, 'returnvalue')).toBe('"deployed"');
  } finally {
    node.disconnect();
  }
  // The control plane's queue metrics read the cluster too (-1 would mean unreadable): nothing left waiting.
  const waiting = async () => /^tokengate_rollout_jobs{state="waiting"} (-?\d+)$/m.exec(await (await fetch(gw.cp.graphqlUrl.replace(/\/graphql$/, '/metrics'))).text())?.[1];
  await waitFor(async () => (await waiting()) === '0', 'the waiting rollout jobs, read from the cluster, to be 0');
});

it('the worker stops cleanly on SIGTERM with the cluster up', async () => {
  const stopping = worker!;
  worker = undefined;
  expect(await stopping.stop('SIGTERM')).toBe(0);
  expect(stopping.output()).toMatch(/"shutdown":"graceful"/);
});
