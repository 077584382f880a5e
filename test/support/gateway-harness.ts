// A whole gateway in one test process: control plane (real PostgreSQL, Redis, gRPC), one
// data-plane proxy for `production`, and a wire-exact fake upstream per provider. Services and
// connections are made through GraphQL, as a platform engineer and a developer would.
import { createRedisClient } from '../../data-plane/src/redis/redis-connection';
import { startDataPlane, type DataPlaneHandle, type DataPlaneOptions } from '../../data-plane/src/main';
import { pino } from 'pino';
import {
  type FakeServer,
  startFakeAnthropic,
  startFakeAzureOpenAI,
  startFakeBedrock,
  startFakeMistral,
  startFakeOpenAI,
} from '../fakes';
import { type Tenant, type TestControlPlane, seedEnvironments, seedTenant, startTestControlPlane } from './control-plane-harness';

/**
 * The per-request Redis wait for tests where Redis is healthy and what is checked is an exact count:
 * the proxy's default (50 ms) is a production latency bound, and a busy CI machine can miss it, which
 * sends admissions to degraded mode and makes such a test depend on timing.
 */
export const HEALTHY_REDIS_TIMEOUT_MS = 5_000;

export const PROVIDER_SECRETS = {
  openai: 'sk-upstream-openai-0123456789abcdef',
  azure: 'azure-upstream-key-0123456789abcdef',
  anthropic: 'sk-ant-upstream-0123456789abcdef',
  mistral: 'mistral-upstream-key-0123456789ab',
  bedrockApiKey: 'bedrock-api-key-upstream-0123456789',
  aws: { accessKeyId: 'AKIDUPSTREAMEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYUPSTREAM', sessionToken: 'upstream-session-token-0123' },
  awsRegion: 'us-east-1',
};

export type ServiceName = 'openai' | 'azure' | 'anthropic' | 'mistral' | 'bedrock' | 'bedrockApiKey';

export interface GatewayService {
  id: string;
  contextPath: string;
  fake: FakeServer;
  /** Production consumer key of the developer's connection to this service. */
  key: string;
  connectionId: string;
  /** {proxy}/{organization}{context path} */
  endpoint: string;
}

export interface Gateway {
  cp: TestControlPlane;
  tenant: Tenant;
  proxy: DataPlaneHandle;
  services: Record<ServiceName, GatewayService>;
  fakes: { openai: FakeServer; azure: FakeServer; anthropic: FakeServer; mistral: FakeServer; bedrock: FakeServer };
  /** Waits until the proxy serves the environment's current revision (after a mutation). */
  settle(): Promise<void>;
  startProxy(options?: Partial<DataPlaneOptions>): Promise<DataPlaneHandle>;
  stop(): Promise<void>;
}

const REGISTER = `mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id contextPath } }`;
const CONNECT = `mutation($i: CreateConnectionInput!) { createConnection(input: $i) { connection { id } keys { environment apiKey endpointUrl } } }`;

export async function currentRevision(cp: TestControlPlane, environment = 'production'): Promise<number> {
  const { environments } = await cp.ok<{ environments: Array<{ handle: string; revision: number }> }>('{ environments { handle revision } }');
  return environments.find((e) => e.handle === environment)!.revision;
}

