// A provider response that inflates to gigabytes (a few MB of gzip) is relayed to the client as sent,
// and the proxy's memory stays flat: it decodes a copy for observation only, never holds it, and stops
// decoding at its cap (the request is then metered from the proxy's own count).
import { startFakeOpenAI, type FakeServer, rawRequest } from '../fakes';
import { PROVIDER_SECRETS } from '../support/gateway-harness';
import { type Tenant, type TestControlPlane, connectApp, registerOpenAIService, seedEnvironments, seedTenant, startTestControlPlane } from '../support/control-plane-harness';
import { freePort } from '../support/free-port';
import { type RunningProcess, runCli } from '../support/processes';
import { waitFor } from '../support/wait';

const GIB = 1024 * 1024 * 1024;
const BOMBS = 6;

let cp: TestControlPlane;
let tenant: Tenant;
let upstream: FakeServer;
let proxy: RunningProcess | null = null;
let port: number;
let key: string;
let connectionId: string;

async function residentBytes(): Promise<number> {
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = metrics.split('\n').find((l) => l.startsWith('process_resident_memory_bytes'));
  if (line === undefined) throw new Error('no process_resident_memory_bytes in /metrics');
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function requestsMetered(): Promise<number> {
  const { connection } = await cp.ok<{ connection: { usageReport: { rows: Array<{ requests: number }> } } }>(
    'query($id: ID!) { connection(id: $id) { usageReport { rows { requests } } } }',
    { id: connectionId },
    tenant.tokens.developer,
  );
  return connection.usageReport.rows[0]?.requests ?? 0;
}

function chat(): Promise<Awaited<ReturnType<typeof rawRequest>>> {
  return rawRequest(`http://127.0.0.1:${port}/acme/openai/chat/completions`, {
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'accept-encoding': 'gzip, deflate' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }),
  });
}

beforeAll(async () => {
  cp = await startTestControlPlane();
  await seedEnvironments(cp);
  tenant = await seedTenant(cp, 'acme');
  upstream = await startFakeOpenAI({ requireApiKey: PROVIDER_SECRETS.openai });
  const serviceId = await registerOpenAIService(cp, tenant, `${upstream.url}/v1`);
  ({ connectionId, key } = await connectApp(cp, tenant, serviceId));
  port = await freePort();
  proxy = runCli(['data-plane', '--environment', 'production', '--port', String(port), '--control-plane', cp.grpcAddress, '--log-level', 'error'], {
    TOKENGATE_DATAPLANE_TOKEN: cp.dataPlaneToken,
    TOKENGATE_REDIS_NAMESPACE: cp.redisNamespace,
    TOKENGATE_USAGE_REPORT_INTERVAL_MS: '100',
  });
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.status === 200, 'the proxy to be ready', 30_000);
});
afterAll(async () => {
  await proxy?.stop('SIGKILL');
  await upstream?.close();
  await cp?.stop();
});

async function bomb(): Promise<void> {
  const response = await chat();
  expect(response.status).toBe(200);
  expect(response.headers['content-encoding']).toBe('gzip');
  // The client gets every compressed byte the provider sent (about 1 KB per inflated MiB).
  expect(response.body.length).toBe(Number(response.headers['content-length']));
  expect(response.body.length).toBeLessThan(4 * 1024 * 1024);
}

it(`relays responses inflating to 2 GiB each as sent, meters them, and keeps the proxy's memory flat over ${BOMBS} of them`, async () => {
  // Warm up the paths (tokenizer worker, decoders, the allocator's high-water mark) before the baseline.
  const idle = await residentBytes();
  expect((await chat()).status).toBe(200);
  upstream.behaviour.decompressionBomb = 2 * GIB;
  await bomb();
  await waitFor(async () => (await requestsMetered()) === 2, 'the first requests to be metered', 60_000);
  const before = await residentBytes();

  for (let i = 0; i < BOMBS; i++) await bomb();
  await waitFor(async () => (await requestsMetered()) === 2 + BOMBS, 'the bombs to be metered', 60_000);
  const after = await residentBytes();
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  console.log(`proxy RSS: idle ${mib(idle)}, after the first 2 GiB bomb ${mib(before)}, after ${BOMBS} more ${mib(after)}`);
  // Holding one inflated body would take 2 GiB; decoding is capped at 256 MiB and nothing decoded is kept.
  expect(before - idle).toBeLessThan(512 * 1024 * 1024);
  expect(after - before).toBeLessThan(48 * 1024 * 1024);
  // The proxy still serves.
  upstream.behaviour.decompressionBomb = undefined;
  expect((await chat()).status).toBe(200);
});
