// Issue 15, item 1: no input buys unbounded work. Every string and list every mutation takes is sent
// at 100 times its cap — by a caller allowed to make the change and by a DEVELOPER of another
// organization — and must be refused as BAD_USER_INPUT naming that very input, with nothing written.
// "Before any work" is asserted by what the answers show, not by timing: an over-long list is named as
// a whole (its items were never read), a foreign caller hits the cap before the lookup that would
// answer NOT_FOUND, and a caller without the right gets NOT_FOUND / FORBIDDEN for input that the
// normalization would have refused (it never ran). The cases come from the schema and the caps
// table, so a new mutation or input without a case fails here.
import {
  type GraphQLInputObjectType,
  type GraphQLInputType,
  type GraphQLObjectType,
  type GraphQLSchema,
  getNamedType,
  getNullableType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
} from 'graphql';
import { Client } from 'pg';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { type InputCap, resolveInputCaps } from '../../control-plane/src/graphql/input-caps';
import { buildGraphQLSchema } from '../../control-plane/src/graphql/schema';
import { type TestControlPlane, type Tenant, connectApp, registerOpenAIService, seedEnvironments, seedTenant, startTestControlPlane } from '../support/control-plane-harness';

const TIMES = 100;
let cp: TestControlPlane;
let schema: GraphQLSchema;
let acme: Tenant;
let globex: Tenant;
let db: Client;
const ids = { service: '', connection: '', developerUser: '' };

beforeAll(async () => {
  cp = await startTestControlPlane();
  schema = await buildGraphQLSchema();
  await seedEnvironments(cp);
  acme = await seedTenant(cp, 'acme');
  globex = await seedTenant(cp, 'globex');
  ids.service = await registerOpenAIService(cp, acme, 'https://api.openai.com/v1');
  ids.connection = (await connectApp(cp, acme, ids.service)).connectionId;
  ids.developerUser = (await cp.ok<{ viewer: { user: { id: string } } }>('{ viewer { user { id } } }', {}, acme.tokens.developer)).viewer.user.id;
  db = new Client({ connectionString: cp.databaseUrl });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await cp?.stop();
});

/** Every row of every table, hashed per table: any insert, update or delete shows. */
async function databaseDigest(): Promise<Record<string, string>> {
  const tables = await db.query<{ name: string }>(`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`);
  const digest: Record<string, string> = {};
  for (const { name } of tables.rows) {
    const { rows } = await db.query<{ d: string }>(`SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS d FROM "${name}" t`);
    digest[name] = rows[0].d;
  }
  return digest;
}

const BACKEND_SECURITY = { headerName: 'x-api-key', value: 'sk-0123456789abcdef', apiVersion: '2024-10-21', awsRegion: 'us-east-1', awsAccessKeyId: 'AKIA0123456789', awsSecretAccessKey: 'secret-0123456789', awsSessionToken: 'token-0123456789' };
const RATE_LIMIT = { timeUnit: 'MINUTE', maxTotalTokens: 1000 };

/**
 * One well-typed call per mutation with every optional input given (so every capped input is
 * reached), made by a caller allowed to make it. Whether it would succeed does not matter: each case
 * replaces one value by an oversized one, and that must be all the answer is about.
 */
