// Hostile input against the GraphQL API: deep queries, alias and batching abuse, oversized inputs,
// injection strings in marketplace search, random variables for mutations, and another tenant's
// ids. Every answer is a clean 4xx or a typed GraphQL error, and nothing changes.
import fc from 'fast-check';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { type TestControlPlane, type Tenant, seedEnvironments, seedTenant, startTestControlPlane } from '../support/control-plane-harness';

const SEED = 20261125;
const CODES = ['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'NOT_FOUND', 'CONFLICT', 'GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED', 'BAD_REQUEST', 'PAYLOAD_TOO_LARGE'];
let cp: TestControlPlane;
let acme: Tenant;
let globex: Tenant;
let fuzzed = 0;
const ids = { acmeService: '', acmeConnection: '', globexService: '', globexConnection: '' };

interface RawAnswer {
  status: number;
  json?: { data?: unknown; errors?: Array<{ message: string; extensions?: { code?: string } }>; error?: { code?: string } } | unknown[];
}

async function post(body: string, token: string | null = cp.adminToken, contentType = 'application/json'): Promise<RawAnswer> {
  const response = await fetch(cp.graphqlUrl, { method: 'POST', headers: { 'content-type': contentType, ...(token ? { authorization: `Bearer ${token}` } : {}) }, body });
  const text = await response.text();
  try {
    return { status: response.status, json: JSON.parse(text) as RawAnswer['json'] };
  } catch {
    return { status: response.status };
  }
}

/** Every GraphQL error is typed; a 5xx never happens. */
function expectTyped(answer: RawAnswer): void {
  expect(answer.status).toBeLessThan(500);
  const json = answer.json;
  if (json && !Array.isArray(json) && typeof json === 'object' && 'errors' in json && json.errors) {
    for (const error of json.errors) expect(CODES).toContain(error.extensions?.code);
  }
}

const REGISTER = `mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id } }`;
const CONNECT = `mutation($i: CreateConnectionInput!) { createConnection(input: $i) { connection { id } } }`;

async function seedService(tenant: Tenant, name: string): Promise<{ service: string; connection: string }> {
  const { registerGenAIService } = await cp.ok<{ registerGenAIService: { id: string } }>(
    REGISTER,
    { i: { organizationId: tenant.organizationId, scope: 'ORGANIZATION', provider: 'OPENAI', name, summary: `${name} summary`, description: `${name} secret-ish description`, labels: ['chat'], contextPath: '/openai', serviceUrl: 'https://api.openai.com/v1', environments: [{ environment: 'production', backendSecurity: { value: 'sk-upstream-0123456789abcdef' } }] } },
    tenant.tokens.engineer,
  );
  const { createConnection } = await cp.ok<{ createConnection: { connection: { id: string } } }>(CONNECT, { i: { projectId: tenant.projectId, serviceId: registerGenAIService.id, name: `${name}-app` } }, tenant.tokens.developer);
  return { service: registerGenAIService.id, connection: createConnection.connection.id };
}

/** What a hostile request must not change: audit trails, services and connections of both tenants. */
async function state(): Promise<string> {
  const parts: unknown[] = [];
  for (const tenant of [acme, globex]) {
    parts.push(
      await cp.ok(
        `query($o: ID!, $p: ID!) { auditEvents(organizationId: $o, limit: 1000) { id } genAIServices(organizationId: $o) { id name summary description labels contextPath serviceUrl marketplaceStatus updatedAt } connections(projectId: $p) { id name } projects(organizationId: $o) { id } }`,
        { o: tenant.organizationId, p: tenant.projectId },
        tenant.tokens.admin,
      ),
    );
  }
  return JSON.stringify(parts);
}

beforeAll(async () => {
  cp = await startTestControlPlane();
  await seedEnvironments(cp);
  acme = await seedTenant(cp, 'acme');
  globex = await seedTenant(cp, 'globex');
  const a = await seedService(acme, 'Acme OpenAI');
  const g = await seedService(globex, 'Globex OpenAI');
  Object.assign(ids, { acmeService: a.service, acmeConnection: a.connection, globexService: g.service, globexConnection: g.connection });
});
afterAll(async () => {
  console.log(`graphql-fuzz: ${fuzzed} hostile inputs fuzzed`);
  await cp?.stop();
});

// Up to 3,000 levels: past graphql-js's 5,000-token parse limit too (GRAPHQL_PARSE_FAILED, 400).
it('deep and nonsensical nesting: a typed 400, never a crash', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 3000 }), fc.constantFrom('viewer', 'organizations', 'environments', 'connection(id: "x")', '__typename'), async (depth, field) => {
      fuzzed++;
      const query = `{ ${`${field} { `.repeat(depth)}id${' }'.repeat(depth)} }`;
      const answer = await post(JSON.stringify({ query }));
      expectTyped(answer);
      if (depth > 3) expect(answer.status).toBeGreaterThanOrEqual(400);
    }),
    { seed: SEED, numRuns: 60 },
  );
  // Deep introspection (the classic ofType chain) answers, typed.
  const ofType = `{ __schema { types { ${'ofType { '.repeat(40)}name${' }'.repeat(40)} } } }`;
  expectTyped(await post(JSON.stringify({ query: ofType.replace('types {', 'types { name fields { type {').replace(/ } } }$/, ' } } } } }') })));
});

