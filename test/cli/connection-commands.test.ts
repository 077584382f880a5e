// The journey from the command line: create an organization and a project, then against a real control plane, proxy and a fake
// OpenAI called with the openai SDK: browse the marketplace, list connections, see deployments per
// environment and who used what, rotate a key and delete a connection — each checked at the proxy.
import OpenAI from 'openai';
import { type CommandOutput } from '../../cli/apply/apply';
import { runAutomationCommand } from '../../cli/apply/commands';
import { type Gateway, startGateway } from '../support/gateway-harness';
import { waitFor } from '../support/wait';

interface Run {
  code: number;
  text: string;
}

describe('tokengate create, get marketplace / connections / deployments / usage, rotate key, delete connection', () => {
  let gateway: Gateway;

  beforeAll(async () => {
    // With its rollout worker, so that deployments reach DEPLOYED as under `npm start`.
    gateway = await startGateway({}, { TOKENGATE_INPROCESS_WORKER: 'true' });
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  async function tokengate(token: string, ...argv: string[]): Promise<Run> {
    const lines: string[] = [];
    const output: CommandOutput = { out: (line) => lines.push(line), err: (line) => lines.push(line) };
    const code = await runAutomationCommand(argv, output, { TOKENGATE_URL: gateway.cp.graphqlUrl, TOKENGATE_TOKEN: token });
    return { code, text: lines.join('\n') };
  }

  /** The reply's status: 200, or the status of the SDK's error (401 for a key the proxy does not know). */
  async function chat(apiKey: string): Promise<number> {
    const client = new OpenAI({ baseURL: gateway.services.openai.endpoint, apiKey, maxRetries: 0 });
    try {
      await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] });
      return 200;
    } catch (error) {
      return (error as { status: number }).status;
    }
  }

  it('creates an organization (installation admin) and a project in it; a taken handle is a CONFLICT (exit 1)', async () => {
    const { cp } = gateway;
    expect(await tokengate(cp.adminToken, 'create', 'organization', 'globex', '--name', 'Globex')).toMatchObject({ code: 0, text: expect.stringMatching(/^organization globex created \(id [0-9a-f-]{36}\); proxy paths start with \/globex$/) });
    expect(await tokengate(cp.adminToken, 'create', 'project', 'ml', '--organization', 'globex')).toMatchObject({ code: 0, text: expect.stringMatching(/^project ml created in organization globex/) });
    const { organization } = await cp.ok<{ organization: { name: string; projects: Array<{ handle: string; name: string }> } }>('{ organization(handle: "globex") { name projects { handle name } } }');
    expect(organization).toEqual({ name: 'Globex', projects: [{ handle: 'ml', name: 'ml' }] });
    expect(await tokengate(cp.adminToken, 'create', 'organization', 'globex')).toMatchObject({ code: 1, text: expect.stringContaining('createOrganization globex failed: CONFLICT') });
    expect(await tokengate(cp.adminToken, 'create', 'project', '--organization', 'globex')).toMatchObject({ code: 2, text: expect.stringContaining('name the project: tokengate create project <handle>') });
  });

  it('browses the marketplace as the project sees it: organization services, and project services of that project only', async () => {
    const { tenant, cp } = gateway;
    await cp.ok(
      'mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id } }',
      { i: { organizationId: tenant.organizationId, projectId: tenant.otherProjectId, scope: 'PROJECT', provider: 'OPENAI', name: 'Batch GPT', contextPath: '/batch-gpt', serviceUrl: 'https://api.openai.com/v1', summary: 'For the batch jobs' } },
      tenant.tokens.engineer,
    );
    const fromWeb = await tokengate(tenant.tokens.developer, 'get', 'marketplace', '--organization', 'acme', '--project', 'web');
    expect(fromWeb.code).toBe(0);
    expect(fromWeb.text).toContain('acme/openai  OPENAI  "OpenAI"  organization');
    expect(fromWeb.text).not.toContain('/batch-gpt');
    const fromBatch = await tokengate(tenant.tokens.developer, 'get', 'marketplace', '--organization', 'acme', '--project', 'batch', '--search', 'batch');
    expect(fromBatch.text.split('\n')).toEqual(['acme/batch-gpt  OPENAI  "Batch GPT"  project  For the batch jobs']);
  });

  it('lists a project\'s connections, sees the deployments per environment and who used what', async () => {
    const { tenant, services } = gateway;
    const connections = await tokengate(tenant.tokens.developer, 'get', 'connections', '--organization', 'acme', '--project', 'web');
    expect(connections.text).toContain('web/openai-app  → acme/openai');

    const deployments = await waitFor(async () => {
      const run = await tokengate(tenant.tokens.engineer, 'get', 'deployments', 'acme/openai');
      return run.text.includes('production  DEPLOYED') && run;
    }, 'the production deployment of /openai');
    expect(deployments.code).toBe(0);
    expect(deployments.text).toMatch(/^production {2}DEPLOYED {2}revision \d+ {2}1\/1 connected proxies applied/m);

    expect(await chat(services.openai.key)).toBe(200);
    const usage = await waitFor(async () => {
      const run = await tokengate(tenant.tokens.engineer, 'get', 'usage', '--organization', 'acme', '--service', '/openai');
      return run.text.includes('1 requests') && run;
    }, 'the request in the usage report');
    expect(usage.text).toMatch(/^ {2}production {2}acme\/openai {2}web\/openai-app {2}1 requests {2}\d+ prompt \+ \d+ completion = \d+ tokens {2}0 4xx, 0 5xx$/m);
    // A developer sees the connections of their projects, named the same way.
    const asDeveloper = await tokengate(tenant.tokens.developer, 'get', 'usage', '--organization', 'acme');
    expect(asDeveloper.code).toBe(0);
    expect(asDeveloper.text).toMatch(/^ {2}production {2}acme\/openai {2}web\/openai-app {2}1 requests/m);
  });

  it('rotates a key (the new one works at the proxy, the old one is refused) and deletes the connection (its key is refused)', async () => {
    const { tenant, services } = gateway;
    const name = ['--organization', 'acme', '--project', 'web', '--name', 'openai-app'];
    const rotated = await tokengate(tenant.tokens.developer, 'rotate', 'key', ...name, '--environment', 'production');
    expect(rotated.code).toBe(0);
    const [, newKey, endpoint] = /production {2}(tgk_\S+) {2}(\S+)/.exec(rotated.text)!;
    expect(endpoint).toBe('http://127.0.0.1:8081/acme/openai'); // the production environment's proxy URL
    await gateway.settle();
    expect(await chat(newKey)).toBe(200);
    expect(await chat(services.openai.key)).toBe(401);

    const deleted = await tokengate(tenant.tokens.developer, 'delete', 'connection', ...name);
    expect(deleted).toEqual({ code: 0, text: 'connection web/openai-app deleted: its keys stop working' });
    await gateway.settle();
    expect(await chat(newKey)).toBe(401);
    expect((await tokengate(tenant.tokens.developer, 'get', 'connections', '--organization', 'acme', '--project', 'web')).text).not.toContain('openai-app');
    const again = await tokengate(tenant.tokens.developer, 'delete', 'connection', ...name);
    expect(again).toEqual({ code: 1, text: 'error: find connection web/openai-app failed: NOT_FOUND (field name): project web has no connection named "openai-app"' });
  });

  it('names a missing flag of each command and sends nothing (exit 2)', async () => {
    const { tenant } = gateway;
    expect(await tokengate(tenant.tokens.developer, 'rotate', 'key', '--organization', 'acme', '--project', 'web', '--name', 'x')).toMatchObject({ code: 2, text: expect.stringContaining('tokengate rotate: --environment is required') });
    expect(await tokengate(tenant.tokens.developer, 'get', 'usage', '--organization', 'acme', '--hours', 'a day')).toMatchObject({ code: 2, text: expect.stringContaining('--hours must be a whole number of hours, got "a day"') });
    expect(await tokengate(tenant.tokens.developer, 'get', 'deployments')).toMatchObject({ code: 2, text: expect.stringContaining('name the service as <organization handle><context path>') });
  });
});
