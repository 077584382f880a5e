// A project's connections as the console lists them (each with its service and its keys per
// environment), and an organization's services with their deployments and configurations: the right
// rows for the caller, read in a number of queries that does not grow with the list (request-scoped
// loaders, control-plane/src/graphql/request-loaders.ts).
import { DataPlaneStore } from '../../control-plane/src/data-plane-registry/data-plane-store';
import { type Tenant, type TestControlPlane, seedEnvironments, seedTenant, startTestControlPlane } from '../support/control-plane-harness';

/** The console's own query (console/src/screens/connections-screen.tsx). */
const CONSOLE_CONNECTIONS = `query($projectId: ID!) {
  connections(projectId: $projectId) { id name description createdAt service { id name provider marketplaceStatus } environments { environment keyPrefix } }
}`;
const CREATE_CONNECTION = `mutation($i: CreateConnectionInput!) { createConnection(input: $i) { connection { id } keys { environment apiKey } } }`;
const CONNECTIONS = 30;
/** Tables the list would read once per connection if each field resolver queried on its own. */
const PER_CONNECTION_TABLES = ['"connections"', '"connection_keys"', '"connection_quota_overrides"', '"organizations"', '"genai_services"'];

interface ListedConnection {
  id: string;
  name: string;
  service: { id: string; name: string; provider: string; marketplaceStatus: string };
  environments: Array<{ environment: string; keyPrefix: string | null }>;
}

let cp: TestControlPlane;
let acme: Tenant;
let globex: Tenant;
/** Connection id → its keys (environment → the full key, shown once at creation). */
const issued = new Map<string, Map<string, string>>();
const serviceNames = new Map<string, string>();

async function registerService(name: string, contextPath: string): Promise<string> {
  const { registerGenAIService } = await cp.ok<{ registerGenAIService: { id: string } }>(
    `mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id } }`,
    { i: { organizationId: acme.organizationId, scope: 'ORGANIZATION', provider: 'OPENAI', name, contextPath, serviceUrl: 'https://api.openai.com/v1', environments: [{ environment: 'production', backendSecurity: { value: 'sk-test-list-0123456789' } }] } },
    acme.tokens.engineer,
  );
  serviceNames.set(registerGenAIService.id, name);
  return registerGenAIService.id;
}

async function createConnection(projectId: string, serviceId: string, name: string): Promise<string> {
  const { createConnection } = await cp.ok<{ createConnection: { connection: { id: string }; keys: Array<{ environment: string; apiKey: string }> } }>(
    CREATE_CONNECTION,
    { i: { projectId, serviceId, name } },
    acme.tokens.developer,
  );
  issued.set(createConnection.connection.id, new Map(createConnection.keys.map((k) => [k.environment, k.apiKey])));
  return createConnection.connection.id;
}

/** The SQL the control plane sent while `work` ran (every query of the process: background work included). */
async function queriesDuring<T>(work: () => Promise<T>): Promise<{ result: T; queries: string[] }> {
  const logger = cp.plane.db.logger;
  const original = logger.logQuery.bind(logger);
  const queries: string[] = [];
  logger.logQuery = (query, parameters, queryRunner) => {
    queries.push(query);
    original(query, parameters, queryRunner);
  };
  try {
    return { result: await work(), queries };
  } finally {
    logger.logQuery = original;
  }
}

beforeAll(async () => {
  cp = await startTestControlPlane();
  await seedEnvironments(cp);
  acme = await seedTenant(cp, 'acme');
  globex = await seedTenant(cp, 'globex');
  const chat = await registerService('Chat', '/chat');
  const embeddings = await registerService('Embeddings', '/embeddings');
  for (let i = 0; i < CONNECTIONS; i++) await createConnection(acme.projectId, i % 3 === 0 ? embeddings : chat, `app-${i}`);
  await createConnection(acme.otherProjectId, chat, 'elsewhere');
});

afterAll(async () => {
  await cp?.stop();
});