it('batching arrays are refused with 400; alias floods are answered or refused, never a 5xx', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.record({ query: fc.constantFrom('{ viewer { id } }', '{ organizations { id } }', 'mutation { createOrganization(input: {handle: "evil", name: "e"}) { id } }') }), { minLength: 0, maxLength: 30 }), async (batch) => {
      fuzzed++;
      const answer = await post(JSON.stringify(batch));
      expect(answer.status).toBe(400);
    }),
    { seed: SEED, numRuns: 50 },
  );
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 400 }), fc.constantFrom('organizations { id projects { id } }', 'environments { id }', `genAIService(id: "${ids.globexService}") { id }`), async (aliases, selection) => {
      fuzzed++;
      const query = `{ ${Array.from({ length: aliases }, (_, i) => `a${i}: ${selection}`).join(' ')} }`;
      const answer = await post(JSON.stringify({ query }), acme.tokens.developer);
      expectTyped(answer);
      expect(JSON.stringify(answer.json)).not.toContain('Globex');
    }),
    { seed: SEED, numRuns: 40 },
  );
  expect(await state()).toBe(await state());
});

it('oversized inputs to registerGenAIService: BAD_USER_INPUT or 413, and nothing changes', async () => {
  const before = await state();
  // Over every documented limit (name 120, summary 300, description 5000, label 63, context path 200).
  const field = fc.constantFrom('name', 'summary', 'description', 'contextPath', 'serviceUrl', 'labels');
  await fc.assert(
    fc.asyncProperty(field, fc.integer({ min: 6_000, max: 3_000_000 }), fc.constantFrom('x', 'é', '😀', '\u0000', '/'), async (name, size, unit) => {
      fuzzed++;
      const huge = unit.repeat(Math.ceil(size / unit.length));
      const input: Record<string, unknown> = { organizationId: acme.organizationId, scope: 'ORGANIZATION', provider: 'OPENAI', name: 'Huge', contextPath: '/huge', serviceUrl: 'https://api.openai.com/v1' };
      input[name] = name === 'labels' ? [huge] : name === 'contextPath' ? `/${huge}` : name === 'serviceUrl' ? `https://api.openai.com/${huge}` : huge;
      const answer = await post(JSON.stringify({ query: REGISTER, variables: { i: input } }), acme.tokens.engineer);
      expectTyped(answer);
      if (answer.status === 413) return;
      const json = answer.json as { data?: unknown; errors?: Array<{ extensions?: { code?: string } }> };
      expect(json.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
      expect(json.data ?? null).toBeNull();
    }),
    { seed: SEED, numRuns: 60 },
  );
  expect(await state()).toBe(before);
});

it('injection in marketplace search: valid answers with no other tenant in them', async () => {
  const injections = fc.constantFrom(
    "' OR 1=1 --",
    "'; DROP TABLE gen_ai_services; --",
    '%',
    '_',
    '%%',
    '\\',
    '\\%',
    '[a-z]*',
    '.*',
    "Globex' OR 'a'='a",
    'Globex',
    '" OR ""="',
    '$1',
    '${1}',
    ':name',
    'ＧＬＯＢＥＸ',
    'İ',
    '\u202e',
    '%Globex%',
    ') OR (1=1',
  );
  // PostgreSQL text cannot hold NUL: a search carrying one is refused as BAD_USER_INPUT on filter.search.
  const search = fc.oneof(injections, fc.string({ maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 30 }), fc.array(injections, { maxLength: 4 }).map((w) => w.join(' ')), fc.string({ maxLength: 10 }).map((t) => `${t}\u0000`));
  await fc.assert(
    fc.asyncProperty(search, fc.constantFrom(acme.tokens.admin, acme.tokens.engineer, acme.tokens.developer), fc.option(fc.constantFrom(acme.projectId, globex.projectId), { nil: undefined }), async (text, token, projectId) => {
      fuzzed++;
      const answer = await post(
        JSON.stringify({ query: `query($o: ID!, $p: ID, $s: String) { marketplace(organizationId: $o, projectId: $p, filter: { search: $s }) { id organizationId name } }`, variables: { o: acme.organizationId, p: projectId, s: text } }),
        token,
      );
      expectTyped(answer);
      const json = answer.json as { data?: { marketplace: Array<{ id: string; organizationId: string }> } | null; errors?: Array<{ extensions?: { code?: string } }> };
      if (projectId === globex.projectId || text.includes('\u0000')) {
        expect(json.data ?? null).toBeNull();
        expect(['NOT_FOUND', 'FORBIDDEN', 'BAD_USER_INPUT']).toContain(json.errors?.[0]?.extensions?.code);
        return;
      }
      expect(json.errors).toBeUndefined();
      for (const service of json.data!.marketplace) expect(service.organizationId).toBe(acme.organizationId);
      expect(JSON.stringify(json.data)).not.toContain(ids.globexService);
    }),
    { seed: SEED, numRuns: 300 },
  );
});

const MUTATIONS = [
  REGISTER,
  CONNECT,
  `mutation($id: ID!, $i: UpdateGenAIServiceInput!) { updateGenAIService(id: $id, input: $i) { id } }`,
  `mutation($s: ID!, $e: String!, $i: ConfigureServiceEnvironmentInput!) { configureServiceEnvironment(serviceId: $s, environment: $e, input: $i) { id } }`,
  `mutation($id: ID!) { deleteConnection(id: $id) }`,
  `mutation($id: ID!, $e: String!) { rotateConnectionKey(connectionId: $id, environment: $e) { apiKey } }`,
  `mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }`,
  `mutation($o: ID!, $e: String!, $r: Role!) { addMember(organizationId: $o, email: $e, role: $r) { user { id } } }`,
  `mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }`,
  `mutation($id: ID!) { removeFromMarketplace(serviceId: $id) { id } }`,
];

it('random JSON variables for mutations: every error is typed and nothing changes', async () => {
  const before = await state();
  const foreignId = fc.constantFrom(ids.globexService, ids.globexConnection, globex.organizationId, globex.projectId);
  const value = fc.oneof(fc.jsonValue({ maxDepth: 3 }), foreignId, fc.uuid());
  const variables = fc.dictionary(fc.constantFrom('i', 'id', 's', 'e', 'o', 'r', 'x', '__proto__'), value, { maxKeys: 4 });
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...MUTATIONS), variables, fc.constantFrom(acme.tokens.admin, acme.tokens.engineer, acme.tokens.developer, null), async (query, vars, token) => {
      fuzzed++;
      const answer = await post(JSON.stringify({ query, variables: vars }), token);
      expectTyped(answer);
      const json = answer.json as { data?: Record<string, unknown> | null; errors?: unknown[] };
      expect(json.errors?.length).toBeGreaterThan(0);
      expect(json.data ?? null).toBeNull();
    }),
    { seed: SEED, numRuns: 300 },
  );
  expect(await state()).toBe(before);
});

