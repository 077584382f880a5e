// Azure OpenAI's two APIs through the proxy, with the `openai` package's clients against the wire-exact
// fake (which, like Azure, refuses a dated api-version on v1 paths and needs one on deployment paths):
// the v1 API (`OpenAI` with a base URL ending in /openai/v1) gets no api-version upstream; deployment
// paths (`AzureOpenAI`) keep the client's, and get the service's configured one when they sent none.
import OpenAI, { AzureOpenAI, BadRequestError, NotFoundError } from 'openai';
import { startProxyHarness, type ProxyHarness } from '../support/data-plane/proxy-harness';
import { apiKeyAuth, consumerKeyFixture, serviceFixture } from '../support/data-plane/snapshot-fixtures';
import { type FakeServer, startFakeAzureOpenAI } from '../fakes';
import { type Gateway, PROVIDER_SECRETS, startGateway } from '../support/gateway-harness';

const AZURE_SECRET = 'azure-upstream-key-v1-0123456789';
const CONFIGURED = '2024-10-21';
const KEYS = { versioned: 'tgk_azure_versioned', unversioned: 'tgk_azure_unversioned', v1Base: 'tgk_azure_v1_base' };

describe('Azure OpenAI services of a proxy (snapshots applied directly)', () => {
  let harness: ProxyHarness;
  let fake: FakeServer;

  beforeAll(async () => {
    harness = await startProxyHarness();
    fake = await startFakeAzureOpenAI({ requireApiKey: AZURE_SECRET });
    const azure = (id: string, upstreamUrl: string, apiVersion: string) =>
      serviceFixture({ id, provider: 'AZURE_OPENAI', context_path: `/${id}`, upstream_url: upstreamUrl, backend_auth: apiKeyAuth('api-key', AZURE_SECRET, apiVersion) });
    harness.apply(
      [
        azure('azure', fake.url, CONFIGURED),
        azure('azure-unversioned', fake.url, ''),
        azure('azure-v1-base', `${fake.url}/openai/v1`, CONFIGURED), // a service URL that is the v1 base URL itself
      ],
      [consumerKeyFixture(KEYS.versioned, 'azure'), consumerKeyFixture(KEYS.unversioned, 'azure-unversioned'), consumerKeyFixture(KEYS.v1Base, 'azure-v1-base')],
    );
  });
  afterAll(async () => {
    await fake?.close();
    await harness?.close();
  });
  beforeEach(() => fake.reset());

  const v1Client = (contextPath: string, apiKey: string, defaultQuery?: Record<string, string>) =>
    new OpenAI({ baseURL: `${harness.proxy.url}/acme${contextPath}`, apiKey, maxRetries: 0, ...(defaultQuery === undefined ? {} : { defaultQuery }) });

  describe('the v1 API with the OpenAI client', () => {
    it.each([
      ['a service configured with an api-version', '/azure/openai/v1', KEYS.versioned],
      ['a service configured without one', '/azure-unversioned/openai/v1', KEYS.unversioned],
      ['a service whose URL ends in /openai/v1', '/azure-v1-base', KEYS.v1Base],
    ])('%s: chat completions and embeddings reach /openai/v1 with no api-version', async (_label, contextPath, key) => {
      const completion = await v1Client(contextPath, key).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] });
      expect(completion.choices[0].message.content).toBe('Hello from the fake');
      const embedding = await v1Client(contextPath, key).embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });
      expect(embedding.data[0].embedding).toHaveLength(8);
      expect(fake.received.map((r) => r.url)).toEqual(['/openai/v1/chat/completions', '/openai/v1/embeddings']);
      for (const upstream of fake.received) {
        expect(upstream.headers['api-key']).toBe(AZURE_SECRET);
        expect(JSON.stringify(upstream.headers)).not.toContain(key);
      }
    });

    it('streams, with the usage chunk the proxy asked for stripped again', async () => {
      const stream = await v1Client('/azure/openai/v1', KEYS.versioned).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], stream: true });
      const chunks = [];
      for await (const chunk of stream) chunks.push(chunk);
      expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('Hello from the fake');
      expect(chunks.some((c) => c.usage)).toBe(false);
      expect(fake.received[0].url).toBe('/openai/v1/chat/completions');
      expect(fake.received[0].json).toMatchObject({ stream_options: { include_usage: true } });
    });

    it("forwards the client's own api-version on v1 as sent: v1 and preview are served, a dated one gets Azure's 400", async () => {
      for (const version of ['v1', 'preview']) {
        await v1Client('/azure/openai/v1', KEYS.versioned, { 'api-version': version }).chat.completions.create({ model: 'gpt-4o', messages: [] });
      }
      const error: unknown = await v1Client('/azure/openai/v1', KEYS.versioned, { 'api-version': '2024-06-01' })
        .chat.completions.create({ model: 'gpt-4o', messages: [] })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BadRequestError);
      expect(error).toMatchObject({ status: 400, message: '400 API version not supported' });
      expect(fake.received.map((r) => r.url)).toEqual([
        '/openai/v1/chat/completions?api-version=v1',
        '/openai/v1/chat/completions?api-version=preview',
        '/openai/v1/chat/completions?api-version=2024-06-01',
      ]);
    });
  });

  describe('deployment paths', () => {
    const azureClient = (contextPath: string, apiKey: string, apiVersion: string) =>
      new AzureOpenAI({ endpoint: `${harness.proxy.url}/acme${contextPath}`, apiKey, apiVersion, deployment: 'gpt-4o', maxRetries: 0 });

    it("AzureOpenAI: the client's api-version is kept, whether or not the service configures one", async () => {
      await azureClient('/azure', KEYS.versioned, '2024-06-01').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] });
      await azureClient('/azure-unversioned', KEYS.unversioned, '2025-04-01-preview').embeddings.create({ model: 'e', input: 'x' });
      expect(fake.received.map((r) => r.url)).toEqual([
        '/openai/deployments/gpt-4o/chat/completions?api-version=2024-06-01',
        '/openai/deployments/gpt-4o/embeddings?api-version=2025-04-01-preview',
      ]);
    });

    it('a client that sends none gets the configured api-version added; without one configured Azure answers 404', async () => {
      const deploymentClient = (contextPath: string, key: string) => new OpenAI({ baseURL: `${harness.proxy.url}/acme${contextPath}/openai/deployments/gpt-4o`, apiKey: key, maxRetries: 0 });
      const reply = await deploymentClient('/azure', KEYS.versioned).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] });
      expect(reply.choices[0].message.content).toBe('Hello from the fake');
      const error: unknown = await deploymentClient('/azure-unversioned', KEYS.unversioned)
        .chat.completions.create({ model: 'gpt-4o', messages: [] })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotFoundError);
      expect(fake.received.map((r) => r.url)).toEqual([`/openai/deployments/gpt-4o/chat/completions?api-version=${CONFIGURED}`, '/openai/deployments/gpt-4o/chat/completions']);
    });
  });
});

