// Refusals reach apps as their SDK's usual errors: the proxy answers in the provider's error format.
import Anthropic from '@anthropic-ai/sdk';
import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import OpenAI from 'openai';
import type { DataPlaneHandle } from '../../data-plane/src/main';
import { type Gateway, PROVIDER_SECRETS, startGateway } from '../support/gateway-harness';

let gw: Gateway;
let strictProxy: DataPlaneHandle;

beforeAll(async () => {
  gw = await startGateway();
  strictProxy = await gw.startProxy({ maxBodyBytes: 4096, upstreamHeadersTimeoutMs: 300 });
});
afterAll(async () => {
  await gw?.stop();
});
beforeEach(() => {
  for (const fake of Object.values(gw.fakes)) fake.reset();
});

const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hi' }] };
const openai = (apiKey: string, base = gw.services.openai.endpoint) => new OpenAI({ baseURL: base, apiKey, maxRetries: 0 });

async function errorOf(promise: Promise<unknown>): Promise<{ status?: number; error?: unknown; name: string; headers?: unknown }> {
  try {
    await promise;
  } catch (error) {
    return error as { status?: number; error?: unknown; name: string };
  }
  throw new Error('expected the call to fail');
}

it('401: missing or unknown key, in the provider format, and nothing reaches the provider', async () => {
  const unknown = await errorOf(openai('tgk_not-a-key').chat.completions.create(chat));
  expect(unknown).toBeInstanceOf(OpenAI.AuthenticationError);
  expect(unknown.status).toBe(401);
  expect(unknown.error).toMatchObject({ type: expect.any(String), code: expect.stringMatching(/^tokengate_/) });
  const missing = await fetch(`${gw.services.openai.endpoint}/chat/completions`, { method: 'POST', body: JSON.stringify(chat), headers: { 'content-type': 'application/json' } });
  expect(missing.status).toBe(401);
  const anthropic = await errorOf(new Anthropic({ baseURL: gw.services.anthropic.endpoint, apiKey: 'tgk_wrong', maxRetries: 0 }).messages.create({ model: 'claude-sonnet-5-5', max_tokens: 5, messages: [{ role: 'user', content: 'Hi' }] }));
  expect(anthropic).toBeInstanceOf(Anthropic.AuthenticationError);
  expect(gw.fakes.openai.received).toEqual([]);
  expect(gw.fakes.anthropic.received).toEqual([]);
});

it('403: a valid key of a connection to another service', async () => {
  const error = await errorOf(openai(gw.services.anthropic.key).chat.completions.create(chat));
  expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
  const bedrock = new BedrockRuntimeClient({ endpoint: gw.services.bedrock.endpoint, region: 'us-east-1', token: { token: gw.services.openai.key }, authSchemePreference: ['httpBearerAuth'], maxAttempts: 1 });
  const denied = await errorOf(bedrock.send(new ConverseCommand({ modelId: 'm', messages: [{ role: 'user', content: [{ text: 'Hi' }] }] })));
  bedrock.destroy();
  expect(denied.name).toBe('AccessDeniedException');
  expect(gw.fakes.openai.received).toEqual([]);
});

it('403: a key issued for another environment, named by the key itself; 401 for a look-alike or a deleted key', async () => {
  const { createConnection } = await gw.cp.ok<{ createConnection: { connection: { id: string }; keys: Array<{ environment: string; apiKey: string }> } }>(
    'mutation($i: CreateConnectionInput!) { createConnection(input: $i) { connection { id } keys { environment apiKey } } }',
    { i: { projectId: gw.tenant.projectId, serviceId: gw.services.openai.id, name: 'two-environments' } },
    gw.tenant.tokens.developer,
  );
  const development = createConnection.keys.find((k) => k.environment === 'development')!.apiKey;
  const production = createConnection.keys.find((k) => k.environment === 'production')!.apiKey;
  // This proxy serves production: the development key is refused as not allowed here, in the SDK's usual error.
  const wrongEnvironment = await errorOf(openai(development).chat.completions.create(chat));
  expect(wrongEnvironment).toBeInstanceOf(OpenAI.PermissionDeniedError);
  expect(wrongEnvironment.error).toMatchObject({ code: 'tokengate_forbidden', message: expect.stringContaining('another environment') });
  const claude = await errorOf(new Anthropic({ baseURL: gw.services.anthropic.endpoint, apiKey: development, maxRetries: 0 }).messages.create({ model: 'claude-sonnet-5-5', max_tokens: 5, messages: [{ role: 'user', content: 'Hi' }] }));
  expect(claude).toBeInstanceOf(Anthropic.PermissionDeniedError);
  // A string of the same length whose check does not hold, and the production key once deleted: unknown keys.
  const lookalike = `${development.slice(0, -1)}${development.endsWith('A') ? 'B' : 'A'}`;
  expect(await errorOf(openai(lookalike).chat.completions.create(chat))).toBeInstanceOf(OpenAI.AuthenticationError);
  await gw.cp.ok('mutation($id: ID!) { deleteConnection(id: $id) }', { id: createConnection.connection.id }, gw.tenant.tokens.developer);
  await gw.settle();
  expect(await errorOf(openai(production).chat.completions.create(chat))).toBeInstanceOf(OpenAI.AuthenticationError);
  expect(gw.fakes.openai.received).toEqual([]);
  expect(gw.fakes.anthropic.received).toEqual([]);
});