function baselines(): Record<string, { variables: Record<string, unknown>; token: string }> {
  const environmentInput = { backendSecurity: BACKEND_SECURITY, rateLimit: RATE_LIMIT, connectionQuota: RATE_LIMIT, streamCutoff: true, serviceUrl: 'https://eu.api.openai.com/v1' };
  const service = { name: 'Svc', contextPath: '/svc', serviceUrl: 'https://api.openai.com/v1', summary: 's', description: 'd', labels: ['chat'] };
  return {
    createOrganization: { token: cp.adminToken, variables: { input: { handle: 'newco', name: 'New Co' } } },
    createEnvironment: { token: cp.adminToken, variables: { input: { handle: 'staging', name: 'Staging', proxyUrl: 'http://127.0.0.1:8082' } } },
    addMember: { token: acme.tokens.admin, variables: { organizationId: acme.organizationId, email: 'new@acme.test', name: 'New', role: 'DEVELOPER' } },
    createApiToken: { token: acme.tokens.admin, variables: { input: { name: 'ci', userId: ids.developerUser } } },
    revokeApiToken: { token: acme.tokens.admin, variables: { id: '00000000-0000-4000-8000-000000000000' } },
    createProject: { token: acme.tokens.admin, variables: { input: { organizationId: acme.organizationId, handle: 'newp', name: 'New project' } } },
    registerGenAIService: {
      token: acme.tokens.engineer,
      variables: { input: { organizationId: acme.organizationId, projectId: acme.projectId, scope: 'PROJECT', provider: 'AWS_BEDROCK', ...service, environments: [{ environment: 'production', ...environmentInput }] } },
    },
    updateGenAIService: { token: acme.tokens.engineer, variables: { id: ids.service, input: service } },
    configureServiceEnvironment: { token: acme.tokens.engineer, variables: { serviceId: ids.service, environment: 'production', input: environmentInput } },
    removeFromMarketplace: { token: acme.tokens.engineer, variables: { serviceId: ids.service } },
    createConnection: { token: acme.tokens.developer, variables: { input: { projectId: acme.projectId, serviceId: ids.service, name: 'other-app', description: 'd' } } },
    rotateConnectionKey: { token: acme.tokens.developer, variables: { connectionId: ids.connection, environment: 'production', graceSeconds: 0 } },
    setConnectionQuota: { token: acme.tokens.engineer, variables: { connectionId: ids.connection, environment: 'production', quota: RATE_LIMIT } },
    deleteConnection: { token: acme.tokens.developer, variables: { id: ids.connection } },
    issueDataPlaneCredential: { token: cp.adminToken, variables: { environment: 'production', name: 'proxies' } },
    revokeDataPlaneCredential: { token: cp.adminToken, variables: { id: '00000000-0000-4000-8000-000000000000' } },
  };
}

/** The baselines of the mutations the schema has. */
function mutationBaselines(): Array<[string, { variables: Record<string, unknown>; token: string }]> {
  const fields = (schema.getMutationType() as GraphQLObjectType).getFields();
  return Object.entries(baselines()).filter(([mutation]) => mutation in fields);
}

interface HostileCase {
  mutation: string;
  /** The input path the refusal must name, as the caps layer names it. */
  path: string;
  /** Schema coordinate of the capped input. */
  coordinate: string;
  variables: Record<string, unknown>;
}

function oversized(cap: InputCap): { value: unknown; itemValue?: string } {
  if ('maxLength' in cap) return { value: 'x'.repeat(cap.maxLength * TIMES) };
  return { value: null, itemValue: cap.items ? 'x'.repeat(cap.items.maxLength * TIMES) : undefined };
}

/** A list item with only its required fields (a hundredfold list of full items would pass the body limit). */
function minimalItem(type: GraphQLInputType, sample: unknown): unknown {
  const named = getNullableType(type);
  if (!isInputObjectType(named) || typeof sample !== 'object' || sample === null) return sample;
  return Object.fromEntries(Object.values(named.getFields()).filter((f) => isNonNullType(f.type)).map((f) => [f.name, (sample as Record<string, unknown>)[f.name]]));
}

function withValue(variables: Record<string, unknown>, steps: Array<string | number>, value: unknown): Record<string, unknown> {
  const copy = structuredClone(variables);
  let at: Record<string | number, unknown> = copy;
  for (const step of steps.slice(0, -1)) at = at[step] as Record<string | number, unknown>;
  at[steps[steps.length - 1]] = value;
  return copy;
}

