// A proxy (re)started while the control plane is down holds no configuration (proxies keep nothing on
// disk): it is alive but not ready, answers apps with 503 `tokengate_not_ready` in the provider's format, and
// serves as soon as a control plane answers on its address.
import OpenAI from 'openai';
import { type FakeServer, startFakeOpenAI } from '../fakes';
import { PROVIDER_SECRETS } from '../support/gateway-harness';
import { connectApp, registerOpenAIService, seedEnvironments, seedTenant, startTestControlPlane, type TestControlPlane } from '../support/control-plane-harness';
import { freePort } from '../support/free-port';
import { type RunningProcess, runCli } from '../support/processes';
import { waitFor } from '../support/wait';

let cp: TestControlPlane;
let replacement: TestControlPlane | undefined;
let upstream: FakeServer;
let proxy: RunningProcess | undefined;
let key: string;

beforeAll(async () => {
  cp = await startTestControlPlane();
  await seedEnvironments(cp);
  const tenant = await seedTenant(cp, 'acme');
  upstream = await startFakeOpenAI({ requireApiKey: PROVIDER_SECRETS.openai });
  ({ key } = await connectApp(cp, tenant, await registerOpenAIService(cp, tenant, `${upstream.url}/v1`)));
});
afterAll(async () => {
  await proxy?.stop('SIGKILL');
  await replacement?.stop();
  await cp?.stop();
  await upstream?.close();
});

it('is alive but not ready, refuses apps with 503 tokengate_not_ready, and serves once the control plane returns', async () => {
  const grpcPort = cp.grpcAddress.split(':').pop()!;
  await cp.plane.stop();

  const port = await freePort();
  proxy = runCli(['data-plane', '--environment', 'production', '--port', String(port), '--control-plane', `127.0.0.1:${grpcPort}`, '--log-level', 'info'], {
    TOKENGATE_DATAPLANE_TOKEN: cp.dataPlaneToken,
    TOKENGATE_REDIS_NAMESPACE: cp.redisNamespace,
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${base}/healthz`).catch(() => null))?.status === 200, 'the proxy to listen');
  expect((await fetch(`${base}/readyz`)).status).toBe(503);

  const client = new OpenAI({ baseURL: `${base}/acme/openai`, apiKey: key, maxRetries: 0 });
  const chat = () => client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
  const refused = await chat().then(
    () => null,
    (error: unknown) => error,
  );
  expect(refused).toBeInstanceOf(OpenAI.APIError);
  expect(refused).toMatchObject({ status: 503, code: 'tokengate_not_ready' });
  expect(upstream.received).toHaveLength(0);

  replacement = await startTestControlPlane({ TOKENGATE_GRPC_PORT: grpcPort }, cp);
  await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, 'the proxy to apply its first snapshot', 30_000);
  const completion = await chat();
  expect(completion.choices[0].message.content).toBeTruthy();
});
