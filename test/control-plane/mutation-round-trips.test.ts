// What a connection mutation sends to PostgreSQL, counted at the pg client (one query call, one round
// trip): the mutation made most often, createConnection, is four round trips (begin; the project, its
// environments and the service, locked; the connection with its keys; the audit event, the revision
// bump and the COMMIT in one message); a key rotation five, a deletion four; and the audit event of
// every change leaves with its COMMIT.
// Under a sustained rate each round trip waits for a core on a busy machine (bench:scale), so these
// counts are what keeps createConnection's latency down; the rows written are checked too.
import type { Client, Pool } from 'pg';
import { DataSource } from 'typeorm';
import { Actor } from '../../control-plane/src/auth/actor';
import { Role } from '../../control-plane/src/auth/role';
import { hashToken } from '../../control-plane/src/common/secure-token';
import { ConfigChanges } from '../../control-plane/src/config-change/config-change';
import type { BumpedEnvironment } from '../../control-plane/src/config-change/revision-ledger';
import { ConnectionService } from '../../control-plane/src/connection/connection.service';
import { createDataSource } from '../../control-plane/src/db/data-source';
import { registerOpenAIService, seedEnvironments, seedTenant, startTestControlPlane, type Tenant, type TestControlPlane } from '../support/control-plane-harness';

let cp: TestControlPlane;
let tenant: Tenant;
let serviceId: string;
let db: DataSource;
let connections: ConnectionService;
let developer: Actor;
/** The statements of each round trip this test's DataSource made, in order. */
const roundTrips: string[] = [];
/** What the change feed was told after each commit. */
const announced: BumpedEnvironment[][] = [];

beforeAll(async () => {
  cp = await startTestControlPlane();
  await seedEnvironments(cp);
  tenant = await seedTenant(cp, 'trips');
  serviceId = await registerOpenAIService(cp, tenant, 'http://127.0.0.1:9/v1');
  db = createDataSource(cp.databaseUrl, 2);
  await db.initialize();
  // Every client of this DataSource's pool, as it is checked out: each query() call is one round trip.
  const pool = (db.driver as unknown as { master: Pool }).master;
  const counted = new WeakSet<Client>();
  pool.on('acquire', (client) => {
    if (counted.has(client)) return;
    counted.add(client);
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const [text] = args;
      roundTrips.push(typeof text === 'string' ? text : String((text as { text?: string }).text));
      return query(...args);
    };
  });
  connections = new ConnectionService(db, new ConfigChanges(db, { environmentsChanged: (changes) => void announced.push(changes) }));
  const [user]: Array<{ id: string }> = await db.query(`SELECT id FROM users WHERE email = 'developer@trips.test'`);
  developer = new Actor(user.id, 'developer@trips.test', false, new Map([[tenant.organizationId, Role.DEVELOPER]]));
});

afterAll(async () => {
  await db?.destroy();
  await cp?.stop();
});

beforeEach(() => {
  roundTrips.length = 0;
  announced.length = 0;
});

async function revisions(): Promise<Record<string, number>> {
  const rows: Array<{ handle: string; revision: string }> = await db.query('SELECT handle, revision FROM environments');
  return Object.fromEntries(rows.map((r) => [r.handle, Number(r.revision)]));
}

it('creates a connection in four round trips: its keys, audit event, revisions and deployments all written', async () => {
  const before = await revisions();
  roundTrips.length = 0;
  const { connection, keys } = await connections.create(developer, { projectId: tenant.projectId, serviceId, name: 'counted', description: 'four trips' });
  expect(roundTrips).toHaveLength(4);
  expect(roundTrips[0]).toMatch(/^START TRANSACTION/);
  expect(roundTrips[3]).toMatch(/INSERT INTO audit_events[\s\S]*UPDATE environments SET revision[\s\S]*COMMIT$/);

  expect(connection).toMatchObject({ organizationId: tenant.organizationId, projectId: tenant.projectId, serviceId, name: 'counted', description: 'four trips', createdBy: developer.userId });
  expect(connection.createdAt).toBeInstanceOf(Date);
  const stored: Array<{ handle: string; key_hash: string; key_prefix: string }> = await db.query(
    'SELECT e.handle, k.key_hash, k.key_prefix FROM connection_keys k JOIN environments e ON e.id = k.environment_id WHERE k.connection_id = $1 ORDER BY e.handle',
    [connection.id],
  );
  expect(stored).toEqual(keys.map((k) => ({ handle: k.environment, key_hash: hashToken(k.apiKey), key_prefix: k.apiKey.slice(0, 12) })));
  const [audit] = await db.query(`SELECT actor_user_id, organization_id, target_type, target_id, details FROM audit_events WHERE action = 'connection.create' AND target_id = $1`, [connection.id]);
  expect(audit).toEqual({
    actor_user_id: developer.userId,
    organization_id: tenant.organizationId,
    target_type: 'Connection',
    target_id: connection.id,
    details: { name: 'counted', projectId: tenant.projectId, serviceId, environments: ['development', 'production'] },
  });
  const after = await revisions();
  expect(after).toEqual({ development: before.development + 1, production: before.production + 1 });
  const deployments: Array<{ handle: string; revision: string; status: string }> = await db.query(
    'SELECT e.handle, d.revision, d.status FROM deployments d JOIN environments e ON e.id = d.environment_id WHERE d.service_id = $1 ORDER BY e.handle',
    [serviceId],
  );
  expect(deployments.map((d) => ({ ...d, revision: Number(d.revision) }))).toEqual([
    { handle: 'development', revision: after.development, status: 'PENDING' },
    { handle: 'production', revision: after.production, status: 'PENDING' },
  ]);
  expect(announced).toHaveLength(1);
  expect(announced[0].map((b) => [b.handle, b.revision])).toEqual([['development', after.development], ['production', after.production]]);
});