/** Walks the baseline along the schema and yields one case per capped input it reaches (lists: the list, and one oversized item). */
function casesOf(mutation: string, variables: Record<string, unknown>): HostileCase[] {
  const caps = resolveInputCaps(schema);
  const field = (schema.getMutationType() as GraphQLObjectType).getFields()[mutation];
  const cases: HostileCase[] = [];
  const visit = (type: GraphQLInputType, cap: InputCap | undefined, coordinate: string, value: unknown, steps: Array<string | number>, path: string): void => {
    const nullable = getNullableType(type);
    if (cap) {
      const { value: big, itemValue } = oversized(cap);
      if (isListType(nullable)) {
        const sample = Array.isArray(value) && value.length > 0 ? value[0] : 'x';
        cases.push({ mutation, path, coordinate, variables: withValue(variables, steps, Array.from({ length: ('maxItems' in cap ? cap.maxItems : 0) * TIMES }, () => minimalItem(nullable.ofType as GraphQLInputType, sample))) });
        if (itemValue !== undefined) cases.push({ mutation, path: `${path}[0]`, coordinate: `${coordinate}[]`, variables: withValue(variables, [...steps, 0], itemValue) });
      } else {
        cases.push({ mutation, path, coordinate, variables: withValue(variables, steps, big) });
      }
    }
    if (value === null || value === undefined) return;
    if (isListType(nullable) && Array.isArray(value) && value.length > 0) visit(nullable.ofType as GraphQLInputType, undefined, `${coordinate}[]`, value[0], [...steps, 0], `${path}[0]`);
    if (isInputObjectType(nullable)) {
      for (const inner of Object.values((nullable as GraphQLInputObjectType).getFields())) {
        visit(inner.type, caps.bySlot.get(inner), `${nullable.name}.${inner.name}`, (value as Record<string, unknown>)[inner.name], [...steps, inner.name], `${path}.${inner.name}`);
      }
    }
  };
  for (const arg of field.args) visit(arg.type, caps.bySlot.get(arg), `Mutation.${mutation}(${arg.name}:)`, variables[arg.name], [arg.name], arg.name);
  return cases;
}

/** Capped inputs reachable from a mutation's arguments, by coordinate: what the cases must cover. */
function cappedCoordinatesOf(mutation: string): Set<string> {
  const caps = resolveInputCaps(schema);
  const found = new Set<string>();
  const seen = new Set<string>();
  const visit = (type: GraphQLInputType, cap: InputCap | null | undefined, coordinate: string): void => {
    if (cap) found.add(coordinate);
    if (cap && 'maxItems' in cap && cap.items) found.add(`${coordinate}[]`);
    const named = getNamedType(type);
    if (!isInputObjectType(named) || seen.has(named.name)) return;
    seen.add(named.name);
    for (const inner of Object.values(named.getFields())) visit(inner.type, caps.bySlot.get(inner), `${named.name}.${inner.name}`);
  };
  for (const arg of (schema.getMutationType() as GraphQLObjectType).getFields()[mutation].args) visit(arg.type, caps.bySlot.get(arg), `Mutation.${mutation}(${arg.name}:)`);
  return found;
}

function documentOf(mutation: string): string {
  const field = (schema.getMutationType() as GraphQLObjectType).getFields()[mutation];
  const definitions = field.args.map((arg) => `$${arg.name}: ${arg.type.toString()}`).join(', ');
  const call = field.args.map((arg) => `${arg.name}: $${arg.name}`).join(', ');
  return `mutation(${definitions}) { ${mutation}(${call})${isScalarType(getNamedType(field.type)) ? '' : ' { __typename }'} }`;
}

async function post(query: string, variables: Record<string, unknown>, token: string): Promise<{ status: number; body: { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } }> {
  const response = await fetch(cp.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) });
  return { status: response.status, body: (await response.json()) as { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } };
}

/** Refused before execution (the variables as sent: 400, as Apollo answers variables it cannot coerce). */
function expectCapRefusal(answer: Awaited<ReturnType<typeof post>>, path: string): void {
  expect(answer.status).toBe(400);
  expect(answer.body.data ?? null).toBeNull();
  expect(answer.body.errors).toHaveLength(1);
  expect(answer.body.errors![0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: path });
  expect(answer.body.errors![0].message).toMatch(/^must (be|have) at most \d+ (characters|items)$/);
}

