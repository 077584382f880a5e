// Config reaches the proxy through the stream: rotated and deleted keys stop working within one
// snapshot, removed services keep serving existing connections, and the proxy keeps serving while
// the control plane is away and catches up when it returns.
import OpenAI from 'openai';
import { startTestControlPlane } from '../support/control-plane-harness';
import { currentRevision, type Gateway, startGateway } from '../support/gateway-harness';

let gw: Gateway;

beforeAll(async () => {
  gw = await startGateway();
});
afterAll(async () => {
  await gw?.stop();
});

const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hi' }] };
const call = (apiKey: string) => new OpenAI({ baseURL: gw.services.openai.endpoint, apiKey, maxRetries: 0 }).chat.completions.create(chat);
const status = (promise: Promise<unknown>) => promise.then(() => 200, (error: { status?: number }) => error.status);

it('a service removed from the marketplace keeps serving its existing connections', async () => {
  await gw.cp.ok('mutation($s: ID!) { removeFromMarketplace(serviceId: $s) { id } }', { s: gw.services.openai.id }, gw.tenant.tokens.engineer);
  await gw.settle();
  expect(await status(call(gw.services.openai.key))).toBe(200);
});

it('a rotated-away key stops working with the next snapshot; the new one works', async () => {
  const { rotateConnectionKey } = await gw.cp.ok<{ rotateConnectionKey: { apiKey: string } }>(
    'mutation($c: ID!) { rotateConnectionKey(connectionId: $c, environment: "production") { apiKey } }',
    { c: gw.services.openai.connectionId },
    gw.tenant.tokens.developer,
  );
  await gw.settle();
  expect(await status(call(gw.services.openai.key))).toBe(401);
  expect(await status(call(rotateConnectionKey.apiKey))).toBe(200);
  gw.services.openai.key = rotateConnectionKey.apiKey;
});

it('a deleted connection’s key stops working with the next snapshot', async () => {
  expect(await status(call(gw.services.openai.key))).toBe(200);
  await gw.cp.ok('mutation($id: ID!) { deleteConnection(id: $id) }', { id: gw.services.openai.connectionId }, gw.tenant.tokens.developer);
  await gw.settle();
  expect(await status(call(gw.services.openai.key))).toBe(401);
});

it('keeps serving while the control plane is down, and catches up when it returns', async () => {
  const key = gw.services.anthropic.key;
  const anthropicCall = () => fetch(`${gw.services.anthropic.endpoint}/v1/messages`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify({ model: 'claude-sonnet-5-5', max_tokens: 5, messages: [{ role: 'user', content: 'Hi' }] }) });
  const grpcPort = gw.cp.grpcAddress.split(':')[1];
  const before = await currentRevision(gw.cp);
  await gw.cp.plane.stop();
  expect((await anthropicCall()).status).toBe(200);
  expect((await fetch(`${gw.proxy.url}/readyz`)).status).toBe(200);

  // A replacement control plane on the same gRPC address; meanwhile the key was deleted.
  const replacement = await startTestControlPlane({ TOKENGATE_GRPC_PORT: grpcPort }, gw.cp);
  try {
    await replacement.ok('mutation($id: ID!) { deleteConnection(id: $id) }', { id: gw.services.anthropic.connectionId }, gw.tenant.tokens.developer);
    const after = await currentRevision(replacement);
    expect(after).toBeGreaterThan(before);
    await gw.proxy.waitForRevision(BigInt(after));
    expect((await anthropicCall()).status).toBe(401);
  } finally {
    await replacement.stop();
  }
});
