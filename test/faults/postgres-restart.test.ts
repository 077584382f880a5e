// PostgreSQL stopped, crashed and restarted under a running control plane (a private cluster, so the
// shared server stays up): GraphQL fails cleanly while the database is away, works again when it
// returns without restarting the control plane, and a mutation cut by a crash leaves no row behind.
import { Client } from 'pg';
import { type GraphQLResponse, seedEnvironments, seedTenant, registerOpenAIService, startTestControlPlane, type Tenant, type TestControlPlane } from '../support/control-plane-harness';
import { PrivatePostgres } from '../support/postgres-server';
import { waitFor, withinBound } from '../support/wait';

let pg: PrivatePostgres;
let cp: TestControlPlane;
let tenant: Tenant;
let serviceId: string;

beforeAll(async () => {
  pg = await PrivatePostgres.start();
  cp = await startTestControlPlane({}, undefined, { database: await pg.migratedDatabase() });
  await seedEnvironments(cp);
  tenant = await seedTenant(cp, 'acme');
  serviceId = await registerOpenAIService(cp, tenant, 'http://127.0.0.1:9/v1');
});
afterAll(async () => {
  // The control plane first (its pool closes without waiting for a server that may be down).
  await cp?.stop();
  pg?.dispose();
});

/** A one-off session on the private server, for looking at rows and locks from outside the control plane. */
async function withSession<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: cp.databaseUrl });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** What a GraphQL client sees while the database is away: a typed error, no data, no driver detail. */
function expectCleanDatabaseError(response: GraphQLResponse, field: string): void {
  expect(response.errors?.length).toBeGreaterThan(0);
  expect(response.data?.[field] ?? null).toBeNull();
  const [error] = response.errors!;
  // A retryable 503, saying so; the driver's text is logged, never returned.
  expect(response.status).toBe(503);
  expect(error.extensions?.code).toBe('SERVICE_UNAVAILABLE');
  expect(error.message).toBe('the database is unavailable; retry shortly');
  for (const e of response.errors!) {
    expect(e.message).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|connect|terminat|postgres|shutdown|sql/i);
    expect(Object.keys(e.extensions ?? {})).toEqual(['code']);
  }
}

const CREATE_PROJECT = 'mutation($i: CreateProjectInput!) { createProject(input: $i) { id handle } }';
const CONNECT = 'mutation($i: CreateConnectionInput!) { createConnection(input: $i) { connection { id name } keys { environment apiKey } } }';

it('answers with a clean error while PostgreSQL is down, and serves queries and mutations again once it is back', async () => {
  await cp.ok('{ environments { handle } }');
  await pg.stop('fast');

  const mutation = await withinBound(cp.gql(CREATE_PROJECT, { i: { organizationId: tenant.organizationId, handle: 'during-outage', name: 'During outage' } }), 'a mutation during the outage');
  console.log(`mutation while PostgreSQL is down: HTTP ${mutation.status} ${JSON.stringify(mutation.errors)}`);
  expectCleanDatabaseError(mutation, 'createProject');
  const query = await withinBound(cp.gql('{ environments { handle } }'), 'a query during the outage');
  expectCleanDatabaseError(query, 'environments');
  const health = await fetch(cp.graphqlUrl.replace(/\/graphql$/, '/healthz'));
  expect(health.status).toBe(503);

  await pg.start();
  // The same control plane (never restarted) reconnects on its own.
  await waitFor(async () => !(await cp.gql('{ environments { handle } }')).errors, 'GraphQL queries to work again', 30_000);
  const { createProject } = await cp.ok<{ createProject: { id: string; handle: string } }>(CREATE_PROJECT, { i: { organizationId: tenant.organizationId, handle: 'after-outage', name: 'After outage' } });
  expect(createProject.handle).toBe('after-outage');
  const { projects } = await cp.ok<{ projects: Array<{ handle: string }> }>('query($o: ID!) { projects(organizationId: $o) { handle } }', { o: tenant.organizationId });
  expect(projects.map((p) => p.handle).sort()).toEqual(['after-outage', 'batch', 'web']);
  expect((await fetch(cp.graphqlUrl.replace(/\/graphql$/, '/healthz'))).status).toBe(200);
});

interface Footprint {
  connections: number;
  keys: number;
  audits: number;
}

async function footprint(name: string): Promise<Footprint> {
  return withSession(async (client) => {
    const [row] = (
      await client.query<{ connections: string; keys: string; audits: string }>(
        `SELECT (SELECT count(*) FROM connections WHERE name = $1) AS connections,
                (SELECT count(*) FROM connection_keys k JOIN connections c ON c.id = k.connection_id WHERE c.name = $1) AS keys,
                (SELECT count(*) FROM audit_events WHERE action = 'connection.create' AND details->>'name' = $1) AS audits`,
        [name],
      )
    ).rows;
    return { connections: Number(row.connections), keys: Number(row.keys), audits: Number(row.audits) };
  });
}

it('a createConnection cut by a crash after writing its connection and keys leaves no row behind, and succeeds after recovery', async () => {
  const name = 'crash-probe';
  const input = { i: { projectId: tenant.projectId, serviceId, name } };
  if (!pg.running) await pg.start(); // only after a failure of the previous test
  expect(await footprint(name)).toEqual({ connections: 0, keys: 0, audits: 0 });

  // createConnection writes the connection and its keys, then its audit event (sent with the revision
  // bump and the COMMIT), in one transaction: holding the audit table makes it wait right after the
  // earlier inserts.
  const locker = new Client({ connectionString: cp.databaseUrl });
  locker.on('error', () => undefined); // the crash ends this session too
  await locker.connect();
  let response: Promise<GraphQLResponse> | undefined;
  try {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE');
    response = cp.gql(CONNECT, input, tenant.tokens.developer);
    const blocked = await waitFor(
      () =>
        withSession(async (client) => {
          const { rows } = await client.query<{ pid: number }>(
            `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE 'INSERT INTO audit_events%'`,
          );
          return rows[0];
        }),
      'the mutation to wait on the audit table',
    );
    // Proof that the blocked transaction already wrote the connection and its keys.
    const written = await withSession(async (client) => {
      const { rows } = await client.query<{ relname: string }>(
        `SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE l.pid = $1 AND l.mode = 'RowExclusiveLock' AND l.granted`,
        [blocked.pid],
      );
      return rows.map((r) => r.relname);
    });
    expect(written).toEqual(expect.arrayContaining(['connections', 'connection_keys']));

    await pg.stop('immediate');
  } finally {
    await locker.end().catch(() => undefined);
  }

  const cut = await withinBound(response!, 'the mutation cut by the crash');
  console.log(`mutation cut by the crash: HTTP ${cut.status} ${JSON.stringify(cut.errors)}`);
  expectCleanDatabaseError(cut, 'createConnection');

  await pg.start(); // crash recovery replays the WAL; the open transaction never committed
  expect(await footprint(name)).toEqual({ connections: 0, keys: 0, audits: 0 });

  // The control plane reconnects on its own; then the very same mutation goes through, once.
  await waitFor(async () => !(await cp.gql('{ environments { handle } }')).errors, 'GraphQL to work again', 30_000);
  const { createConnection: retried } = await cp.ok<{ createConnection: { connection: { name: string }; keys: Array<{ environment: string }> } }>(CONNECT, input, tenant.tokens.developer);
  expect(retried.connection.name).toBe(name);
  expect(retried.keys.map((k) => k.environment).sort()).toEqual(['development', 'production']);
  expect(await footprint(name)).toEqual({ connections: 1, keys: 2, audits: 1 });
});
