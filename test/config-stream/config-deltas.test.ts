// The delta protocol against a real control plane (PostgreSQL, Redis, gRPC), driven by a peer that
// accepts deltas: a snapshot after Hello, then one delta per change carrying base_revision and
// revision; a NACK or a gap answered by a SnapshotRequest gets a full snapshot.
import { createHash } from 'node:crypto';
import { buildDelta } from '../../control-plane/src/config-stream/snapshot-builder';
import { parseSecretKeys, SecretBox } from '../../control-plane/src/secrets/secret-box';
import { type Tenant, type TestControlPlane, connectApp, registerOpenAIService, seedEnvironments, seedTenant, startTestControlPlane } from '../support/control-plane-harness';
import { currentRevision } from '../support/gateway-harness';
import { waitFor } from '../support/wait';
import { type ConfigMessage, connectDeltaPeer, type DeltaPeer, HeldConfig } from './delta-peer';

let cp: TestControlPlane;
let tenant: Tenant;
let serviceId: string;
const peers: DeltaPeer[] = [];

const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');

function peer(proxyId: string, lastAppliedRevision = 0, flowControlWindowBytes?: number): DeltaPeer {
  const connected = connectDeltaPeer(cp.grpcAddress, cp.dataPlaneToken, { proxyId, environment: 'production', lastAppliedRevision }, { flowControlWindowBytes });
  peers.push(connected);
  return connected;
}

function delta(message: ConfigMessage) {
  if (message.kind !== 'delta') throw new Error(`expected a delta, got a ${message.kind}`);
  return message.delta;
}

function snapshot(message: ConfigMessage) {
  if (message.kind !== 'snapshot') throw new Error(`expected a snapshot, got a ${message.kind}`);
  return message.snapshot;
}

/** What a fresh proxy would be sent now, as held state. */
async function freshState(proxyId: string): Promise<HeldConfig> {
  const fresh = peer(proxyId);
  const held = new HeldConfig();
  held.apply(await fresh.nth(0));
  fresh.close();
  return held;
}

beforeAll(async () => {
  cp = await startTestControlPlane();
  await seedEnvironments(cp);
  tenant = await seedTenant(cp, 'globex');
  serviceId = await registerOpenAIService(cp, tenant, 'http://127.0.0.1:9/v1');
});

afterEach(() => {
  for (const p of peers.splice(0)) p.close();
});

afterAll(async () => {
  await cp?.stop();
});

it('sends a snapshot after Hello, then one delta per change naming just what changed', async () => {
  const proxy = peer('delta-1');
  const held = new HeldConfig();
  const first = snapshot(await proxy.nth(0));
  held.apply({ kind: 'snapshot', snapshot: first });

  const app = await connectApp(cp, tenant, serviceId, 'delta-app');
  const created = delta(await proxy.nth(1));
  expect(created).toEqual({
    base_revision: first.revision,
    revision: String(Number(first.revision) + 1),
    upserted_services: [],
    removed_service_ids: [],
    // No quota override: the service's connection quota (none here) applies.
    upserted_keys: [{ key_hash: sha256(app.key), connection_id: app.connectionId, service_id: serviceId, project_id: tenant.projectId, quota_override: null, expires_at_unix_ms: '0' }],
    removed_key_hashes: [],
  });
  held.apply({ kind: 'delta', delta: created });

  const { rotateConnectionKey } = await cp.ok<{ rotateConnectionKey: { apiKey: string } }>(
    'mutation($c: ID!) { rotateConnectionKey(connectionId: $c, environment: "production") { apiKey } }',
    { c: app.connectionId },
    tenant.tokens.developer,
  );
  const rotated = delta(await proxy.nth(2));
  expect(rotated.base_revision).toBe(created.revision);
  expect(rotated.removed_key_hashes).toEqual([sha256(app.key)]);
  expect(rotated.upserted_keys.map((k) => k.key_hash)).toEqual([sha256(rotateConnectionKey.apiKey)]);
  held.apply({ kind: 'delta', delta: rotated });

  await cp.ok('mutation($s: ID!) { configureServiceEnvironment(serviceId: $s, environment: "production", input: {rateLimit: {timeUnit: HOUR, maxTotalTokens: 77}}) { id } }', { s: serviceId });
  const configured = delta(await proxy.nth(3));
  expect(configured.upserted_services).toEqual([expect.objectContaining({ id: serviceId, rate_limit: { time_unit: 'HOUR', max_prompt_tokens: '0', max_completion_tokens: '0', max_total_tokens: '77', shadow: false } })]);
  expect(configured.upserted_keys).toEqual([]);
  held.apply({ kind: 'delta', delta: configured });

  await cp.ok('mutation($id: ID!) { deleteConnection(id: $id) }', { id: app.connectionId }, tenant.tokens.developer);
  const deleted = delta(await proxy.nth(4));
  expect(deleted.removed_key_hashes).toEqual([sha256(rotateConnectionKey.apiKey)]);
  held.apply({ kind: 'delta', delta: deleted });

  // A development-only change sends nothing to production proxies.
  await cp.ok('mutation($s: ID!) { configureServiceEnvironment(serviceId: $s, environment: "development", input: {rateLimit: {timeUnit: DAY, maxTotalTokens: 5}}) { id } }', { s: serviceId });

  // What the deltas built is what a fresh snapshot holds.
  const fresh = await freshState('delta-1-fresh');
  expect(held).toEqual(fresh);
  expect(proxy.received).toHaveLength(5);

  // ACKs of deltas are what rollouts count.
  proxy.write({ ack: { revision: deleted.revision } });
  await waitFor(async () => {
    const { dataPlanes } = await cp.ok<{ dataPlanes: Array<{ id: string; appliedRevision: number }> }>('{ dataPlanes(environment: "production") { id appliedRevision } }');
    return dataPlanes.find((d) => d.id === 'delta-1' && d.appliedRevision === Number(deleted.revision));
  }, 'the ACK of the delta to be recorded');
});