it('404: unknown organization or context path', async () => {
  for (const path of ['/nobody/openai/v1/chat/completions', '/acme/not-a-service/v1/chat/completions', '/']) {
    const response = await fetch(`${gw.proxy.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${gw.services.openai.key}` }, body: '{}' });
    expect(response.status).toBe(404);
  }
});

it('413: a request body over the limit, declared or streamed', async () => {
  const big = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'x'.repeat(10_000) }] };
  const error = await errorOf(openai(gw.services.openai.key, `${strictProxy.url}/acme/openai`).chat.completions.create(big));
  expect(error.status).toBe(413);
  expect(gw.fakes.openai.received).toEqual([]);
});

it('502: the provider cannot be reached', async () => {
  const { registerGenAIService } = await gw.cp.ok<{ registerGenAIService: { id: string } }>(
    `mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id } }`,
    { i: { organizationId: gw.tenant.organizationId, scope: 'ORGANIZATION', provider: 'OPENAI', name: 'Down', contextPath: '/down', serviceUrl: 'http://127.0.0.1:9/v1', environments: [{ environment: 'production', backendSecurity: { value: 'sk-down-0123456789' } }] } },
    gw.tenant.tokens.engineer,
  );
  const { createConnection } = await gw.cp.ok<{ createConnection: { keys: Array<{ environment: string; apiKey: string }> } }>(
    `mutation($i: CreateConnectionInput!) { createConnection(input: $i) { keys { environment apiKey } } }`,
    { i: { projectId: gw.tenant.projectId, serviceId: registerGenAIService.id, name: 'down-app' } },
    gw.tenant.tokens.developer,
  );
  await gw.settle();
  const key = createConnection.keys.find((k) => k.environment === 'production')!.apiKey;
  const error = await errorOf(openai(key, `${gw.proxy.url}/acme/down`).chat.completions.create(chat));
  expect(error).toBeInstanceOf(OpenAI.InternalServerError);
  expect(error.status).toBe(502);
});

it('504: the provider does not answer within the timeout', async () => {
  gw.fakes.openai.behaviour.hang = true;
  const error = await errorOf(openai(gw.services.openai.key, `${strictProxy.url}/acme/openai`).chat.completions.create(chat));
  expect(error.status).toBe(504);
});

it('3xx: a provider redirect inside the service is followed through the proxy; one to another host is left alone', async () => {
  const { fake, endpoint, key } = gw.services.openai;
  // The provider moves the resource inside its API, as an edge that renamed a path does.
  fake.behaviour.status = 307;
  fake.behaviour.statusHeaders = { location: `${fake.url}/v1/models/gpt-4o-mini` };
  const manual = await fetch(`${endpoint}/models/gpt-4o`, { headers: { authorization: `Bearer ${key}` }, redirect: 'manual' });
  expect(manual.status).toBe(307);
  expect(manual.headers.get('location')).toBe('/acme/openai/models/gpt-4o-mini');
  // The SDK (fetch) follows it: back through the proxy with the consumer key, never to the provider with it.
  fake.reset();
  fake.behaviour.status = 307;
  fake.behaviour.statusTimes = 1;
  fake.behaviour.statusHeaders = { location: '/v1/models/gpt-4o-mini' };
  const model = await new OpenAI({ baseURL: endpoint, apiKey: key, maxRetries: 0 }).models.retrieve('gpt-4o');
  expect(model.id).toBe('gpt-4o-mini');
  expect(fake.received.map((request) => request.path)).toEqual(['/v1/models/gpt-4o', '/v1/models/gpt-4o-mini']);
  for (const request of fake.received) expect(request.headers['authorization']).toBe(`Bearer ${PROVIDER_SECRETS.openai}`);
  // Elsewhere (a signed download URL on another host): left as sent.
  fake.reset();
  fake.behaviour.status = 302;
  fake.behaviour.statusHeaders = { location: 'https://files.example.com/file-1?sig=abc' };
  const elsewhere = await fetch(`${endpoint}/files/file-1/content`, { headers: { authorization: `Bearer ${key}` }, redirect: 'manual' });
  expect(elsewhere.status).toBe(302);
  expect(elsewhere.headers.get('location')).toBe('https://files.example.com/file-1?sig=abc');
});
