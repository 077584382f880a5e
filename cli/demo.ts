// `tokengate start --demo`: a built-in fake OpenAI-compatible provider (demo-provider.ts), a demo organization with an OpenAI service pointing at it, and a connection whose key works
// at once — printed with a curl command and an `openai` SDK snippet that run as printed.
import { startDemoProvider } from './demo-provider';

interface Gql {
  <T>(query: string, variables?: Record<string, unknown>): Promise<T>;
}

export interface Demo {
  endpoint: string;
  apiKey: string;
  instructions: string;
  stop(): Promise<void>;
}

export async function setUpDemo(graphqlUrl: string, adminToken: string, proxyUrl: string): Promise<Demo> {
  const provider = await startDemoProvider();
  const gql: Gql = async <T>(query: string, variables: Record<string, unknown> = {}) => {
    const response = await fetch(graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` }, body: JSON.stringify({ query, variables }) });
    const body = (await response.json()) as { data?: T; errors?: Array<{ message: string }> };
    if (!body.data || body.errors) throw new Error(`demo setup failed: ${body.errors?.map((e) => e.message).join('; ')}`);
    return body.data;
  };

  // Idempotent across restarts: reuse the demo organization, point its service at this run's provider, rotate the key.
  const { organizations } = await gql<{ organizations: Array<{ id: string; handle: string; projects: Array<{ id: string; handle: string }> }> }>('{ organizations { id handle projects { id handle } } }');
  let organization = organizations.find((o) => o.handle === 'demo');
  if (!organization) {
    const { createOrganization } = await gql<{ createOrganization: { id: string } }>('mutation { createOrganization(input: {handle: "demo", name: "Demo"}) { id } }');
    organization = { id: createOrganization.id, handle: 'demo', projects: [] };
  }
  let project = organization.projects.find((p) => p.handle === 'playground');
  if (!project) {
    const { createProject } = await gql<{ createProject: { id: string } }>('mutation($o: ID!) { createProject(input: {organizationId: $o, handle: "playground", name: "Playground"}) { id handle } }', { o: organization.id });
    project = { id: createProject.id, handle: 'playground' };
  }
  const environment = { environment: 'development', backendSecurity: { value: 'sk-demo-provider-key-not-secret' }, rateLimit: { timeUnit: 'MINUTE', maxTotalTokens: 100000 }, serviceUrl: `${provider.url}/v1` };
  const { genAIServices } = await gql<{ genAIServices: Array<{ id: string; contextPath: string }> }>('query($o: ID!) { genAIServices(organizationId: $o) { id contextPath } }', { o: organization.id });
  let serviceId = genAIServices.find((s) => s.contextPath === '/openai')?.id;
  if (!serviceId) {
    const { registerGenAIService } = await gql<{ registerGenAIService: { id: string } }>('mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id } }', {
      i: { organizationId: organization.id, scope: 'ORGANIZATION', provider: 'OPENAI', name: 'Demo OpenAI (built-in fake provider)', contextPath: '/openai', serviceUrl: `${provider.url}/v1`, summary: 'A fake OpenAI-compatible provider for trying Tokengate', labels: ['demo'], environments: [environment] },
    });
    serviceId = registerGenAIService.id;
  } else {
    const { environment: env, ...input } = environment;
    await gql('mutation($s: ID!, $e: String!, $i: ConfigureServiceEnvironmentInput!) { configureServiceEnvironment(serviceId: $s, environment: $e, input: $i) { id } }', { s: serviceId, e: env, i: input });
  }
  const { connections } = await gql<{ connections: Array<{ id: string; name: string }> }>('query($p: ID!) { connections(projectId: $p) { id name } }', { p: project.id });
  const existing = connections.find((c) => c.name === 'demo-app');
  let apiKey: string;
  if (existing) {
    apiKey = (await gql<{ rotateConnectionKey: { apiKey: string } }>('mutation($c: ID!) { rotateConnectionKey(connectionId: $c, environment: "development") { apiKey } }', { c: existing.id })).rotateConnectionKey.apiKey;
  } else {
    const { createConnection } = await gql<{ createConnection: { keys: Array<{ environment: string; apiKey: string }> } }>(
      'mutation($i: CreateConnectionInput!) { createConnection(input: $i) { keys { environment apiKey } } }',
      { i: { projectId: project.id, serviceId, name: 'demo-app', description: 'created by tokengate start --demo' } },
    );
    apiKey = createConnection.keys.find((k) => k.environment === 'development')!.apiKey;
  }

  // Print only once the development proxy serves the revision that holds the key.
  for (let i = 0; ; i++) {
    const { environments, dataPlanes } = await gql<{ environments: Array<{ handle: string; revision: number }>; dataPlanes: Array<{ environment: string; appliedRevision: number; connected: boolean }> }>(
      '{ environments { handle revision } dataPlanes(environment: "development") { environment appliedRevision connected } }',
    );
    const revision = environments.find((e) => e.handle === 'development')!.revision;
    if (dataPlanes.some((d) => d.connected && d.appliedRevision >= revision)) break;
    if (i > 300) throw new Error('the development proxy did not apply the demo configuration');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const endpoint = `${proxyUrl}/demo/openai`;
  const instructions = [
    'Demo: a fake OpenAI-compatible provider, service "demo/openai" (development, 100,000 tokens/min), connection "demo-app".',
    `  Endpoint        ${endpoint}`,
    `  API key         ${apiKey}`,
    '',
    'Call it with curl:',
    `  curl -s ${endpoint}/chat/completions -H "Authorization: Bearer ${apiKey}" -H 'content-type: application/json' -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}'`,
    '',
    'or with the openai SDK (npm i openai), as demo.mjs:',
    `  import OpenAI from 'openai';`,
    `  const client = new OpenAI({ baseURL: '${endpoint}', apiKey: '${apiKey}' });`,
    `  const reply = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] });`,
    `  console.log(reply.choices[0].message.content);`,
  ].join('\n');
  return { endpoint, apiKey, instructions, stop: () => provider.close() };
}