it('answers the Hello of a proxy already at the current revision with an empty delta, then sends changes from there', async () => {
  const current = await currentRevision(cp, 'production');
  const back = peer('proxy-current', current);
  expect(delta(await back.nth(0))).toEqual({ base_revision: String(current), revision: String(current), upserted_services: [], removed_service_ids: [], upserted_keys: [], removed_key_hashes: [] });
  const { key } = await connectApp(cp, tenant, serviceId, 'after-hello');
  const next = delta(await back.nth(1));
  expect(next).toMatchObject({ base_revision: String(current), revision: String(current + 1), upserted_keys: [expect.objectContaining({ key_hash: sha256(key) })] });
});

it('answers a NACKed delta and the SnapshotRequest after it with a full snapshot, then deltas from that snapshot', async () => {
  const proxy = peer('delta-nack');
  const first = snapshot(await proxy.nth(0));
  const app = await connectApp(cp, tenant, serviceId, 'nack-app');
  const refused = delta(await proxy.nth(1));
  expect(refused.base_revision).toBe(first.revision);
  proxy.write({ nack: { revision: refused.revision, reason: 'test refusal' } });
  proxy.write({ resync: { applied_revision: first.revision, reason: 'a delta was refused' } });
  const full = snapshot(await proxy.nth(2));
  expect(full.revision).toBe(refused.revision);
  expect(full.consumer_keys.map((k) => k.key_hash)).toContain(sha256(app.key));

  await cp.ok('mutation($id: ID!) { deleteConnection(id: $id) }', { id: app.connectionId }, tenant.tokens.developer);
  const next = delta(await proxy.nth(3));
  expect(next.base_revision).toBe(full.revision);
  expect(next.removed_key_hashes).toEqual([sha256(app.key)]);
  // A refused delta is no refusal of its revision: the proxy's answer to the full snapshot decides
  // (an ACK here; see test/deployment/rollout.test.ts for both answers).
  proxy.write({ ack: { revision: next.revision } });
  const { dataPlanes } = await waitFor(async () => {
    const data = await cp.ok<{ dataPlanes: Array<{ id: string; appliedRevision: number; lastNackRevision: number | null; lastNackReason: string | null }> }>('{ dataPlanes { id appliedRevision lastNackRevision lastNackReason } }');
    return data.dataPlanes.find((d) => d.id === 'delta-nack')?.appliedRevision === Number(next.revision) && data;
  }, 'the ACK to be recorded');
  expect(dataPlanes.find((d) => d.id === 'delta-nack')).toEqual({ id: 'delta-nack', appliedRevision: Number(next.revision), lastNackRevision: null, lastNackReason: null });
});

it('answers a SnapshotRequest after a gap with a full snapshot of the current revision', async () => {
  const proxy = peer('delta-gap');
  await proxy.nth(0);
  await connectApp(cp, tenant, serviceId, 'gap-app');
  await proxy.nth(1);
  // As if a delta had been lost: the proxy holds an older revision than the deltas build on.
  proxy.write({ resync: { applied_revision: '1', reason: 'delta based on revision 9, applied revision 1' } });
  const full = snapshot(await proxy.nth(2));
  expect(Number(full.revision)).toBe(await currentRevision(cp));
  const held = new HeldConfig();
  held.apply({ kind: 'snapshot', snapshot: full });
  expect(held).toEqual(await freshState('delta-gap-fresh'));
});

/** `count` connections created through the services (8 at a time); returns their production keys. */
async function createConnections(count: number, prefix: string): Promise<string[]> {
  const developer = (await cp.plane.services.auth.authenticate(tenant.tokens.developer))!;
  const created: string[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < count) {
      const { keys } = await cp.plane.services.connections.create(developer, { projectId: tenant.projectId, serviceId, name: `${prefix}-${next++}` });
      created.push(keys.find((k) => k.environment === 'production')!.apiKey);
    }
  }));
  return created;
}