it('rotates a key in five round trips and deletes a connection in four, each audit event sent with its COMMIT', async () => {
  const { connection, keys } = await connections.create(developer, { projectId: tenant.projectId, serviceId, name: 'short-lived' });
  roundTrips.length = 0;
  // Begin; lock the connection; read the environment, the route and the keys there; revoke and issue; commit.
  const graced = await connections.rotateKey(developer, connection.id, 'production', 60);
  expect(roundTrips).toHaveLength(5);
  expect(roundTrips[1]).toMatch(/FROM connections WHERE id = \$1 .* FOR UPDATE$/);
  expect(roundTrips.filter((sql) => sql.includes('audit_events'))).toEqual([roundTrips[4]]);
  expect(roundTrips[4]).toMatch(/COMMIT$/);
  expect(graced.previousKeyExpiresAt).toBeInstanceOf(Date);
  // A rotation during the grace period revokes the key in its grace at once, and leaves the current
  // one its own grace: still one current and one previous key (the partial unique indexes hold).
  const rotated = await connections.rotateKey(developer, connection.id, 'production');
  const stored: Array<{ key_hash: string; current: boolean }> = await db.query(
    `SELECT k.key_hash, k.expires_at IS NULL AS current FROM connection_keys k JOIN environments e ON e.id = k.environment_id WHERE k.connection_id = $1 AND e.handle = 'production'`,
    [connection.id],
  );
  expect(stored).toEqual([{ key_hash: hashToken(rotated.apiKey), current: true }]);
  expect(announced.at(-1)?.map((b) => b.handle)).toEqual(['production']);
  roundTrips.length = 0;
  // Begin; lock the connection; delete its keys (as they are now) and the connection; commit.
  await connections.delete(developer, connection.id);
  expect(roundTrips).toHaveLength(4);
  expect(roundTrips.filter((sql) => sql.includes('audit_events'))).toEqual([roundTrips[3]]);
  const [{ n: left }] = await db.query('SELECT count(*)::int AS n FROM connection_keys WHERE connection_id = $1', [connection.id]);
  expect(left).toBe(0);
  // What the proxies are told: every key the connection had (development's original, production's last).
  const [change] = await db.query(
    `SELECT array_agg(key_hash ORDER BY key_hash) AS hashes FROM config_changes WHERE revision = (SELECT max(revision) FROM config_changes c2 WHERE c2.environment_id = config_changes.environment_id) AND key_hash IS NOT NULL`,
  );
  expect(change.hashes).toEqual(expect.arrayContaining([hashToken(keys[0].apiKey), hashToken(rotated.apiKey)]));
  const audits: Array<{ action: string; details: Record<string, unknown> }> = await db.query(`SELECT action, details FROM audit_events WHERE target_id = $1 ORDER BY created_at`, [connection.id]);
  expect(audits.map((a) => a.action)).toEqual(['connection.create', 'connection.rotateKey', 'connection.rotateKey', 'connection.delete']);
  expect(audits[1].details).toEqual({ environment: 'production', graceSeconds: 60, previousKeyExpiresAt: (graced.previousKeyExpiresAt as Date).toISOString() });
  expect(audits[2].details).toEqual({ environment: 'production', graceSeconds: 0, previousKeyExpiresAt: null });
  expect(audits[3].details).toEqual({ name: 'short-lived', serviceId });
});

it('locks no connection of an organization the actor cannot read: NOT_FOUND, as for an unknown one', async () => {
  const { connection } = await connections.create(developer, { projectId: tenant.projectId, serviceId, name: 'not-yours' });
  const outsider = new Actor(developer.userId, developer.email, false, new Map());
  for (const id of [connection.id, '00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
    await expect(connections.delete(outsider, id)).rejects.toMatchObject({ message: `connection "${id}" was not found`, extensions: { code: 'NOT_FOUND' } });
    await expect(connections.rotateKey(outsider, id, 'production')).rejects.toMatchObject({ extensions: { code: 'NOT_FOUND' } });
  }
  const [{ n }] = await db.query('SELECT count(*)::int AS n FROM connection_keys WHERE connection_id = $1', [connection.id]);
  expect(n).toBe(2);
});

it('writes nothing for a refused creation: no connection, no audit event, no revision', async () => {
  const before = await revisions();
  const [{ n: auditsBefore }] = await db.query(`SELECT count(*)::int AS n FROM audit_events`);
  await expect(connections.create(developer, { projectId: tenant.projectId, serviceId, name: 'counted' })).rejects.toMatchObject({ extensions: { code: 'CONFLICT' } });
  await expect(connections.create(developer, { projectId: tenant.projectId, serviceId: '00000000-0000-4000-8000-000000000000', name: 'nowhere' })).rejects.toMatchObject({
    message: 'GenAI service "00000000-0000-4000-8000-000000000000" was not found',
    extensions: { code: 'NOT_FOUND' },
  });
  await expect(connections.create(developer, { projectId: tenant.projectId, serviceId: 'not-a-uuid', name: 'nowhere' })).rejects.toMatchObject({ extensions: { code: 'NOT_FOUND' } });
  expect(await revisions()).toEqual(before);
  const [{ n: auditsAfter }] = await db.query(`SELECT count(*)::int AS n FROM audit_events`);
  expect(auditsAfter).toBe(auditsBefore);
  const [{ n: named }] = await db.query(`SELECT count(*)::int AS n FROM connections WHERE name IN ('counted', 'nowhere')`);
  expect(named).toBe(1);
  expect(announced).toEqual([]);
});