it("tenant isolation: another organization's ids answer NOT_FOUND or FORBIDDEN with no data", async () => {
  const before = await state();
  const operations = [
    { query: `query($id: ID!) { genAIService(id: $id) { id name } }`, id: () => ids.globexService },
    { query: `query($id: ID!) { connection(id: $id) { id name } }`, id: () => ids.globexConnection },
    { query: `query($id: ID!) { deployments(serviceId: $id) { environment } }`, id: () => ids.globexService },
    { query: `query($id: ID!) { projects(organizationId: $id) { id } }`, id: () => globex.organizationId },
    { query: `query($id: ID!) { genAIServices(organizationId: $id) { id } }`, id: () => globex.organizationId },
    { query: `query($id: ID!) { marketplace(organizationId: $id) { id } }`, id: () => globex.organizationId },
    { query: `query($id: ID!) { auditEvents(organizationId: $id) { id } }`, id: () => globex.organizationId },
    { query: `query($id: ID!) { connections(projectId: $id) { id } }`, id: () => globex.projectId },
    { query: `query($id: ID!) { connection(id: $id) { usage { totalTokens } } }`, id: () => ids.globexConnection },
    { query: `mutation($id: ID!) { updateGenAIService(id: $id, input: { name: "pwned" }) { id } }`, id: () => ids.globexService },
    { query: `mutation($id: ID!) { deleteConnection(id: $id) }`, id: () => ids.globexConnection },
    { query: `mutation($id: ID!) { rotateConnectionKey(connectionId: $id, environment: "production") { apiKey } }`, id: () => ids.globexConnection },
    { query: `mutation($id: ID!) { removeFromMarketplace(serviceId: $id) { id } }`, id: () => ids.globexService },
    { query: `mutation($id: ID!) { createProject(input: { organizationId: $id, handle: "pwn", name: "pwn" }) { id } }`, id: () => globex.organizationId },
    { query: `mutation($id: ID!) { addMember(organizationId: $id, email: "evil@acme.test", role: ADMIN) { user { id } } }`, id: () => globex.organizationId },
    { query: `mutation($id: ID!) { createConnection(input: { projectId: $id, serviceId: "${ids.acmeService}", name: "x" }) { connection { id } } }`, id: () => globex.projectId },
  ];
  const ownIdForRandom = fc.oneof(fc.constant<string | null>(null), fc.uuid());
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...operations), fc.constantFrom(acme.tokens.admin, acme.tokens.engineer, acme.tokens.developer), ownIdForRandom, async (operation, token, random) => {
      fuzzed++;
      const answer = await post(JSON.stringify({ query: operation.query, variables: { id: random ?? operation.id() } }), token);
      expectTyped(answer);
      const json = answer.json as { data?: unknown; errors?: Array<{ extensions?: { code?: string } }> };
      expect(json.data ?? null).toBeNull();
      expect(['NOT_FOUND', 'FORBIDDEN']).toContain(json.errors?.[0]?.extensions?.code);
      expect(JSON.stringify(json)).not.toContain('Globex');
    }),
    { seed: SEED, numRuns: 300 },
  );
  expect(await state()).toBe(before);
});