export async function startGateway(proxyOptions: Partial<DataPlaneOptions> = {}, controlPlaneEnv: Record<string, string> = {}): Promise<Gateway> {
  const cp = await startTestControlPlane(controlPlaneEnv);
  await seedEnvironments(cp);
  const tenant = await seedTenant(cp, 'acme');
  const fakes = {
    openai: await startFakeOpenAI({ requireApiKey: PROVIDER_SECRETS.openai }),
    azure: await startFakeAzureOpenAI({ requireApiKey: PROVIDER_SECRETS.azure }),
    anthropic: await startFakeAnthropic({ requireApiKey: PROVIDER_SECRETS.anthropic }),
    mistral: await startFakeMistral({ requireApiKey: PROVIDER_SECRETS.mistral }),
    bedrock: await startFakeBedrock({ verify: { credentials: PROVIDER_SECRETS.aws, region: PROVIDER_SECRETS.awsRegion }, apiKey: PROVIDER_SECRETS.bedrockApiKey }),
  };
  const definitions: Record<ServiceName, { fake: FakeServer; input: Record<string, unknown> }> = {
    openai: { fake: fakes.openai, input: { provider: 'OPENAI', name: 'OpenAI', contextPath: '/openai', serviceUrl: `${fakes.openai.url}/v1`, security: { value: PROVIDER_SECRETS.openai } } },
    azure: { fake: fakes.azure, input: { provider: 'AZURE_OPENAI', name: 'Azure', contextPath: '/azure', serviceUrl: fakes.azure.url, security: { value: PROVIDER_SECRETS.azure, apiVersion: '2024-10-21' } } },
    anthropic: { fake: fakes.anthropic, input: { provider: 'ANTHROPIC', name: 'Claude', contextPath: '/claude', serviceUrl: fakes.anthropic.url, security: { value: PROVIDER_SECRETS.anthropic } } },
    mistral: { fake: fakes.mistral, input: { provider: 'MISTRAL', name: 'Mistral', contextPath: '/mistral', serviceUrl: fakes.mistral.url, security: { value: PROVIDER_SECRETS.mistral } } },
    bedrock: {
      fake: fakes.bedrock,
      input: { provider: 'AWS_BEDROCK', name: 'Bedrock', contextPath: '/bedrock', serviceUrl: fakes.bedrock.url, security: { awsAccessKeyId: PROVIDER_SECRETS.aws.accessKeyId, awsSecretAccessKey: PROVIDER_SECRETS.aws.secretAccessKey, awsSessionToken: PROVIDER_SECRETS.aws.sessionToken, awsRegion: PROVIDER_SECRETS.awsRegion } },
    },
    bedrockApiKey: { fake: fakes.bedrock, input: { provider: 'AWS_BEDROCK', name: 'Bedrock (API key)', contextPath: '/bedrock-key', serviceUrl: fakes.bedrock.url, security: { value: PROVIDER_SECRETS.bedrockApiKey } } },
  };
  const services = {} as Record<ServiceName, GatewayService>;
  for (const [name, { fake, input }] of Object.entries(definitions) as Array<[ServiceName, (typeof definitions)[ServiceName]]>) {
    const { security, ...rest } = input;
    const { registerGenAIService } = await cp.ok<{ registerGenAIService: { id: string; contextPath: string } }>(
      REGISTER,
      { i: { organizationId: tenant.organizationId, scope: 'ORGANIZATION', ...rest, environments: [{ environment: 'production', backendSecurity: security }] } },
      tenant.tokens.engineer,
    );
    const { createConnection } = await cp.ok<{ createConnection: { connection: { id: string }; keys: Array<{ environment: string; apiKey: string }> } }>(
      CONNECT,
      { i: { projectId: tenant.projectId, serviceId: registerGenAIService.id, name: `${name}-app` } },
      tenant.tokens.developer,
    );
    services[name] = {
      id: registerGenAIService.id,
      contextPath: registerGenAIService.contextPath,
      fake,
      key: createConnection.keys.find((k) => k.environment === 'production')!.apiKey,
      connectionId: createConnection.connection.id,
      endpoint: '',
    };
  }

  const proxies: DataPlaneHandle[] = [];
  const startProxy = async (options: Partial<DataPlaneOptions> = {}) => {
    // The test's own Redis namespace (budgets, usage spool), as the control plane's: tests never share keys.
    const rateLimiting = options.rateLimiting === null || (options.rateLimiting === undefined && proxyOptions.rateLimiting === null)
      ? null
      : { redisNamespace: cp.redisNamespace, ...proxyOptions.rateLimiting, ...options.rateLimiting };
    const proxy = await startDataPlane({
      environment: 'production',
      controlPlane: { address: cp.grpcAddress, token: cp.dataPlaneToken, backoff: { initialDelayMs: 20, maxDelayMs: 200 } },
      port: 0,
      logger: pino({ level: 'silent' }),
      ...proxyOptions,
      ...options,
      rateLimiting,
    });
    proxies.push(proxy);
    // A proxy the test closes no longer applies changes: settle() and later registrations stop waiting for it.
    const close = proxy.close.bind(proxy);
    proxy.close = () => {
      const at = proxies.indexOf(proxy);
      if (at >= 0) proxies.splice(at, 1);
      return close();
    };
    await proxy.waitForRevision(BigInt(await currentRevision(cp)));
    return proxy;
  };
  const proxy = await startProxy();
  for (const service of Object.values(services)) service.endpoint = `${proxy.url}/acme${service.contextPath}`;

  return {
    cp,
    tenant,
    proxy,
    services,
    fakes,
    startProxy,
    async settle() {
      const revision = BigInt(await currentRevision(cp));
      await Promise.all(proxies.map((p) => p.waitForRevision(revision)));
    },
    async stop() {
      // A copy: each close() takes its proxy out of `proxies`.
      await Promise.all([...proxies].map((p) => p.close()));
      await cp.stop();
      await Promise.all(Object.values(fakes).map((f) => f.close()));
      // Batches the stopping control plane did not acknowledge stay spooled under the test's namespace.
      const redis = createRedisClient(proxyOptions.rateLimiting?.redisUrl ?? 'redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 0 });
      await redis.del(`${cp.redisNamespace}:usage-spool:production`).catch(() => undefined);
      redis.disconnect();
    },
  };
}

/** A service registered by the platform engineer (production configured as given) and a developer's connection to it. */
export async function registerServiceWithConnection(
  gw: Pick<Gateway, 'cp' | 'tenant' | 'settle'>,
  input: { provider: string; name: string; contextPath: string; serviceUrl: string; backendSecurity: Record<string, unknown>; rateLimit?: Record<string, unknown> },
): Promise<{ id: string; connectionId: string; key: string }> {
  const { backendSecurity, rateLimit, ...service } = input;
  const { registerGenAIService } = await gw.cp.ok<{ registerGenAIService: { id: string } }>(
    REGISTER,
    { i: { organizationId: gw.tenant.organizationId, scope: 'ORGANIZATION', ...service, environments: [{ environment: 'production', backendSecurity, ...(rateLimit === undefined ? {} : { rateLimit }) }] } },
    gw.tenant.tokens.engineer,
  );
  const { createConnection } = await gw.cp.ok<{ createConnection: { connection: { id: string }; keys: Array<{ environment: string; apiKey: string }> } }>(
    CONNECT,
    { i: { projectId: gw.tenant.projectId, serviceId: registerGenAIService.id, name: `${input.name} app` } },
    gw.tenant.tokens.developer,
  );
  await gw.settle();
  return { id: registerGenAIService.id, connectionId: createConnection.connection.id, key: createConnection.keys.find((k) => k.environment === 'production')!.apiKey };
}