describe('every string and list input of every mutation at 100x its cap', () => {
  it('has a case: the baselines reach every capped input of every mutation that takes one', () => {
    const all = Object.fromEntries(mutationBaselines());
    const mutations = Object.keys((schema.getMutationType() as GraphQLObjectType).getFields());
    const withInputs = mutations.filter((m) => cappedCoordinatesOf(m).size > 0);
    expect(withInputs.filter((m) => !(m in all))).toEqual([]);
    for (const mutation of withInputs) {
      const covered = new Set(casesOf(mutation, all[mutation].variables).map((c) => c.coordinate));
      expect({ mutation, missing: [...cappedCoordinatesOf(mutation)].filter((c) => !covered.has(c)) }).toEqual({ mutation, missing: [] });
    }
  });

  it('is BAD_USER_INPUT naming the input, for a caller with the right and for a DEVELOPER of another organization, and nothing is written', async () => {
    const before = await databaseDigest();
    let sent = 0;
    for (const [mutation, { variables, token }] of mutationBaselines()) {
      const query = documentOf(mutation);
      for (const hostile of casesOf(mutation, variables)) {
        for (const caller of [token, globex.tokens.developer]) {
          expectCapRefusal(await post(query, hostile.variables, caller), hostile.path);
          sent++;
        }
      }
    }
    expect(sent).toBeGreaterThan(100);
    expect(await databaseDigest()).toEqual(before);
  });

  it('the reported case: 110,000 labels (832 KB) from another organization’s DEVELOPER name the list, and nothing is written', async () => {
    const before = await databaseDigest();
    const labels = Array.from({ length: 110_000 }, (_, i) => `l${i.toString(36)}`); // distinct, as reported
    const { variables } = baselines().registerGenAIService;
    const hostile = withValue(variables, ['input', 'labels'], labels);
    expect(JSON.stringify(hostile).length).toBeGreaterThan(800_000);
    expect(JSON.stringify(hostile).length).toBeLessThan(1024 * 1024); // under the body limit
    expectCapRefusal(await post(documentOf('registerGenAIService'), hostile, globex.tokens.developer), 'input.labels');
    expect(await databaseDigest()).toEqual(before);
  });
});

it('a value written in the document (no variables) is refused by the resolver-side check: BAD_USER_INPUT naming it, nothing written', async () => {
  const before = await databaseDigest();
  const query = `mutation { createProject(input: { organizationId: "${'0'.repeat(36)}", handle: "${'a'.repeat(6300)}", name: "x" }) { id } }`;
  const answer = await post(query, {}, globex.tokens.developer);
  expect(answer.status).toBe(200);
  expect(answer.body.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'input.handle' });
  expect(await databaseDigest()).toEqual(before);
});

