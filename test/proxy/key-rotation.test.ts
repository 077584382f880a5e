// Consumer-key rotation without downtime: with graceSeconds the replaced key keeps working beside the
// new one, the connection shows until when, and every proxy refuses it once that time has passed —
// on its own clock, without waiting for another change. Without a grace period it stops at once.
import OpenAI from 'openai';
import type { DataPlaneHandle } from '../../data-plane/src/main';
import { type Gateway, startGateway } from '../support/gateway-harness';
import { waitFor } from '../support/wait';

let gw: Gateway;
let second: DataPlaneHandle;

beforeAll(async () => {
  gw = await startGateway();
  second = await gw.startProxy();
});
afterAll(async () => {
  await gw?.stop();
});

const ROTATE = 'mutation($c: ID!, $g: Int) { rotateConnectionKey(connectionId: $c, environment: "production", graceSeconds: $g) { apiKey previousKeyExpiresAt } }';

async function status(proxy: DataPlaneHandle, key: string): Promise<number> {
  const client = new OpenAI({ baseURL: `${proxy.url}/acme/openai`, apiKey: key, maxRetries: 0 });
  return client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }).then(
    () => 200,
    (error: { status?: number }) => error.status ?? 0,
  );
}

const everywhere = (key: string) => Promise.all([status(gw.proxy, key), status(second, key)]);

async function rotate(graceSeconds: number | null): Promise<{ apiKey: string; previousKeyExpiresAt: string | null }> {
  const { rotateConnectionKey } = await gw.cp.ok<{ rotateConnectionKey: { apiKey: string; previousKeyExpiresAt: string | null } }>(ROTATE, { c: gw.services.openai.connectionId, g: graceSeconds }, gw.tenant.tokens.developer);
  await gw.settle();
  return rotateConnectionKey;
}

async function production(): Promise<{ keyPrefix: string; previousKeyPrefix: string | null; previousKeyExpiresAt: string | null }> {
  const { connection } = await gw.cp.ok<{ connection: { environments: Array<{ environment: string; keyPrefix: string; previousKeyPrefix: string | null; previousKeyExpiresAt: string | null }> } }>(
    'query($c: ID!) { connection(id: $c) { environments { environment keyPrefix previousKeyPrefix previousKeyExpiresAt } } }',
    { c: gw.services.openai.connectionId },
    gw.tenant.tokens.developer,
  );
  return connection.environments.find((e) => e.environment === 'production')!;
}

it('with a grace period both keys work and the connection shows until when; a rotation without one stops both old keys at once', async () => {
  const original = gw.services.openai.key;
  const before = Date.now();
  const rotated = await rotate(3600);
  const expiry = Date.parse(rotated.previousKeyExpiresAt ?? '');
  expect(expiry).toBeGreaterThanOrEqual(before + 3_599_000);
  expect(expiry).toBeLessThanOrEqual(Date.now() + 3_601_000);
  expect(await everywhere(original)).toEqual([200, 200]);
  expect(await everywhere(rotated.apiKey)).toEqual([200, 200]);
  expect(await production()).toMatchObject({ keyPrefix: rotated.apiKey.slice(0, 12), previousKeyPrefix: original.slice(0, 12), previousKeyExpiresAt: rotated.previousKeyExpiresAt });

  // A second rotation revokes the key still in its grace period: a connection never has three keys.
  const third = await rotate(null);
  expect(third.previousKeyExpiresAt).toBeNull();
  expect(await everywhere(original)).toEqual([401, 401]);
  expect(await everywhere(rotated.apiKey)).toEqual([401, 401]);
  expect(await everywhere(third.apiKey)).toEqual([200, 200]);
  expect(await production()).toMatchObject({ previousKeyPrefix: null, previousKeyExpiresAt: null });
  gw.services.openai.key = third.apiKey;
});

it('the proxies refuse a rotated key when its grace period ends, with no further change sent', async () => {
  const old = gw.services.openai.key;
  const rotated = await rotate(1);
  const revision = (await gw.cp.ok<{ environments: Array<{ handle: string; revision: number }> }>('{ environments { handle revision } }')).environments.find((e) => e.handle === 'production')!.revision;
  // Refused by both proxies once the second has passed (each on its own clock)…
  await waitFor(async () => (await everywhere(old)).every((s) => s === 401), 'the old key to be refused after its grace period');
  expect(await everywhere(rotated.apiKey)).toEqual([200, 200]);
  // …at the revision of the rotation: the expiry travelled with the key.
  const now = (await gw.cp.ok<{ environments: Array<{ handle: string; revision: number }> }>('{ environments { handle revision } }')).environments.find((e) => e.handle === 'production')!.revision;
  expect(now).toBe(revision);
  expect(await production()).toMatchObject({ previousKeyPrefix: null, previousKeyExpiresAt: null });
  gw.services.openai.key = rotated.apiKey;
});

it('refuses a grace period beyond 7 days, changing nothing', async () => {
  const result = await gw.cp.gql(ROTATE, { c: gw.services.openai.connectionId, g: 7 * 24 * 3600 + 1 }, gw.tenant.tokens.developer);
  expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect(result.errors?.[0]?.extensions?.field ?? result.errors?.[0]?.message).toContain('graceSeconds');
  expect(await everywhere(gw.services.openai.key)).toEqual([200, 200]);
});