it('malformed HTTP bodies and content types: a clean 4xx', async () => {
  const body = fc.oneof(fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a).toString('latin1')), fc.constantFrom('{', '{"query":', '{"query": 1}', '{"query": "{ viewer { id } }", "variables": "x"}', 'null', '[]', '{"query":"{ __typename }","operationName":{}}'));
  const contentType = fc.constantFrom('application/json', 'text/plain', 'application/graphql', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '');
  await fc.assert(
    fc.asyncProperty(body, contentType, async (text, type) => {
      fuzzed++;
      const answer = await post(text, cp.adminToken, type);
      expect(answer.status).toBeLessThan(500);
      if (answer.status < 400) expectTyped(answer);
    }),
    { seed: SEED, numRuns: 200 },
  );
  const health = await fetch(new URL('/healthz', cp.graphqlUrl));
  expect(health.status).toBe(200);
});

// Bugs the properties above once found, kept as plain regressions.
describe('found by fuzzing', () => {
  it('a query over the 5000-token parser limit is a 400 GRAPHQL_PARSE_FAILED, not a 500', async () => {
    const query = `{ ${'viewer { '.repeat(2000)}id${' }'.repeat(2000)} }`;
    const answer = await post(JSON.stringify({ query }));
    expect(answer.status).toBe(400);
    expect((answer.json as { errors: Array<{ extensions: { code: string } }> }).errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
  });

  it('a NUL character in any string argument is BAD_USER_INPUT naming the field, and nothing is written', async () => {
    const search = await post(JSON.stringify({ query: `query($o: ID!, $s: String) { marketplace(organizationId: $o, filter: { search: $s }) { id } }`, variables: { o: acme.organizationId, s: 'a\u0000b' } }), acme.tokens.developer);
    expect((search.json as { errors: Array<{ extensions: unknown }> }).errors[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'filter.search' });
    const before = await state();
    const register = await post(
      JSON.stringify({ query: REGISTER, variables: { i: { organizationId: acme.organizationId, scope: 'ORGANIZATION', provider: 'OPENAI', name: 'Nul', summary: 'ok', labels: ['a', 'b\u0000'], contextPath: '/nul', serviceUrl: 'https://api.openai.com/v1' } } }),
      acme.tokens.engineer,
    );
    expect((register.json as { errors: Array<{ extensions: unknown }> }).errors[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'input.labels.1' });
    expect(await state()).toBe(before);
  });
});

describe('subscriptions over WebSocket get the same limits as HTTP', () => {
  async function subscribeOnce(query: string): Promise<unknown> {
    const client = createClient({ url: cp.graphqlUrl.replace('http', 'ws'), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${acme.tokens.admin}` }, lazy: true, retryAttempts: 0 });
    try {
      return await new Promise<unknown>((resolve) => {
        client.subscribe({ query, variables: { s: ids.acmeService } }, { next: resolve, error: resolve, complete: () => resolve('complete') });
      });
    } finally {
      await client.dispose();
    }
  }
  const FIELDS = 'environment status revision';

  it.each([
    ['too deep (fragment nesting)', `subscription($s: ID!) { deploymentStatusChanged(serviceId: $s) { ...A } } ${Array.from({ length: 12 }, (_, i) => `fragment ${String.fromCharCode(65 + i)} on Deployment { environment ${i < 11 ? `... ${String.fromCharCode(66 + i)}` : ''} }`).join(' ')}`, 'depth'],
    ['too many aliases', `subscription($s: ID!) { deploymentStatusChanged(serviceId: $s) { ${Array.from({ length: 30 }, (_, i) => `a${i}: status`).join(' ')} } }`, 'aliases'],
    ['too many directives', `subscription($s: ID!) { deploymentStatusChanged(serviceId: $s) { status ${'@include(if: true) '.repeat(30)} } }`, 'directives'],
    ['over the token limit', `subscription($s: ID!) { deploymentStatusChanged(serviceId: $s) { ${'status '.repeat(6000)} } }`, 'Syntax Error'],
    ['not GraphQL', 'subscription {', 'Syntax Error'],
  ])('%s: refused with GraphQL errors before anything runs', async (_name, query, expected) => {
    const answer = await subscribeOnce(query);
    expect(Array.isArray(answer)).toBe(true);
    expect(JSON.stringify(answer)).toMatch(new RegExp(expected, 'i'));
  });

  it('a subscription within the limits is accepted', async () => {
    const client = createClient({ url: cp.graphqlUrl.replace('http', 'ws'), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${acme.tokens.admin}` }, lazy: true, retryAttempts: 0 });
    const errors: unknown[] = [];
    const stop = client.subscribe({ query: `subscription($s: ID!) { deploymentStatusChanged(serviceId: $s) { ${FIELDS} } }`, variables: { s: ids.acmeService } }, { next: () => undefined, error: (e) => errors.push(e), complete: () => undefined });
    // A round trip on the same socket proves the subscribe message was processed without error.
    await new Promise<void>((resolve) => client.subscribe({ query: '{ __typename }' }, { next: () => undefined, error: () => resolve(), complete: () => resolve() }));
    stop();
    await client.dispose();
    expect(errors).toEqual([]);
  });
});
