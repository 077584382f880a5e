// Usage survives the proxy: requests served while the control plane is down are reported once it is
// back, even when the proxy that served them was SIGKILLed (or stopped) in between. Their batches wait
// in the Redis spool; a proxy started afterwards (a new process, a new id) re-sends them, and a batch
// delivered twice is counted once.
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { type FakeServer, startFakeOpenAI } from '../fakes';
import { PROVIDER_SECRETS } from '../support/gateway-harness';
import { type Tenant, type TestControlPlane, connectApp, registerOpenAIService, seedEnvironments, seedTenant, startTestControlPlane } from '../support/control-plane-harness';
import { freePort } from '../support/free-port';
import { type RunningProcess, runCli } from '../support/processes';
import { waitFor } from '../support/wait';

const REQUESTS = 5;
const PROMPT = 20;
const COMPLETION = 10;

let cp: TestControlPlane;
let restarted: TestControlPlane | null = null;
let tenant: Tenant;
let upstream: FakeServer;
let redis: Redis;
let key: string;
let connectionId: string;
const proxies: RunningProcess[] = [];

function spoolKey(): string {
  return `${cp.redisNamespace}:usage-spool:production`;
}

/** Requests and tokens in the spool's batches. */
async function spooled(): Promise<{ batches: number; requests: number; prompt: number; completion: number }> {
  const entries = await redis.hvals(spoolKey());
  const sum = { batches: entries.length, requests: 0, prompt: 0, completion: 0 };
  for (const entry of entries) {
    const { batch } = JSON.parse(entry) as { batch: { records: Array<{ requests: string; prompt_tokens: string; completion_tokens: string }> } };
    for (const record of batch.records) {
      sum.requests += Number(record.requests);
      sum.prompt += Number(record.prompt_tokens);
      sum.completion += Number(record.completion_tokens);
    }
  }
  return sum;
}

/** Starts `tokengate data-plane` and waits until it serves its first snapshot. */
async function startProxy(proxyId: string, reportIntervalMs = 100): Promise<{ port: number; process: RunningProcess }> {
  const port = await freePort();
  const started = runCli(
    ['data-plane', '--environment', 'production', '--port', String(port), '--control-plane', cp.grpcAddress, '--proxy-id', proxyId, '--log-level', 'warn'],
    {
      TOKENGATE_DATAPLANE_TOKEN: cp.dataPlaneToken,
      TOKENGATE_REDIS_NAMESPACE: cp.redisNamespace,
      TOKENGATE_USAGE_ORPHAN_AGE_MS: '0',
      TOKENGATE_USAGE_REPORT_INTERVAL_MS: String(reportIntervalMs),
    },
  );
  proxies.push(started);
  const state = await waitFor(
    async () => {
      if (started.child.exitCode !== null || started.child.signalCode !== null) return 'exited';
      return (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.status === 200 && 'ready';
    },
    `${proxyId} to apply its first snapshot`,
    30_000,
  );
  if (state === 'exited') throw new Error(`${proxyId} exited:\n${started.output()}`);
  return { port, process: started };
}

async function chatThrough(port: number): Promise<void> {
  const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/acme/openai`, apiKey: key, maxRetries: 0 });
  for (let i = 0; i < REQUESTS; i++) {
    const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Hi ${i}` }] });
    expect(completion.usage?.prompt_tokens).toBe(PROMPT);
  }
}

async function reportedUsage(plane: TestControlPlane): Promise<{ requests: number; promptTokens: number; completionTokens: number }> {
  const { connection } = await plane.ok<{ connection: { usageReport: { rows: Array<{ requests: number; promptTokens: number; completionTokens: number }> } } }>(
    'query($id: ID!) { connection(id: $id) { usageReport { rows { requests promptTokens completionTokens } } } }',
    { id: connectionId },
    tenant.tokens.developer,
  );
  return connection.usageReport.rows[0] ?? { requests: 0, promptTokens: 0, completionTokens: 0 };
}

beforeAll(async () => {
  cp = await startTestControlPlane();
  await seedEnvironments(cp);
  tenant = await seedTenant(cp, 'acme');
  upstream = await startFakeOpenAI({ requireApiKey: PROVIDER_SECRETS.openai });
  upstream.behaviour.usage = { prompt: PROMPT, completion: COMPLETION };
  const serviceId = await registerOpenAIService(cp, tenant, `${upstream.url}/v1`);
  ({ connectionId, key } = await connectApp(cp, tenant, serviceId));
  redis = new Redis('redis://127.0.0.1:6379');
});
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.stop('SIGKILL')));
  await redis?.del(spoolKey());
  redis?.disconnect();
  await restarted?.stop();
  await cp?.stop();
  await upstream?.close();
});

it('tokens served while the control plane is down survive a SIGKILLed and a SIGTERMed proxy, and are counted once', async () => {
  const grpcPort = Number(cp.grpcAddress.split(':').pop());
  const killed = await startProxy('proxy-killed');
  // This one reports only at shutdown: what it served is spooled by its SIGTERM handling alone.
  const stopped = await startProxy('proxy-stopped', 3_600_000);

  // The control plane goes away; the proxies keep serving their last snapshot.
  await cp.plane.stop();
  await chatThrough(killed.port);
  // Once the batches are in the spool, a crash loses nothing.
  await waitFor(async () => (await spooled()).requests === REQUESTS, 'the usage to be spooled in Redis');
  await killed.process.stop('SIGKILL');

  await chatThrough(stopped.port);
  expect(await spooled()).toMatchObject({ requests: REQUESTS });
  expect(await stopped.process.stop('SIGTERM')).toBe(0);
  expect(await spooled()).toMatchObject({ requests: 2 * REQUESTS, prompt: 2 * REQUESTS * PROMPT, completion: 2 * REQUESTS * COMPLETION });
  const lostAcknowledgements = await redis.hgetall(spoolKey());

  // The control plane returns (same database, same gRPC port) and a new proxy re-sends the spool.
  restarted = await startTestControlPlane({ TOKENGATE_GRPC_PORT: String(grpcPort) }, cp);
  const plane = restarted;
  await startProxy('proxy-new');
  await waitFor(async () => (await reportedUsage(plane)).requests === 2 * REQUESTS, 'the spooled usage to reach GraphQL');
  expect(await reportedUsage(plane)).toEqual({ requests: 2 * REQUESTS, promptTokens: 2 * REQUESTS * PROMPT, completionTokens: 2 * REQUESTS * COMPLETION });
  await waitFor(async () => (await spooled()).batches === 0, 'acknowledged batches to leave the spool');

  // The same batches again, as if every acknowledgement had been lost: applied once, nothing doubles.
  await redis.hset(spoolKey(), lostAcknowledgements);
  await startProxy('proxy-resend');
  await waitFor(async () => (await spooled()).batches === 0, 're-sent batches to be acknowledged');
  expect(await reportedUsage(plane)).toEqual({ requests: 2 * REQUESTS, promptTokens: 2 * REQUESTS * PROMPT, completionTokens: 2 * REQUESTS * COMPLETION });
});