test("lists every connection of the project with its service and each environment's key prefix, and nothing of another project", async () => {
  const { connections } = await cp.ok<{ connections: ListedConnection[] }>(CONSOLE_CONNECTIONS, { projectId: acme.projectId }, acme.tokens.developer);
  expect(connections.map((c) => c.name).sort()).toEqual(Array.from({ length: CONNECTIONS }, (_, i) => `app-${i}`).sort());
  for (const connection of connections) {
    expect(connection.service.name).toBe(serviceNames.get(connection.service.id));
    expect(connection.service).toMatchObject({ provider: 'OPENAI', marketplaceStatus: 'PUBLISHED' });
    const keys = issued.get(connection.id)!;
    expect(connection.environments.map((e) => e.environment)).toEqual(['development', 'production']);
    for (const { environment, keyPrefix } of connection.environments) {
      expect(keyPrefix).not.toBeNull();
      expect(keys.get(environment)!.startsWith(keyPrefix!)).toBe(true);
    }
  }
});

test('reads the list in a number of queries that does not grow with the number of connections', async () => {
  const { result, queries } = await queriesDuring(() => cp.ok<{ connections: ListedConnection[] }>(CONSOLE_CONNECTIONS, { projectId: acme.projectId }, acme.tokens.developer));
  expect(result.connections).toHaveLength(CONNECTIONS);
  const perConnectionTables = queries.filter((sql) => PER_CONNECTION_TABLES.some((table) => sql.includes(`FROM ${table}`)));
  // One query per field resolver and connection would be 6 per connection (180 here); batched, it is
  // one per table, whatever the count (a few more if background work ran meanwhile).
  expect(perConnectionTables.length).toBeLessThan(CONNECTIONS / 3);
});

