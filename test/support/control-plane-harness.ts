// Starts a real control plane (own database cloned from the migrated template, real HTTP on a free
// port) and offers a small GraphQL client, as automation would use it.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { loadControlPlaneConfig } from '../../control-plane/src/config';
import { type ControlPlane, startControlPlane } from '../../control-plane/src/control-plane';
import { createDataSource } from '../../control-plane/src/db/data-source';
import { createTestDatabase } from './database';

export interface GraphQLResponse<T = Record<string, unknown>> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: { code?: string; field?: string } & Record<string, unknown> }>;
}

export interface TestControlPlane {
  plane: ControlPlane;
  adminToken: string;
  secretKey: string;
  dataPlaneToken: string;
  redisNamespace: string;
  databaseUrl: string;
  grpcAddress: string;
  graphqlUrl: string;
  /** Every log line the control plane wrote, for secret-leak assertions. */
  logLines: string[];
  gql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, token?: string | null): Promise<GraphQLResponse<T>>;
  /** Like gql, but fails the test on any error and returns data. */
  ok<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, token?: string | null): Promise<T>;
  stop(): Promise<void>;
}

/**
 * `shared` lets a second replica share the first one's database (and its secrets); `options.database`
 * supplies a database of the test's own (e.g. on a private PostgreSQL server), dropped by stop().
 */
export async function startTestControlPlane(
  env: Record<string, string> = {},
  shared?: TestControlPlane,
  options: { database?: { url: string; drop(): Promise<void> } } = {},
): Promise<TestControlPlane> {
  const database = shared ? { url: shared.databaseUrl, drop: async () => undefined } : (options.database ?? (await createTestDatabase()));
  const adminToken = shared?.adminToken ?? `tgp_admin_${randomBytes(16).toString('hex')}`;
  const secretKey = shared?.secretKey ?? randomBytes(32).toString('base64');
  const dataPlaneToken = shared?.dataPlaneToken ?? `tgd_${randomBytes(16).toString('hex')}`;
  const config = loadControlPlaneConfig({
    DATABASE_URL: database.url,
    TOKENGATE_ADMIN_TOKEN: adminToken,
    TOKENGATE_SECRET_KEY: secretKey,
    TOKENGATE_DATAPLANE_TOKEN: dataPlaneToken,
    TOKENGATE_GRPC_HOST: '127.0.0.1',
    // Test files share one Redis: each installation gets its own keys, channels and queue.
    TOKENGATE_REDIS_NAMESPACE: shared?.redisNamespace ?? `tg-test-${randomBytes(4).toString('hex')}`,
    TOKENGATE_PORT: '0',
    TOKENGATE_GRPC_PORT: '0',
    ...env,
  });
  const logLines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => { logLines.push(line); if (process.env.TOKENGATE_TEST_LOGS) process.stderr.write(line); } });
  const db = createDataSource(database.url, 5);
  await db.initialize();
  const plane = await startControlPlane(config, { logger, db });
  const graphqlUrl = plane.graphqlUrl;
  let stopped: Promise<void> | undefined;

  async function gql<T>(query: string, variables: Record<string, unknown> = {}, token: string | null = adminToken): Promise<GraphQLResponse<T>> {
    const response = await fetch(graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as GraphQLResponse<T>;
    return { ...body, status: response.status };
  }

  return {
    plane,
    adminToken,
    secretKey,
    dataPlaneToken,
    redisNamespace: config.redisNamespace,
    databaseUrl: database.url,
    grpcAddress: plane.grpcAddress,
    graphqlUrl,
    logLines,
    gql,
    async ok<T>(query: string, variables?: Record<string, unknown>, token?: string | null): Promise<T> {
      const result = await gql<T>(query, variables, token);
      if (result.errors?.length || !result.data) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
      return result.data;
    },
    stop() {
      stopped ??= (async () => {
        await plane.stop();
        await db.destroy();
        await database.drop();
      })();
      return stopped;
    },
  };
}

/** An organization with a project, an environment pair and one user per role, each with an API token. */
export interface Tenant {
  organizationId: string;
  handle: string;
  projectId: string;
  otherProjectId: string;
  tokens: { admin: string; engineer: string; developer: string };
}

export async function seedEnvironments(cp: TestControlPlane): Promise<void> {
  for (const [handle, port] of [['development', 8080], ['production', 8081]] as const) {
    await cp.ok(`mutation($i: CreateEnvironmentInput!) { createEnvironment(input: $i) { id } }`, { i: { handle, name: handle, proxyUrl: `http://127.0.0.1:${port}` } });
  }
}

export async function seedTenant(cp: TestControlPlane, handle: string): Promise<Tenant> {
  const { createOrganization } = await cp.ok<{ createOrganization: { id: string } }>(
    `mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }`,
    { i: { handle, name: `${handle} Inc.` } },
  );
  const organizationId = createOrganization.id;
  const projectIds: string[] = [];
  for (const p of ['web', 'batch']) {
    const { createProject } = await cp.ok<{ createProject: { id: string } }>(`mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }`, { i: { organizationId, handle: p, name: p } });
    projectIds.push(createProject.id);
  }
  const tokens: Record<string, string> = {};
  for (const [who, role] of [['admin', 'ADMIN'], ['engineer', 'PLATFORM_ENGINEER'], ['developer', 'DEVELOPER']] as const) {
    const { addMember } = await cp.ok<{ addMember: { user: { id: string } } }>(
      `mutation($o: ID!, $e: String!, $r: Role!) { addMember(organizationId: $o, email: $e, role: $r) { user { id } } }`,
      { o: organizationId, e: `${who}@${handle}.test`, r: role },
    );
    const { createApiToken } = await cp.ok<{ createApiToken: { token: string } }>(
      `mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { token } }`,
      { i: { name: `${who} token`, userId: addMember.user.id } },
    );
    tokens[who] = createApiToken.token;
  }
  return { organizationId, handle, projectId: projectIds[0], otherProjectId: projectIds[1], tokens: tokens as Tenant['tokens'] };
}

/** An organization-scoped OpenAI service at `/openai` with a production credential, registered by the tenant's engineer. */
export async function registerOpenAIService(cp: TestControlPlane, tenant: Tenant, serviceUrl: string): Promise<string> {
  const { registerGenAIService } = await cp.ok<{ registerGenAIService: { id: string } }>(
    'mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id } }',
    {
      i: {
        organizationId: tenant.organizationId,
        scope: 'ORGANIZATION',
        provider: 'OPENAI',
        name: 'OpenAI',
        contextPath: '/openai',
        serviceUrl,
        environments: [{ environment: 'production', backendSecurity: { value: 'sk-upstream-openai-0123456789abcdef' } }],
      },
    },
    tenant.tokens.engineer,
  );
  return registerGenAIService.id;
}

/** The developer's connection to a service: its id and its production consumer key. */
export async function connectApp(cp: TestControlPlane, tenant: Tenant, serviceId: string, name = 'app'): Promise<{ connectionId: string; key: string }> {
  const { createConnection } = await cp.ok<{ createConnection: { connection: { id: string }; keys: Array<{ environment: string; apiKey: string }> } }>(
    'mutation($i: CreateConnectionInput!) { createConnection(input: $i) { connection { id } keys { environment apiKey } } }',
    { i: { projectId: tenant.projectId, serviceId, name } },
    tenant.tokens.developer,
  );
  return { connectionId: createConnection.connection.id, key: createConnection.keys.find((k) => k.environment === 'production')!.apiKey };
}