describe('authorization comes before the input is read', () => {
  // Within the caps, but input the normalization refuses: the answer shows which check ran first.
  const badService = { name: ' ', contextPath: '/../x', serviceUrl: 'ftp://x', labels: Array.from({ length: 20 }, () => '<bad>') };

  it.each([
    ['a DEVELOPER of another organization registering there: NOT_FOUND', () => globex.tokens.developer, 'NOT_FOUND'],
    ['a DEVELOPER of the organization registering: FORBIDDEN', () => acme.tokens.developer, 'FORBIDDEN'],
  ])('registerGenAIService, %s', async (_name, token, code) => {
    const before = await databaseDigest();
    const answer = await post(documentOf('registerGenAIService'), { input: { organizationId: acme.organizationId, scope: 'ORGANIZATION', provider: 'OPENAI', ...badService } }, token());
    expect(answer.body.errors?.[0].extensions?.code).toBe(code);
    expect(await databaseDigest()).toEqual(before);
  });

  it.each([
    ['updateGenAIService', () => ({ id: ids.service, input: badService })],
    ['configureServiceEnvironment', () => ({ serviceId: ids.service, environment: 'production', input: { serviceUrl: 'ftp://x', backendSecurity: { headerName: 'host', value: ' ' }, rateLimit: { timeUnit: 'MINUTE', maxTotalTokens: -1 } } })],
    ['setConnectionQuota', () => ({ connectionId: ids.connection, environment: 'production', quota: { timeUnit: 'MINUTE', maxTotalTokens: -1 } })],
    ['createProject', () => ({ input: { organizationId: acme.organizationId, handle: '-Bad-', name: ' ' } })],
    ['addMember', () => ({ organizationId: acme.organizationId, email: 'not an email', name: ' ', role: 'ADMIN' })],
    ['createApiToken', () => ({ input: { name: ' ', userId: ids.developerUser } })],
  ])('%s with invalid input: NOT_FOUND or FORBIDDEN for callers without the right, never BAD_USER_INPUT', async (mutation, variables) => {
    const before = await databaseDigest();
    const callers = mutation === 'createApiToken' ? [globex.tokens.developer, globex.tokens.admin] : [globex.tokens.developer, acme.tokens.developer];
    for (const token of callers) {
      const answer = await post(documentOf(mutation), variables(), token);
      expect({ token, code: answer.body.errors?.[0].extensions?.code }).toEqual({ token, code: expect.stringMatching(/^(NOT_FOUND|FORBIDDEN)$/) });
    }
    expect(await databaseDigest()).toEqual(before);
  });
});

describe('queries and subscriptions have caps too', () => {
  // A field's arguments are checked before its resolver, after its parent's: Connection.budgets is asked
  // by a caller who can read the connection.
  it.each([
    ['marketplace labels', `query($o: ID!, $l: [String!]) { marketplace(organizationId: $o, filter: { labels: $l }) { id } }`, () => ({ o: acme.organizationId, l: Array.from({ length: 2000 }, () => 'chat') }), 'filter.labels'],
    ['marketplace search', `query($o: ID!, $s: String) { marketplace(organizationId: $o, filter: { search: $s }) { id } }`, () => ({ o: acme.organizationId, s: 'chat '.repeat(4000) }), 'filter.search'],
    ['usage groupBy', `query($o: ID!) { usage(filter: { organizationId: $o }, groupBy: [${Array.from({ length: 700 }, () => 'SERVICE').join(', ')}]) { from } }`, () => ({ o: acme.organizationId }), 'groupBy'],
    ['usage model', `query($o: ID!, $m: String) { usage(filter: { organizationId: $o, model: $m }) { from } }`, () => ({ o: acme.organizationId, m: 'm'.repeat(20_000) }), 'filter.model'],
    ['organization handle', `query($h: String!) { organization(handle: $h) { id } }`, () => ({ h: 'a'.repeat(6300) }), 'handle'],
    ['connection budgets environment', `query($id: ID!, $e: String) { connection(id: $id) { budgets(environment: $e) { limit } } }`, () => ({ id: ids.connection, e: 'e'.repeat(6300) }), 'environment'],
  ])('%s: BAD_USER_INPUT naming it', async (name, query, variables, path) => {
    const answer = await post(query, variables(), name.startsWith('connection') ? acme.tokens.developer : globex.tokens.developer);
    expect(answer.body.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: path });
  });

  it('a subscription with an oversized id is refused before it looks the service up', async () => {
    const client = createClient({ url: cp.graphqlUrl.replace('http', 'ws'), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${acme.tokens.admin}` }, lazy: true, retryAttempts: 0 });
    try {
      const answer = await new Promise<unknown>((resolve) => {
        client.subscribe({ query: 'subscription($s: ID!) { deploymentStatusChanged(serviceId: $s) { status } }', variables: { s: 'x'.repeat(3600) } }, { next: resolve, error: resolve, complete: () => resolve('complete') });
      });
      expect(JSON.stringify(answer)).toContain('"field":"serviceId"');
      expect(JSON.stringify(answer)).toContain('BAD_USER_INPUT');
    } finally {
      await client.dispose();
    }
  });
});