describe('an Azure OpenAI service registered through the control plane', () => {
  let gw: Gateway;

  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(async () => {
    await gw?.stop();
  });
  beforeEach(() => gw.fakes.azure.reset());

  it('serves the v1 API and deployment paths side by side with its configured api-version', async () => {
    const { endpoint, key } = gw.services.azure;
    const v1 = new OpenAI({ baseURL: `${endpoint}/openai/v1`, apiKey: key, maxRetries: 0 });
    expect((await v1.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] })).choices[0].message.content).toBe('Hello from the fake');
    const deployment = new AzureOpenAI({ endpoint, apiKey: key, apiVersion: '2024-06-01', deployment: 'gpt-4o', maxRetries: 0 });
    expect((await deployment.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] })).choices[0].message.content).toBe('Hello from the fake');
    expect(gw.fakes.azure.received.map((r) => [r.url, r.headers['api-key']])).toEqual([
      ['/openai/v1/chat/completions', PROVIDER_SECRETS.azure],
      ['/openai/deployments/gpt-4o/chat/completions?api-version=2024-06-01', PROVIDER_SECRETS.azure],
    ]);
  });
});

describe('an Azure OpenAI service configured without an api-version', () => {
  let gw: Gateway;

  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('is configured with apiVersion "" (the v1 API takes none), reads back null, and the proxy adds none', async () => {
    const { configureServiceEnvironment } = await gw.cp.ok<{ configureServiceEnvironment: { environmentConfigs: Array<{ environment: string; backendSecurity: { apiVersion: string | null } }> } }>(
      'mutation($s: ID!) { configureServiceEnvironment(serviceId: $s, environment: "production", input: {backendSecurity: {apiVersion: ""}}) { environmentConfigs { environment backendSecurity { apiVersion } } } }',
      { s: gw.services.azure.id },
      gw.tenant.tokens.engineer,
    );
    expect(configureServiceEnvironment.environmentConfigs.find((c) => c.environment === 'production')?.backendSecurity.apiVersion).toBeNull();
    await gw.settle();
    gw.fakes.azure.reset();
    const { endpoint, key } = gw.services.azure;
    const v1 = new OpenAI({ baseURL: `${endpoint}/openai/v1`, apiKey: key, maxRetries: 0 });
    expect((await v1.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] })).choices[0].message.content).toBe('Hello from the fake');
    // A deployment path without the client's own api-version goes upstream without one.
    await fetch(`${endpoint}/openai/deployments/gpt-4o/chat/completions`, { method: 'POST', headers: { 'api-key': key, 'content-type': 'application/json' }, body: '{"messages":[{"role":"user","content":"Hi"}]}' });
    expect(gw.fakes.azure.received.map((r) => r.url)).toEqual(['/openai/v1/chat/completions', '/openai/deployments/gpt-4o/chat/completions']);
    // null still means the provider's default.
    const reset = await gw.cp.ok<{ configureServiceEnvironment: { environmentConfigs: Array<{ environment: string; backendSecurity: { apiVersion: string | null } }> } }>(
      'mutation($s: ID!) { configureServiceEnvironment(serviceId: $s, environment: "production", input: {backendSecurity: {apiVersion: null}}) { environmentConfigs { environment backendSecurity { apiVersion } } } }',
      { s: gw.services.azure.id },
      gw.tenant.tokens.engineer,
    );
    expect(reset.configureServiceEnvironment.environmentConfigs.find((c) => c.environment === 'production')?.backendSecurity.apiVersion).toBe('2024-10-21');
  });
});