it('coalesces what a slow proxy missed into one newer delta instead of queueing a delta per change', async () => {
  // A 2 KiB HTTP/2 window: a proxy that stops reading makes the server wait after a few messages.
  const slow = peer('delta-slow', 0, 2048);
  const held = new HeldConfig();
  held.apply(await slow.nth(0));
  slow.pause();
  const created = await createConnections(200, 'slow');
  const revision = String(await currentRevision(cp));
  slow.resume();
  await waitFor(() => slow.received.at(-1)?.kind === 'delta' && delta(slow.received.at(-1)!).revision === revision, 'the proxy to catch up');
  for (const message of slow.received.slice(1)) held.apply(message);
  // 200 changes, far fewer messages (one in flight per stream, changes meanwhile coalesced), each
  // one picking up where the one before it ended: nothing stale queued, nothing sent twice. (How many
  // changes one message covers depends on how fast they come against how fast the stream flushes:
  // grpc-js buffers ~16 messages for a paused reader before the window closes.)
  expect(slow.received.length).toBeLessThan(100);
  let base = Number(snapshot(slow.received[0]).revision);
  for (const message of slow.received.slice(1)) {
    const { base_revision: from, revision: to } = delta(message);
    expect(Number(from)).toBe(base);
    expect(Number(to)).toBeGreaterThan(base);
    base = Number(to);
  }
  expect(created.every((key) => held.keys.has(sha256(key)))).toBe(true);
  expect(held).toEqual(await freshState('delta-slow-fresh'));
});

it('brings a proxy that reconnects after 1,000 changes up to date with one delta, or a snapshot once the log is trimmed', async () => {
  const away = new HeldConfig();
  const before = peer('delta-away');
  away.apply(await before.nth(0));
  before.close();
  const kept = await connectApp(cp, tenant, serviceId, 'kept');
  const doomed = await connectApp(cp, tenant, serviceId, 'doomed');
  const created = await createConnections(1000, 'bulk');
  const developer = (await cp.plane.services.auth.authenticate(tenant.tokens.developer))!;
  await cp.plane.services.connections.delete(developer, doomed.connectionId);
  const revision = await currentRevision(cp);
  expect(revision - Number(away.revision)).toBeGreaterThan(1000);

  const back = peer('delta-away', Number(away.revision));
  const caughtUp = delta(await back.nth(0));
  expect(caughtUp).toMatchObject({ base_revision: away.revision, revision: String(revision) });
  expect(caughtUp.upserted_keys.length).toBe(1002 - 1);
  expect(caughtUp.removed_key_hashes).toEqual([sha256(doomed.key)]);
  away.apply({ kind: 'delta', delta: caughtUp });
  expect(away.keys.has(sha256(kept.key))).toBe(true);
  expect(created.every((key) => away.keys.has(sha256(key)))).toBe(true);
  expect(away.keys.has(sha256(doomed.key))).toBe(false);
  expect(away).toEqual(await freshState('delta-away-fresh'));
  back.close();

  // The log no longer reaches back that far: a snapshot instead, in which the deleted key is absent.
  await cp.plane.db.query('DELETE FROM config_changes');
  const again = peer('delta-away-2', Number(caughtUp.base_revision));
  const full = snapshot(await again.nth(0));
  expect(full.revision).toBe(String(revision));
  expect(full.consumer_keys.map((k) => k.key_hash)).not.toContain(sha256(doomed.key));
});

it('builds a delta only where the log covers every revision and the change is small enough', async () => {
  const box = new SecretBox(parseSecretKeys(cp.secretKey, undefined, false));
  const base = await currentRevision(cp);
  expect(await buildDelta(cp.plane.db, box, 'production', base)).toBe('current');
  const apps = [await connectApp(cp, tenant, serviceId, 'limits-1'), await connectApp(cp, tenant, serviceId, 'limits-2')];
  const built = await buildDelta(cp.plane.db, box, 'production', base);
  expect(built).toMatchObject({ base_revision: base, revision: base + 2, removed_key_hashes: [] });
  expect(typeof built === 'object' && built.upserted_keys.map((k) => k.key_hash).sort()).toEqual(apps.map((a) => sha256(a.key)).sort());
  expect(await buildDelta(cp.plane.db, box, 'production', base, { maxRevisions: 1, maxEntries: 100 })).toBe('snapshot');
  expect(await buildDelta(cp.plane.db, box, 'production', base, { maxRevisions: 100, maxEntries: 1 })).toBe('snapshot');
  expect(await buildDelta(cp.plane.db, box, 'production', 0)).toBe('snapshot');
  // A revision missing from the log (trimmed, or older than it): a snapshot, never a delta that misses it.
  await cp.plane.db.query(`DELETE FROM config_changes WHERE revision = $1 AND environment_id = (SELECT id FROM environments WHERE handle = 'production')`, [base + 1]);
  expect(await buildDelta(cp.plane.db, box, 'production', base)).toBe('snapshot');
  expect(await buildDelta(cp.plane.db, box, 'production', base + 1)).toMatchObject({ base_revision: base + 1, revision: base + 2 });
});
