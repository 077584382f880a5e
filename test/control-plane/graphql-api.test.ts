// The GraphQL contract (docs/architecture.md, "Contract"; schema/schema.graphql) driven as automation would: real HTTP, real PostgreSQL.
import { Client } from 'pg';
import { hashToken } from '../../control-plane/src/common/secure-token';
import { type Tenant, type TestControlPlane, seedEnvironments, seedTenant, startTestControlPlane } from '../support/control-plane-harness';

const SERVICE_FIELDS = `
  id organizationId projectId scope provider name contextPath serviceUrl summary description labels marketplaceStatus
  environmentConfigs { environment serviceUrl effectiveServiceUrl backendSecurity { authType headerName configured hint apiVersion awsRegion }
                       rateLimit { timeUnit maxPromptTokens maxCompletionTokens maxTotalTokens } }
  deployments { environment status revision message }
`;
const REGISTER = `mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { ${SERVICE_FIELDS} } }`;
const MARKETPLACE = `query($o: ID!, $p: ID, $f: MarketplaceFilter) { marketplace(organizationId: $o, projectId: $p, filter: $f) { id name } }`;
const CREATE_CONNECTION = `mutation($i: CreateConnectionInput!) { createConnection(input: $i) { connection { id name serviceId } keys { environment apiKey endpointUrl } } }`;

interface Service {
  id: string;
  contextPath: string;
  scope: string;
  provider: string;
  marketplaceStatus: string;
  labels: string[];
  environmentConfigs: Array<{
    environment: string;
    serviceUrl: string | null;
    effectiveServiceUrl: string;
    backendSecurity: { authType: string; headerName: string; configured: boolean; hint: string | null; apiVersion: string | null; awsRegion: string | null };
    rateLimit: { timeUnit: string; maxPromptTokens: number | null; maxCompletionTokens: number | null; maxTotalTokens: number | null } | null;
  }>;
  deployments: Array<{ environment: string; status: string; revision: number; message: string }>;
}

const SECRETS = {
  openai: 'sk-test-openai-0123456789abcdefSECRET1',
  azure: 'azure-key-0123456789abcdefSECRET2',
  anthropic: 'sk-ant-test-0123456789abcdefSECRET3',
  mistral: 'mistral-key-0123456789abcdefSECRET4',
  awsKeyId: 'AKIDEXAMPLESECRET5XYZ',
  awsSecret: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRET6',
  awsSession: 'session-token-SECRET7-0123456789',
  rotated: 'sk-test-openai-rotated-SECRET8-9876543',
};

let cp: TestControlPlane;
let acme: Tenant;
let globex: Tenant;
const responses: string[] = [];

async function register(input: Record<string, unknown>, token: string = acme.tokens.engineer) {
  const result = await cp.gql<{ registerGenAIService: Service }>(REGISTER, { i: { organizationId: acme.organizationId, scope: 'ORGANIZATION', ...input } }, token);
  responses.push(JSON.stringify(result));
  return result;
}