test("another organization's member reads neither the list nor a connection's service through it", async () => {
  const listed = await cp.gql(CONSOLE_CONNECTIONS, { projectId: acme.projectId }, globex.tokens.developer);
  expect(listed.data).toBeNull();
  expect(listed.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  const [connectionId] = [...issued.keys()];
  const single = await cp.gql(`query($id: ID!) { connection(id: $id) { id service { id } environments { environment } } }`, { id: connectionId }, globex.tokens.developer);
  expect(single.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  expect(JSON.stringify(single.data ?? null)).not.toContain(connectionId);
});

test('each mutation of a document answers with the rows as it left them, not as an earlier field read them', async () => {
  type Environments = { environments: Array<{ environment: string; quota: { maxTotalTokens: number } | null }> };
  const [connectionId] = [...issued.keys()];
  const production = (answer: Environments) => answer.environments.find((e) => e.environment === 'production')?.quota?.maxTotalTokens;
  // The first mutation's selection reads the connection's quota overrides; the second changes them.
  const { first, second } = await cp.ok<{ first: Environments; second: Environments }>(
    `mutation($c: ID!) {
      first: setConnectionQuota(connectionId: $c, environment: "production", quota: { timeUnit: MINUTE, maxTotalTokens: 1000 }) { environments { environment quota { maxTotalTokens } } }
      second: setConnectionQuota(connectionId: $c, environment: "production", quota: { timeUnit: MINUTE, maxTotalTokens: 2000 }) { environments { environment quota { maxTotalTokens } } }
    }`,
    { c: connectionId },
    acme.tokens.engineer,
  );
  expect([production(first), production(second)]).toEqual([1000, 2000]);
});

test("lists the organization's services with each one's deployments, their proxies and configurations, in a number of queries that does not grow with them", async () => {
  const SERVICES = `query($o: ID!) { genAIServices(organizationId: $o) { id name deployments { environment status revision dataPlanes { proxyId } } environmentConfigs { environment backendSecurity { configured } } } }`;
  type Listed = { id: string; name: string; deployments: Array<{ environment: string; status: string; revision: number; dataPlanes: Array<{ proxyId: string }> }>; environmentConfigs: Array<{ environment: string; backendSecurity: { configured: boolean } }> };
  for (let i = 0; i < 20; i++) await registerService(`Listed ${i}`, `/listed-${i}`);
  // Two proxies of production as the config stream registers them (their hello); none in development.
  const { environments } = await cp.ok<{ environments: Array<{ id: string; handle: string }> }>('{ environments { id handle } }');
  const proxies = new DataPlaneStore(cp.plane.db);
  for (const proxyId of ['list-proxy-b', 'list-proxy-a']) await proxies.connected(proxyId, environments.find((e) => e.handle === 'production')!.id, 'test', 0);
  const { result, queries } = await queriesDuring(() => cp.ok<{ genAIServices: Listed[] }>(SERVICES, { o: acme.organizationId }, acme.tokens.engineer));
  const listed = result.genAIServices;
  expect(listed.map((s) => s.name).sort()).toEqual([...serviceNames.values()].sort());
  for (const service of listed) {
    // A configuration in every environment, with a key in production only (as registered).
    expect(service.environmentConfigs).toEqual([
      { environment: 'development', backendSecurity: { configured: false } },
      { environment: 'production', backendSecurity: { configured: true } },
    ]);
    // Each service's own deployments (revisions differ between services): a batched read that mixed
    // services up would show here. Status is left out: the rollout moves it meanwhile.
    const { deployments } = await cp.ok<{ deployments: Listed['deployments'] }>('query($s: ID!) { deployments(serviceId: $s) { environment status revision } }', { s: service.id }, acme.tokens.engineer);
    const targets = (list: Listed['deployments']) => list.map(({ environment, revision }) => ({ environment, revision }));
    expect(targets(service.deployments)).toEqual(targets(deployments));
    expect(targets(deployments).map((d) => d.environment)).toEqual(['development', 'production']);
    expect(service.deployments.map((d) => d.dataPlanes.map((p) => p.proxyId))).toEqual([[], ['list-proxy-a', 'list-proxy-b']]);
  }
  const perServiceTables = queries.filter((sql) => ['"deployments"', '"service_environment_configs"', 'data_planes'].some((table) => sql.includes(`FROM ${table}`)));
  expect(perServiceTables.length).toBeLessThan(listed.length / 3);
  const other = await cp.gql(SERVICES, { o: acme.organizationId }, globex.tokens.engineer);
  expect(other.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
});

test('pages through the connections with first and after, in the order of the whole list', async () => {
  const PAGE = `query($p: ID!, $first: Int, $after: ID) { connections(projectId: $p, first: $first, after: $after) { id name } }`;
  const { connections: all } = await cp.ok<{ connections: Array<{ id: string; name: string }> }>(PAGE, { p: acme.projectId }, acme.tokens.developer);
  const paged: Array<{ id: string; name: string }> = [];
  const sizes: number[] = [];
  let after: string | null = null;
  for (;;) {
    const { connections: page }: { connections: Array<{ id: string; name: string }> } = await cp.ok(PAGE, { p: acme.projectId, first: 7, after }, acme.tokens.developer);
    sizes.push(page.length);
    if (page.length === 0) break;
    paged.push(...page);
    after = page[page.length - 1].id;
  }
  expect(paged).toEqual(all);
  expect(sizes).toEqual([7, 7, 7, 7, 2, 0]);
});

test.each<[string, { first: number; after?: string }, string]>([
  ['first: 0', { first: 0 }, 'first'],
  ['first above the page cap', { first: 1001 }, 'first'],
  ['after: not an id', { first: 5, after: 'nope' }, 'after'],
  ["after: another project's connection", { first: 5, after: 'elsewhere' }, 'after'],
])('refuses a page request with %s (BAD_USER_INPUT naming the argument)', async (_case, page, field) => {
  const elsewhere = [...issued.keys()].at(-1)!; // created last, in the other project
  const variables = { p: acme.projectId, ...page, ...(page.after === 'elsewhere' ? { after: elsewhere } : {}) };
  const result = await cp.gql(`query($p: ID!, $first: Int, $after: ID) { connections(projectId: $p, first: $first, after: $after) { id } }`, variables, acme.tokens.developer);
  expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
});
