// A real proxy away from the control plane while keys change: when it returns it gets what it missed
// (one delta, or a snapshot once the change log no longer reaches back), and a key deleted meanwhile
// is refused.
import OpenAI from 'openai';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane-harness';
import { currentRevision, type Gateway, startGateway } from '../support/gateway-harness';

let gw: Gateway;
const applied: Array<{ type: 'applied'; revision: bigint; from: 'snapshot' | 'delta' }> = [];

beforeAll(async () => {
  gw = await startGateway({ onConfigStreamEvent: (event) => event.type === 'applied' && applied.push(event) });
});
afterAll(async () => {
  await gw?.stop();
});

const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hi' }] };
const status = (apiKey: string) =>
  new OpenAI({ baseURL: gw.services.openai.endpoint, apiKey, maxRetries: 0 }).chat.completions.create(chat).then(
    () => 200,
    (error: { status?: number }) => error.status,
  );

/** Makes `changes` happen through a control plane the proxy cannot reach, then serves the proxy again on its address. */
async function whileAway(changes: (away: TestControlPlane) => Promise<void>): Promise<TestControlPlane> {
  const grpcPort = gw.cp.grpcAddress.split(':')[1];
  const away = await startTestControlPlane({}, gw.cp); // gRPC on another port: the proxy keeps retrying its own
  try {
    await changes(away);
  } finally {
    await away.stop();
  }
  return startTestControlPlane({ TOKENGATE_GRPC_PORT: grpcPort }, gw.cp);
}

it('refuses keys deleted while it was away and serves keys created meanwhile, by delta and by snapshot', async () => {
  const deletedKey = gw.services.openai.key;
  expect(await status(deletedKey)).toBe(200);
  await gw.cp.plane.stop();
  const created: string[] = [];
  let returned = await whileAway(async (away) => {
    const developer = (await away.plane.services.auth.authenticate(gw.tenant.tokens.developer))!;
    await away.plane.services.connections.delete(developer, gw.services.openai.connectionId);
    for (let n = 0; n < 20; n++) {
      const { keys } = await away.plane.services.connections.create(developer, { projectId: gw.tenant.projectId, serviceId: gw.services.openai.id, name: `while-away-${n}` });
      created.push(keys.find((k) => k.environment === 'production')!.apiKey);
    }
  });
  try {
    const revision = BigInt(await currentRevision(returned));
    await gw.proxy.waitForRevision(revision);
    expect(applied.at(-1)).toEqual({ type: 'applied', revision, from: 'delta' });
    expect(await status(deletedKey)).toBe(401);
    for (const key of [created[0], created[19]]) expect(await status(key)).toBe(200);
    expect(gw.proxy.holder.current?.consumerKeys.size).toBe(await countKeys(returned));
  } finally {
    await returned.stop();
  }

  // Away again, and this time the change log is trimmed before it returns: a full snapshot.
  returned = await whileAway(async (away) => {
    const developer = (await away.plane.services.auth.authenticate(gw.tenant.tokens.developer))!;
    const { connections } = await away.ok<{ connections: Array<{ id: string; name: string }> }>('query($p: ID!) { connections(projectId: $p) { id name } }', { p: gw.tenant.projectId }, gw.tenant.tokens.developer);
    await away.plane.services.connections.delete(developer, connections.find((c) => c.name === 'while-away-0')!.id);
    await away.plane.db.query('DELETE FROM config_changes');
  });
  try {
    const revision = BigInt(await currentRevision(returned));
    await gw.proxy.waitForRevision(revision);
    expect(applied.at(-1)).toEqual({ type: 'applied', revision, from: 'snapshot' });
    expect(await status(created[0])).toBe(401);
    expect(await status(created[19])).toBe(200);
    expect(gw.proxy.holder.current?.consumerKeys.size).toBe(await countKeys(returned));
  } finally {
    await returned.stop();
  }
});

async function countKeys(cp: TestControlPlane): Promise<number> {
  const rows: Array<{ n: string }> = await cp.plane.db.query(`SELECT count(*) AS n FROM connection_keys k JOIN environments e ON e.id = k.environment_id WHERE e.handle = 'production'`);
  return Number(rows[0].n);
}