async function count(table: string): Promise<number> {
  const client = new Client({ connectionString: cp.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${table}`);
    return rows[0].n as number;
  } finally {
    await client.end();
  }
}

async function dump(sql: string): Promise<string> {
  const client = new Client({ connectionString: cp.databaseUrl });
  await client.connect();
  try {
    return JSON.stringify((await client.query(sql)).rows);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  cp = await startTestControlPlane();
  await seedEnvironments(cp);
  acme = await seedTenant(cp, 'acme');
  globex = await seedTenant(cp, 'globex');
});

afterAll(async () => {
  await cp?.stop();
});

describe('authentication', () => {
  it('refuses a missing token with UNAUTHENTICATED', async () => {
    const result = await cp.gql('{ organizations { id } }', {}, null);
    expect(result.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('refuses an unknown token with 401 UNAUTHENTICATED', async () => {
    const result = await cp.gql('{ organizations { id } }', {}, 'tgp_not-a-real-token');
    expect(result.status).toBe(401);
    expect(result.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('tells the caller who they are', async () => {
    const { viewer } = await cp.ok<{ viewer: { user: { email: string }; isInstallationAdmin: boolean; memberships: Array<{ role: string; organization: { handle: string } }> } }>(
      '{ viewer { user { email } isInstallationAdmin memberships { role organization { handle } } } }',
      {},
      acme.tokens.developer,
    );
    expect(viewer).toEqual({ user: { email: 'developer@acme.test' }, isInstallationAdmin: false, memberships: [{ role: 'DEVELOPER', organization: { handle: 'acme' } }] });
  });
});

describe('a user in two organizations', () => {
  it('has its own role in each, from one token; and none elsewhere', async () => {
    const email = 'consultant@two-orgs.test';
    const { addMember } = await cp.ok<{ addMember: { user: { id: string } } }>('mutation($o: ID!, $e: String!) { addMember(organizationId: $o, email: $e, role: DEVELOPER) { user { id } } }', { o: acme.organizationId, e: email });
    await cp.ok('mutation($o: ID!, $e: String!) { addMember(organizationId: $o, email: $e, role: ADMIN) { user { id } } }', { o: globex.organizationId, e: email });
    const { createApiToken } = await cp.ok<{ createApiToken: { token: string } }>('mutation($u: ID!) { createApiToken(input: {name: "consulting", userId: $u}) { token } }', { u: addMember.user.id });
    const token = createApiToken.token;
    const createProject = (organizationId: string) => cp.gql('mutation($o: ID!) { createProject(input: {organizationId: $o, handle: "consulting", name: "consulting"}) { id } }', { o: organizationId }, token);
    expect((await createProject(globex.organizationId)).errors).toBeUndefined(); // ADMIN there
    expect((await createProject(acme.organizationId)).errors?.[0].extensions?.code).toBe('FORBIDDEN'); // DEVELOPER here
    const { organizations } = await cp.ok<{ organizations: Array<{ handle: string }> }>('{ organizations { handle } }', {}, token);
    expect(organizations.map((o) => o.handle).sort()).toEqual(['acme', 'globex']);
  });

  it('lets an organization ADMIN issue a token only for a user whose every role is in organizations that ADMIN administers', async () => {
    const addMember = (organizationId: string, email: string, role: string, token?: string) =>
      cp.ok<{ addMember: { user: { id: string } } }>('mutation($o: ID!, $e: String!, $r: Role!) { addMember(organizationId: $o, email: $e, role: $r) { user { id } } }', { o: organizationId, e: email, r: role }, token);
    const issue = (userId: string, token: string) => cp.gql<{ createApiToken: { token: string } }>('mutation($u: ID!) { createApiToken(input: {name: "for you", userId: $u}) { token } }', { u: userId }, token);
    // A globex engineer, added to acme by acme's ADMIN: a token for them would act in globex too.
    const outsider = (await addMember(globex.organizationId, 'engineer-elsewhere@globex.test', 'PLATFORM_ENGINEER')).addMember.user.id;
    await addMember(acme.organizationId, 'engineer-elsewhere@globex.test', 'DEVELOPER', acme.tokens.admin);
    expect((await issue(outsider, acme.tokens.admin)).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    // The installation admin, added to acme by acme's ADMIN: a token for them would be an installation-admin token.
    const { viewer } = await cp.ok<{ viewer: { user: { id: string; email: string } } }>('{ viewer { user { id email } } }');
    await addMember(acme.organizationId, viewer.user.email, 'DEVELOPER', acme.tokens.admin);
    expect((await issue(viewer.user.id, acme.tokens.admin)).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    // A member of acme only: allowed, and the token is theirs.
    const member = (await addMember(acme.organizationId, 'only-acme@acme.test', 'DEVELOPER', acme.tokens.admin)).addMember.user.id;
    const issued = await issue(member, acme.tokens.admin);
    expect(issued.errors).toBeUndefined();
    const { viewer: theirs } = await cp.ok<{ viewer: { user: { id: string }; isInstallationAdmin: boolean } }>('{ viewer { user { id } isInstallationAdmin } }', {}, issued.data!.createApiToken.token);
    expect(theirs).toEqual({ user: { id: member }, isInstallationAdmin: false });
  });

  it('lists and revokes API tokens: the revoked token is refused at once; only who may issue a user\'s tokens may see or revoke them', async () => {
    const LIST = 'query($u: ID) { apiTokens(userId: $u) { id name tokenPrefix revokedAt } }';
    const REVOKE = 'mutation($id: ID!) { revokeApiToken(id: $id) { id revokedAt } }';
    const { addMember } = await cp.ok<{ addMember: { user: { id: string } } }>('mutation($o: ID!) { addMember(organizationId: $o, email: "laptop@acme.test", role: DEVELOPER) { user { id } } }', { o: acme.organizationId }, acme.tokens.admin);
    const userId = addMember.user.id;
    const issued = await cp.ok<{ createApiToken: { token: string; apiToken: { id: string } } }>('mutation($u: ID!) { createApiToken(input: {name: "laptop", userId: $u}) { token apiToken { id } } }', { u: userId }, acme.tokens.admin);
    const { token } = issued.createApiToken;
    const tokenId = issued.createApiToken.apiToken.id;
    // Their own list (the default) and their ADMIN's view of it; never the token itself.
    const own = await cp.ok<{ apiTokens: Array<{ id: string; name: string; tokenPrefix: string; revokedAt: string | null }> }>(LIST, {}, token);
    expect(own.apiTokens).toEqual([{ id: tokenId, name: 'laptop', tokenPrefix: token.slice(0, 12), revokedAt: null }]);
    expect((await cp.ok(LIST, { u: userId }, acme.tokens.admin)).apiTokens).toEqual(own.apiTokens);
    expect(JSON.stringify(own)).not.toContain(token);
    // Another organization's ADMIN sees nothing of them, and cannot revoke (NOT_FOUND, as for an unknown token).
    expect((await cp.gql(LIST, { u: userId }, globex.tokens.admin)).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect((await cp.gql(REVOKE, { id: tokenId }, globex.tokens.admin)).errors?.[0].extensions?.code).toBe('NOT_FOUND');
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) expect((await cp.gql(REVOKE, { id }, acme.tokens.admin)).errors?.[0].extensions?.code).toBe('NOT_FOUND');
    // Revoked by their ADMIN: the token is refused from its next request on.
    const { revokeApiToken } = await cp.ok<{ revokeApiToken: { id: string; revokedAt: string } }>(REVOKE, { id: tokenId }, acme.tokens.admin);
    expect(revokeApiToken.id).toBe(tokenId);
    expect(Date.parse(revokeApiToken.revokedAt)).not.toBeNaN();
    const refused = await cp.gql('{ viewer { user { id } } }', {}, token);
    expect(refused.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    expect((await cp.gql(REVOKE, { id: tokenId }, acme.tokens.admin)).errors?.[0].extensions?.code).toBe('CONFLICT');
    expect((await cp.ok<{ apiTokens: Array<{ revokedAt: string | null }> }>(LIST, { u: userId }, acme.tokens.admin)).apiTokens[0].revokedAt).toBe(revokeApiToken.revokedAt);
    // The bootstrap token is TOKENGATE_ADMIN_TOKEN's: replaced by changing it, not revoked.
    const admins = await cp.ok<{ apiTokens: Array<{ id: string; name: string }> }>(LIST, {});
    const bootstrap = admins.apiTokens.find((t) => t.name.startsWith('bootstrap'))!;
    expect((await cp.gql(REVOKE, { id: bootstrap.id })).errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
    expect(JSON.parse(await dump(`SELECT action FROM audit_events WHERE target_id = '${tokenId}' ORDER BY created_at`))).toEqual([{ action: 'apiToken.create' }, { action: 'apiToken.revoke' }]);
  });
});

describe('organizations, projects and environments', () => {
  it('lists installation-wide environments', async () => {
    const { environments } = await cp.ok<{ environments: Array<{ handle: string; proxyUrl: string }> }>('{ environments { handle proxyUrl } }', {}, acme.tokens.developer);
    expect(environments).toEqual([
      { handle: 'development', proxyUrl: 'http://127.0.0.1:8080' },
      { handle: 'production', proxyUrl: 'http://127.0.0.1:8081' },
    ]);
  });

  it('shows members only their own organizations', async () => {
    const { organizations } = await cp.ok<{ organizations: Array<{ handle: string; projects: Array<{ handle: string }> }> }>('{ organizations { handle projects { handle } } }', {}, acme.tokens.developer);
    expect(organizations).toEqual([{ handle: 'acme', projects: [{ handle: 'batch' }, { handle: 'web' }] }]);
    const other = await cp.gql('query($h: String!) { organization(handle: $h) { id } }', { h: 'acme' }, globex.tokens.admin);
    expect(other.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    const projects = await cp.gql('query($o: ID!) { projects(organizationId: $o) { id } }', { o: acme.organizationId }, globex.tokens.admin);
    expect(projects.errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });

  it('validates handles, refuses duplicates, and checks roles', async () => {
    const bad = await cp.gql('mutation { createOrganization(input: {handle: "Not Valid!", name: "x"}) { id } }');
    expect(bad.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.handle' });
    const dup = await cp.gql('mutation { createOrganization(input: {handle: "acme", name: "x"}) { id } }');
    expect(dup.errors?.[0].extensions?.code).toBe('CONFLICT');
    const notAdmin = await cp.gql('mutation { createOrganization(input: {handle: "newco", name: "x"}) { id } }', {}, acme.tokens.admin);
    expect(notAdmin.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const devProject = await cp.gql('mutation($o: ID!) { createProject(input: {organizationId: $o, handle: "p3", name: "p3"}) { id } }', { o: acme.organizationId }, acme.tokens.developer);
    expect(devProject.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const dupProject = await cp.gql('mutation($o: ID!) { createProject(input: {organizationId: $o, handle: "web", name: "again"}) { id } }', { o: acme.organizationId }, acme.tokens.admin);
    expect(dupProject.errors?.[0].extensions?.code).toBe('CONFLICT');
    const env = await cp.gql('mutation { createEnvironment(input: {handle: "staging", name: "Staging"}) { id } }', {}, acme.tokens.admin);
    expect(env.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });

  it('keeps an ADMIN in every organization: the last one cannot be demoted', async () => {
    const ADD = 'mutation($o: ID!, $e: String!, $r: Role!) { addMember(organizationId: $o, email: $e, role: $r) { role } }';
    const { createOrganization } = await cp.ok<{ createOrganization: { id: string } }>('mutation { createOrganization(input: {handle: "solo", name: "Solo"}) { id } }');
    await cp.ok(ADD, { o: createOrganization.id, e: 'first@solo.test', r: 'ADMIN' });
    const last = await cp.gql(ADD, { o: createOrganization.id, e: 'first@solo.test', r: 'DEVELOPER' });
    expect(last.errors?.[0]).toMatchObject({ message: expect.stringContaining('last ADMIN'), extensions: { code: 'CONFLICT' } });
    // With a second ADMIN, the first may step down.
    await cp.ok(ADD, { o: createOrganization.id, e: 'second@solo.test', r: 'ADMIN' });
    expect(await cp.ok(ADD, { o: createOrganization.id, e: 'first@solo.test', r: 'DEVELOPER' })).toEqual({ addMember: { role: 'DEVELOPER' } });
    const now = await cp.gql(ADD, { o: createOrganization.id, e: 'second@solo.test', r: 'PLATFORM_ENGINEER' });
    expect(now.errors?.[0].extensions?.code).toBe('CONFLICT');
  });
});

describe('registering GenAI services', () => {
  it('registers each of the five providers with their default headers and keeps secrets out of responses', async () => {
    const openai = await register({
      provider: 'OPENAI', name: 'OpenAI GPT', contextPath: '/OpenAI//Prod/', serviceUrl: 'https://api.openai.com/v1/', summary: 'Chat models', description: 'General purpose GPT models', labels: ['chat', 'gpt'],
      environments: [{ environment: 'production', backendSecurity: { value: SECRETS.openai }, rateLimit: { timeUnit: 'MINUTE', maxPromptTokens: 1000, maxCompletionTokens: 500, maxTotalTokens: 1200 } }],
    });
    expect(openai.errors).toBeUndefined();
    const service = openai.data!.registerGenAIService;
    expect(service).toMatchObject({ contextPath: '/openai/prod', serviceUrl: 'https://api.openai.com/v1', scope: 'ORGANIZATION', marketplaceStatus: 'PUBLISHED', labels: ['chat', 'gpt'] });
    const prod = service.environmentConfigs.find((c) => c.environment === 'production')!;
    expect(prod.backendSecurity).toEqual({ authType: 'API_KEY', headerName: 'Authorization', configured: true, hint: '…RET1', apiVersion: null, awsRegion: null });
    expect(prod.rateLimit).toEqual({ timeUnit: 'MINUTE', maxPromptTokens: 1000, maxCompletionTokens: 500, maxTotalTokens: 1200 });
    const dev = service.environmentConfigs.find((c) => c.environment === 'development')!;
    expect(dev.backendSecurity.configured).toBe(false);
    expect(dev.rateLimit).toBeNull();
    expect(service.deployments.map((d) => [d.environment, d.status])).toEqual([['development', 'PENDING'], ['production', 'PENDING']]);

    const azure = await register({ provider: 'AZURE_OPENAI', name: 'Azure GPT-4o', contextPath: '/azure', serviceUrl: 'https://acme.openai.azure.com', environments: [{ environment: 'production', backendSecurity: { value: SECRETS.azure } }] });
    expect(azure.data!.registerGenAIService.environmentConfigs[1].backendSecurity).toMatchObject({ headerName: 'api-key', apiVersion: '2024-10-21', configured: true });
    const anthropic = await register({ provider: 'ANTHROPIC', name: 'Claude', contextPath: '/claude', serviceUrl: 'https://api.anthropic.com', labels: ['chat'], environments: [{ environment: 'production', backendSecurity: { value: SECRETS.anthropic } }] });
    expect(anthropic.data!.registerGenAIService.environmentConfigs[1].backendSecurity).toMatchObject({ headerName: 'x-api-key', apiVersion: '2023-06-01' });
    const mistral = await register({ provider: 'MISTRAL', name: 'Mistral Large', contextPath: '/mistral', serviceUrl: 'https://api.mistral.ai', scope: 'PROJECT', projectId: acme.projectId, environments: [{ environment: 'development', backendSecurity: { value: SECRETS.mistral } }] });
    expect(mistral.data!.registerGenAIService).toMatchObject({ scope: 'PROJECT' });
    expect(mistral.data!.registerGenAIService.environmentConfigs[0].backendSecurity).toMatchObject({ headerName: 'Authorization', configured: true });
    const bedrock = await register({
      provider: 'AWS_BEDROCK', name: 'Bedrock Claude', contextPath: '/bedrock', serviceUrl: 'https://bedrock-runtime.eu-west-1.amazonaws.com', summary: 'Claude on AWS',
      environments: [{ environment: 'production', backendSecurity: { awsAccessKeyId: SECRETS.awsKeyId, awsSecretAccessKey: SECRETS.awsSecret, awsSessionToken: SECRETS.awsSession } }],
    });
    expect(bedrock.errors).toBeUndefined();
    expect(bedrock.data!.registerGenAIService.environmentConfigs[1].backendSecurity).toEqual({ authType: 'AWS_SIGV4', headerName: 'Authorization', configured: true, hint: '…5XYZ', apiVersion: null, awsRegion: 'eu-west-1' });
  });

  it('stores provider credentials encrypted', async () => {
    const stored = await dump('SELECT * FROM service_environment_configs');
    for (const secret of Object.values(SECRETS)) expect(stored).not.toContain(secret);
    expect(stored).toMatch(/"credentials_sealed":"v1:[0-9a-f]{12}:/);
  });

  it('refuses bad input field by field, and writes nothing', async () => {
    const before = [await count('genai_services'), await count('audit_events'), await count('service_environment_configs'), await count('deployments')];
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ provider: 'OPENAI', name: 'x', contextPath: '/ok-path', serviceUrl: 'ftp://example.com' }, 'input.serviceUrl'],
      [{ provider: 'OPENAI', name: 'x', contextPath: '/ok-path', serviceUrl: 'https://user:pw@example.com' }, 'input.serviceUrl'],
      [{ provider: 'OPENAI', name: 'x', contextPath: '/../etc', serviceUrl: 'https://example.com' }, 'input.contextPath'],
      [{ provider: 'OPENAI', name: 'x', contextPath: '/has space', serviceUrl: 'https://example.com' }, 'input.contextPath'],
      [{ provider: 'OPENAI', name: ' ', contextPath: '/ok-path', serviceUrl: 'https://example.com' }, 'input.name'],
      [{ provider: 'OPENAI', name: 'x', contextPath: '/ok-path', serviceUrl: 'https://example.com', scope: 'PROJECT' }, 'input.projectId'],
      [{ provider: 'OPENAI', name: 'x', contextPath: '/ok-path', serviceUrl: 'https://example.com', environments: [{ environment: 'production', rateLimit: { timeUnit: 'HOUR', maxTotalTokens: 0 } }] }, 'input.environments[0].rateLimit.maxTotalTokens'],
      [{ provider: 'OPENAI', name: 'x', contextPath: '/ok-path', serviceUrl: 'https://example.com', environments: [{ environment: 'production', rateLimit: { timeUnit: 'HOUR', maxPromptTokens: -5 } }] }, 'input.environments[0].rateLimit.maxPromptTokens'],
      [{ provider: 'OPENAI', name: 'x', contextPath: '/ok-path', serviceUrl: 'https://example.com', environments: [{ environment: 'production', rateLimit: { timeUnit: 'MINUTE' } }] }, 'input.environments[0].rateLimit'],
      [{ provider: 'OPENAI', name: 'x', contextPath: '/ok-path', serviceUrl: 'https://example.com', environments: [{ environment: 'nowhere' }] }, 'input.environments[0].environment'],
      [{ provider: 'OPENAI', name: 'x', contextPath: '/ok-path', serviceUrl: 'https://example.com', environments: [{ environment: 'production', backendSecurity: { awsAccessKeyId: 'AKID', awsSecretAccessKey: 's' } }] }, 'input.environments[0].backendSecurity.awsAccessKeyId'],
      [{ provider: 'AWS_BEDROCK', name: 'x', contextPath: '/ok-path', serviceUrl: 'https://example.com', environments: [{ environment: 'production', backendSecurity: { awsAccessKeyId: 'AKID', awsSecretAccessKey: SECRETS.awsSecret } }] }, 'input.environments[0].backendSecurity.awsRegion'],
      [{ provider: 'OPENAI', name: 'x', contextPath: '/ok-path', serviceUrl: 'https://example.com', labels: ['ok', '%%%'] }, 'input.labels[1]'],
    ];
    for (const [input, field] of cases) {
      const result = await register(input);
      expect({ field, error: result.errors?.[0].extensions }).toEqual({ field, error: expect.objectContaining({ code: 'BAD_USER_INPUT', field }) });
    }
    expect([await count('genai_services'), await count('audit_events'), await count('service_environment_configs'), await count('deployments')]).toEqual(before);
  });

  it('refuses a context path used or overlapped in the organization with CONFLICT, but not in another organization', async () => {
    const same = await register({ provider: 'OPENAI', name: 'again', contextPath: '/openai/prod', serviceUrl: 'https://api.openai.com/v1' });
    expect(same.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', field: 'input.contextPath' });
    const nested = await register({ provider: 'OPENAI', name: 'again', contextPath: '/openai', serviceUrl: 'https://api.openai.com/v1' });
    expect(nested.errors?.[0].extensions?.code).toBe('CONFLICT');
    const elsewhere = await cp.gql(REGISTER, { i: { organizationId: globex.organizationId, scope: 'ORGANIZATION', provider: 'OPENAI', name: 'Globex GPT', contextPath: '/openai/prod', serviceUrl: 'https://api.openai.com/v1' } }, globex.tokens.engineer);
    expect(elsewhere.errors).toBeUndefined();
  });

  it('lets only ADMIN and PLATFORM_ENGINEER register or change services, and only in their organization', async () => {
    const dev = await register({ provider: 'OPENAI', name: 'dev', contextPath: '/dev-try', serviceUrl: 'https://api.openai.com/v1' }, acme.tokens.developer);
    expect(dev.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const foreign = await register({ provider: 'OPENAI', name: 'foreign', contextPath: '/foreign', serviceUrl: 'https://api.openai.com/v1' }, globex.tokens.admin);
    expect(foreign.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    const admin = await register({ provider: 'OPENAI', name: 'Admin GPT', contextPath: '/admin-gpt', serviceUrl: 'https://api.openai.com/v1', labels: ['internal'] }, acme.tokens.admin);
    expect(admin.errors).toBeUndefined();
    const update = await cp.gql('mutation($id: ID!) { updateGenAIService(id: $id, input: {name: "hacked"}) { id } }', { id: admin.data!.registerGenAIService.id }, acme.tokens.developer);
    expect(update.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });
});

describe('viewing and updating a service', () => {
  let service: Service;

  beforeAll(async () => {
    const { genAIServices } = await cp.ok<{ genAIServices: Service[] }>(`query($o: ID!) { genAIServices(organizationId: $o) { ${SERVICE_FIELDS} } }`, { o: acme.organizationId }, acme.tokens.developer);
    service = genAIServices.find((s) => s.contextPath === '/openai/prod')!;
  });

  it('updates general details and bumps the deployment revision when the proxies are affected', async () => {
    const { updateGenAIService } = await cp.ok<{ updateGenAIService: Service & { name: string; summary: string } }>(
      `mutation($id: ID!, $i: UpdateGenAIServiceInput!) { updateGenAIService(id: $id, input: $i) { name summary ${SERVICE_FIELDS} } }`,
      { id: service.id, i: { name: 'OpenAI GPT-4o', summary: 'Chat and vision', serviceUrl: 'https://api.openai.com/v1' } },
      acme.tokens.engineer,
    );
    expect(updateGenAIService).toMatchObject({ name: 'OpenAI GPT-4o', summary: 'Chat and vision', contextPath: '/openai/prod' });
    const before = service.deployments.find((d) => d.environment === 'production')!.revision;
    const after = updateGenAIService.deployments.find((d) => d.environment === 'production')!;
    expect(after.revision).toBeGreaterThan(before);
    expect(after.status).toBe('PENDING');
  });

  it('configures an environment: omitted fields are kept, credentials replaced, limits removable', async () => {
    const configure = `mutation($s: ID!, $e: String!, $i: ConfigureServiceEnvironmentInput!) { configureServiceEnvironment(serviceId: $s, environment: $e, input: $i) { ${SERVICE_FIELDS} } }`;
    const first = await cp.ok<{ configureServiceEnvironment: Service }>(configure, { s: service.id, e: 'production', i: { rateLimit: { timeUnit: 'HOUR', maxTotalTokens: 50000 }, serviceUrl: 'https://eu.api.openai.com/v1' } }, acme.tokens.engineer);
    const prod = first.configureServiceEnvironment.environmentConfigs.find((c) => c.environment === 'production')!;
    expect(prod.rateLimit).toEqual({ timeUnit: 'HOUR', maxPromptTokens: null, maxCompletionTokens: null, maxTotalTokens: 50000 });
    expect(prod.backendSecurity).toMatchObject({ configured: true, hint: '…RET1' });
    expect(prod.effectiveServiceUrl).toBe('https://eu.api.openai.com/v1');

    const second = await cp.gql<{ configureServiceEnvironment: Service }>(configure, { s: service.id, e: 'production', i: { backendSecurity: { value: SECRETS.rotated }, rateLimit: null, serviceUrl: null } }, acme.tokens.engineer);
    responses.push(JSON.stringify(second));
    const prod2 = second.data!.configureServiceEnvironment.environmentConfigs.find((c) => c.environment === 'production')!;
    expect(prod2).toMatchObject({ rateLimit: null, serviceUrl: null, effectiveServiceUrl: 'https://api.openai.com/v1', backendSecurity: { configured: true, hint: '…6543' } });

    const unknown = await cp.gql(configure, { s: service.id, e: 'moon', i: {} }, acme.tokens.engineer);
    expect(unknown.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'environment' });
    const missing = await cp.gql(configure, { s: '00000000-0000-0000-0000-000000000000', e: 'production', i: {} }, acme.tokens.engineer);
    expect(missing.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    const malformed = await cp.gql(configure, { s: 'not-a-uuid', e: 'production', i: {} }, acme.tokens.engineer);
    expect(malformed.errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });

  it('hides a service of another organization behind NOT_FOUND', async () => {
    const result = await cp.gql('query($id: ID!) { genAIService(id: $id) { id } }', { id: service.id }, globex.tokens.admin);
    expect(result.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    const deployments = await cp.gql('query($id: ID!) { deployments(serviceId: $id) { id } }', { id: service.id }, globex.tokens.admin);
    expect(deployments.errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });

  it('reads deployments per environment', async () => {
    const { deployments } = await cp.ok<{ deployments: Array<{ environment: string; status: string; revision: number; dataPlanes: unknown[] }> }>(
      'query($id: ID!) { deployments(serviceId: $id) { environment status revision dataPlanes { proxyId } } }',
      { id: service.id },
      acme.tokens.developer,
    );
    expect(deployments.map((d) => d.environment)).toEqual(['development', 'production']);
    expect(deployments.every((d) => d.status === 'PENDING' && d.revision > 0)).toBe(true);
  });
});

describe('marketplace', () => {
  const names = (r: { marketplace: Array<{ name: string }> }) => r.marketplace.map((s) => s.name).sort();

  it('shows ORGANIZATION-scope services to the organization and PROJECT-scope ones only in their project', async () => {
    const orgLevel = await cp.ok<{ marketplace: Array<{ name: string }> }>(MARKETPLACE, { o: acme.organizationId }, acme.tokens.developer);
    expect(names(orgLevel)).toEqual(['Admin GPT', 'Azure GPT-4o', 'Bedrock Claude', 'Claude', 'OpenAI GPT-4o']);
    const web = await cp.ok<{ marketplace: Array<{ name: string }> }>(MARKETPLACE, { o: acme.organizationId, p: acme.projectId }, acme.tokens.developer);
    expect(names(web)).toContain('Mistral Large');
    const batch = await cp.ok<{ marketplace: Array<{ name: string }> }>(MARKETPLACE, { o: acme.organizationId, p: acme.otherProjectId }, acme.tokens.developer);
    expect(names(batch)).not.toContain('Mistral Large');
    const foreign = await cp.gql(MARKETPLACE, { o: acme.organizationId }, globex.tokens.developer);
    expect(foreign.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    const wrongProject = await cp.gql(MARKETPLACE, { o: acme.organizationId, p: globex.projectId }, acme.tokens.developer);
    expect(wrongProject.errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });

  it('searches free text and filters by labels, provider and scope', async () => {
    const search = async (f: Record<string, unknown>) => names(await cp.ok<{ marketplace: Array<{ name: string }> }>(MARKETPLACE, { o: acme.organizationId, p: acme.projectId, f }, acme.tokens.developer));
    expect(await search({ search: 'claude' })).toEqual(['Bedrock Claude', 'Claude']);
    expect(await search({ search: 'CLAUDE aws' })).toEqual(['Bedrock Claude']);
    expect(await search({ search: 'general purpose' })).toEqual(['OpenAI GPT-4o']);
    expect(await search({ search: '%' })).toEqual([]);
    expect(await search({ search: "'; DROP TABLE genai_services; --" })).toEqual([]);
    expect(await search({ labels: ['chat'] })).toEqual(['Claude', 'OpenAI GPT-4o']);
    expect(await search({ labels: ['chat', 'gpt'] })).toEqual(['OpenAI GPT-4o']);
    expect(await search({ labels: ['Chat', ' GPT '] })).toEqual(['OpenAI GPT-4o']);
    expect(await search({ providers: ['AZURE_OPENAI', 'MISTRAL'] })).toEqual(['Azure GPT-4o', 'Mistral Large']);
    expect(await search({ scope: 'PROJECT' })).toEqual(['Mistral Large']);
  });
});

describe('connections', () => {
  let serviceId: string;
  let connectionId: string;
  let keys: Array<{ environment: string; apiKey: string; endpointUrl: string }>;

  beforeAll(async () => {
    const { marketplace } = await cp.ok<{ marketplace: Array<{ id: string; name: string }> }>(MARKETPLACE, { o: acme.organizationId, f: { search: 'Claude' } }, acme.tokens.developer);
    serviceId = marketplace.find((s) => s.name === 'Claude')!.id;
  });

  it('creates a connection with one prefixed, high-entropy key per environment, stored only as a hash', async () => {
    const result = await cp.gql<{ createConnection: { connection: { id: string; name: string }; keys: typeof keys } }>(
      CREATE_CONNECTION,
      { i: { projectId: acme.projectId, serviceId, name: 'support-bot', description: 'Answers tickets' } },
      acme.tokens.developer,
    );
    responses.push(JSON.stringify(result));
    expect(result.errors).toBeUndefined();
    connectionId = result.data!.createConnection.connection.id;
    keys = result.data!.createConnection.keys;
    expect(keys.map((k) => k.environment)).toEqual(['development', 'production']);
    expect(keys[0].endpointUrl).toBe('http://127.0.0.1:8080/acme/claude');
    expect(keys[1].endpointUrl).toBe('http://127.0.0.1:8081/acme/claude');
    // tgk_ + 256 random bits + the environment's tag + a check (ADR 019).
    for (const key of keys) expect(key.apiKey).toMatch(/^tgk_[A-Za-z0-9_-]{51}$/);
    expect(keys[0].apiKey.slice(47, 51)).not.toBe(keys[1].apiKey.slice(47, 51));
    expect(new Set(keys.map((k) => k.apiKey)).size).toBe(2);
    const stored = await dump('SELECT * FROM connection_keys');
    for (const key of keys) expect(stored).not.toContain(key.apiKey);
  });

  it('shows per environment the endpoint and an SDK snippet, never the key', async () => {
    const { connection } = await cp.ok<{ connection: { name: string; service: { name: string }; environments: Array<{ environment: string; endpointUrl: string; keyPrefix: string; usageSnippet: string }> } }>(
      'query($id: ID!) { connection(id: $id) { name service { name } environments { environment endpointUrl keyPrefix usageSnippet } } }',
      { id: connectionId },
      acme.tokens.developer,
    );
    responses.push(JSON.stringify(connection));
    expect(connection.service.name).toBe('Claude');
    expect(connection.environments[1]).toMatchObject({ environment: 'production', endpointUrl: 'http://127.0.0.1:8081/acme/claude', keyPrefix: keys[1].apiKey.slice(0, 12) });
    expect(connection.environments[1].usageSnippet).toContain("baseURL: 'http://127.0.0.1:8081/acme/claude'");
    expect(JSON.stringify(connection)).not.toContain(keys[1].apiKey);
    const { connections } = await cp.ok<{ connections: Array<{ id: string }> }>('query($p: ID!) { connections(projectId: $p) { id } }', { p: acme.projectId }, acme.tokens.developer);
    expect(connections.map((c) => c.id)).toEqual([connectionId]);
  });

  it('refuses duplicates, unknown or invisible services, and other tenants', async () => {
    const dup = await cp.gql(CREATE_CONNECTION, { i: { projectId: acme.projectId, serviceId, name: 'support-bot' } }, acme.tokens.developer);
    expect(dup.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', field: 'input.name' });
    const { marketplace } = await cp.ok<{ marketplace: Array<{ id: string; name: string }> }>(MARKETPLACE, { o: acme.organizationId, p: acme.projectId, f: { scope: 'PROJECT' } }, acme.tokens.developer);
    const invisible = await cp.gql(CREATE_CONNECTION, { i: { projectId: acme.otherProjectId, serviceId: marketplace[0].id, name: 'sneaky' } }, acme.tokens.developer);
    expect(invisible.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.serviceId' });
    const foreign = await cp.gql(CREATE_CONNECTION, { i: { projectId: globex.projectId, serviceId, name: 'cross' } }, globex.tokens.developer);
    expect(foreign.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    // Another tenant's project, an unknown one and a malformed id: the same NOT_FOUND, naming the project.
    for (const projectId of [globex.projectId, '00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      const result = await cp.gql(CREATE_CONNECTION, { i: { projectId, serviceId, name: 'elsewhere' } }, acme.tokens.developer);
      expect({ projectId, code: result.errors?.[0].extensions?.code, message: result.errors?.[0].message }).toEqual({ projectId, code: 'NOT_FOUND', message: `project "${projectId}" was not found` });
    }
    const view = await cp.gql('query($id: ID!) { connection(id: $id) { id } }', { id: connectionId }, globex.tokens.admin);
    expect(view.errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });

  it('creates one connection of a name when several creations race for it; the others get CONFLICT', async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, () => cp.gql(CREATE_CONNECTION, { i: { projectId: acme.projectId, serviceId, name: 'racing-app' } }, acme.tokens.developer)),
    );
    expect(results.filter((r) => r.errors === undefined)).toHaveLength(1);
    for (const refused of results.filter((r) => r.errors !== undefined)) expect(refused.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', field: 'input.name' });
    expect(await dump(`SELECT count(*)::int AS n FROM connections WHERE name = 'racing-app'`)).toBe('[{"n":1}]');
    const winner = results.find((r) => r.errors === undefined)!.data as { createConnection: { connection: { id: string } } };
    await cp.ok('mutation($id: ID!) { deleteConnection(id: $id) }', { id: winner.createConnection.connection.id }, acme.tokens.developer);
  });

  it('rotates one environment’s key: a new key, a new hash, the other environment untouched', async () => {
    const before = await dump(`SELECT k.key_hash FROM connection_keys k ORDER BY k.key_hash`);
    const { rotateConnectionKey } = await cp.ok<{ rotateConnectionKey: { environment: string; apiKey: string; endpointUrl: string } }>(
      'mutation($c: ID!) { rotateConnectionKey(connectionId: $c, environment: "production") { environment apiKey endpointUrl } }',
      { c: connectionId },
      acme.tokens.developer,
    );
    expect(rotateConnectionKey.environment).toBe('production');
    expect(rotateConnectionKey.apiKey).not.toBe(keys[1].apiKey);
    expect(rotateConnectionKey.endpointUrl).toBe('http://127.0.0.1:8081/acme/claude');
    const after = await dump(`SELECT k.key_hash FROM connection_keys k ORDER BY k.key_hash`);
    expect(after).not.toBe(before);
    expect(JSON.parse(after)).toHaveLength(JSON.parse(before).length);
    // This connection's keys: development's as it was, production's the new one only.
    const hashes = JSON.parse(await dump(`SELECT e.handle, k.key_hash FROM connection_keys k JOIN environments e ON e.id = k.environment_id WHERE k.connection_id = '${connectionId}' ORDER BY e.handle`)) as Array<{ handle: string; key_hash: string }>;
    expect(hashes).toEqual([
      { handle: 'development', key_hash: hashToken(keys[0].apiKey) },
      { handle: 'production', key_hash: hashToken(rotateConnectionKey.apiKey) },
    ]);
    const unknown = await cp.gql('mutation($c: ID!) { rotateConnectionKey(connectionId: $c, environment: "staging") { apiKey } }', { c: connectionId }, acme.tokens.developer);
    expect(unknown.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'environment' });
  });

  it('removal from the marketplace refuses new connections and keeps existing ones', async () => {
    const removed = await cp.ok<{ removeFromMarketplace: { marketplaceStatus: string } }>('mutation($s: ID!) { removeFromMarketplace(serviceId: $s) { marketplaceStatus } }', { s: serviceId }, acme.tokens.engineer);
    expect(removed.removeFromMarketplace.marketplaceStatus).toBe('REMOVED');
    const listed = await cp.ok<{ marketplace: Array<{ name: string }> }>(MARKETPLACE, { o: acme.organizationId }, acme.tokens.developer);
    expect(listed.marketplace.map((s) => s.name)).not.toContain('Claude');
    const refused = await cp.gql(CREATE_CONNECTION, { i: { projectId: acme.projectId, serviceId, name: 'late' } }, acme.tokens.developer);
    expect(refused.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'input.serviceId' } });
    expect(refused.errors?.[0].message).toMatch(/removed from the marketplace/);
    const { connection } = await cp.ok<{ connection: { id: string; environments: Array<{ keyPrefix: string | null }> } }>('query($id: ID!) { connection(id: $id) { id environments { keyPrefix } } }', { id: connectionId }, acme.tokens.developer);
    expect(connection.environments.every((e) => e.keyPrefix)).toBe(true);
    const again = await cp.gql('mutation($s: ID!) { removeFromMarketplace(serviceId: $s) { id } }', { s: serviceId }, acme.tokens.engineer);
    expect(again.errors?.[0].extensions?.code).toBe('CONFLICT');
    const managed = await cp.ok<{ genAIServices: Array<{ name: string; marketplaceStatus: string }> }>('query($o: ID!) { genAIServices(organizationId: $o) { name marketplaceStatus } }', { o: acme.organizationId }, acme.tokens.engineer);
    expect(managed.genAIServices.find((s) => s.name === 'Claude')?.marketplaceStatus).toBe('REMOVED');
  });

  it('deletes a connection and its keys', async () => {
    const keysBefore = await count('connection_keys');
    const result = await cp.ok<{ deleteConnection: boolean }>('mutation($id: ID!) { deleteConnection(id: $id) }', { id: connectionId }, acme.tokens.developer);
    expect(result.deleteConnection).toBe(true);
    expect(await count('connection_keys')).toBe(keysBefore - 2);
    const gone = await cp.gql('query($id: ID!) { connection(id: $id) { id } }', { id: connectionId }, acme.tokens.developer);
    expect(gone.errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });
});

describe('audit and secrecy', () => {
  it('audits every mutation with who, what and when', async () => {
    const { auditEvents } = await cp.ok<{ auditEvents: Array<{ actor: string; action: string; createdAt: string }> }>('query($o: ID!) { auditEvents(organizationId: $o, limit: 500) { actor action createdAt } }', { o: acme.organizationId }, acme.tokens.admin);
    const actions = new Set(auditEvents.map((e) => e.action));
    for (const action of ['organization.create', 'project.create', 'member.add', 'genAIService.register', 'genAIService.update', 'genAIService.configureEnvironment', 'genAIService.removeFromMarketplace', 'connection.create', 'connection.rotateKey', 'connection.delete']) {
      expect(actions).toContain(action);
    }
    expect(auditEvents.find((e) => e.action === 'connection.create')?.actor).toBe('developer@acme.test');
    const forbidden = await cp.gql('query($o: ID!) { auditEvents(organizationId: $o) { id } }', { o: acme.organizationId }, acme.tokens.developer);
    expect(forbidden.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });

  it('never puts a provider secret in a response, a log line or an audit row', async () => {
    const audit = await dump('SELECT * FROM audit_events');
    const logs = cp.logLines.join('\n');
    for (const secret of Object.values(SECRETS)) {
      expect(audit).not.toContain(secret);
      expect(logs).not.toContain(secret);
      for (const response of responses) expect(response).not.toContain(secret);
    }
  });
});

describe('hostile requests', () => {
  it('bounds query depth and alias abuse', async () => {
    let deep = 'id';
    for (let i = 0; i < 12; i++) deep = `organization { projects { ${deep} } }`;
    const tooDeep = await cp.gql(`{ viewer { memberships { ${deep} } } }`);
    expect(tooDeep.errors?.map((e) => e.message).join('\n')).toMatch(/depth/i);
    expect(tooDeep.data ?? null).toBeNull();
    const aliases = Array.from({ length: 50 }, (_, i) => `a${i}: viewer { isInstallationAdmin }`).join(' ');
    const aliased = await cp.gql(`{ ${aliases} }`);
    expect(aliased.errors?.map((e) => e.message).join('\n')).toMatch(/alias/i);
    const fine = await cp.gql('{ viewer { memberships { organization { projects { id } } } } }');
    expect(fine.errors).toBeUndefined();
  });

  it('refuses an oversized body with 413 and malformed JSON with 400', async () => {
    const big = await fetch(cp.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${cp.adminToken}` }, body: JSON.stringify({ query: '{ viewer { isInstallationAdmin } }', variables: { pad: 'x'.repeat(2 * 1024 * 1024) } }) });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
    const bad = await fetch(cp.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
    expect(bad.status).toBe(400);
  });

  it('refuses batched requests and unknown routes', async () => {
    const batch = await fetch(cp.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${cp.adminToken}` }, body: JSON.stringify([{ query: '{ viewer { isInstallationAdmin } }' }, { query: '{ viewer { isInstallationAdmin } }' }]) });
    expect(batch.status).toBe(400);
    const unknown = await fetch(cp.graphqlUrl.replace('/graphql', '/nope'));
    expect(unknown.status).toBe(404);
  });
});
