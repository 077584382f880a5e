// The rollout worker's reads and writes of deployment rows, on real PostgreSQL: begin() reads a
// deployment and starts it in one statement; the status moves asked for in one turn leave as one
// statement, each caller getting its own row, and a move of a superseded revision changes nothing.
import { DataSource } from 'typeorm';
import { createDataSource } from '../../control-plane/src/db/data-source';
import { DeploymentStatus } from '../../control-plane/src/deployment/deployment-status';
import { DeploymentStore } from '../../control-plane/src/deployment/deployment-store';
import { seedEnvironments, seedTenant, startTestControlPlane, type TestControlPlane } from '../support/control-plane-harness';

let cp: TestControlPlane;
let db: DataSource;
let store: DeploymentStore;
/** Every statement the store sent, in order. */
let statements: string[];
const services: string[] = [];
let production: { id: string; revision: number };

beforeAll(async () => {
  // No rollout worker: the deployments stay where this test puts them.
  cp = await startTestControlPlane();
  await seedEnvironments(cp);
  const tenant = await seedTenant(cp, 'moves');
  for (const name of ['alpha', 'beta', 'gamma']) {
    const { registerGenAIService } = await cp.ok<{ registerGenAIService: { id: string } }>(
      'mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id } }',
      { i: { organizationId: tenant.organizationId, scope: 'ORGANIZATION', provider: 'OPENAI', name, contextPath: `/${name}`, serviceUrl: 'http://127.0.0.1:9/v1', environments: [{ environment: 'production', backendSecurity: { value: 'sk-upstream-0123456789abcdef' } }] } },
      tenant.tokens.engineer,
    );
    services.push(registerGenAIService.id);
  }
  db = createDataSource(cp.databaseUrl, 2);
  await db.initialize();
  const query = db.query.bind(db);
  statements = [];
  db.query = ((sql: string, parameters?: unknown[]) => {
    statements.push(sql);
    return query(sql, parameters);
  }) as DataSource['query'];
  store = new DeploymentStore(db);
});

afterAll(async () => {
  await db?.destroy();
  await cp?.stop();
});

beforeEach(async () => {
  // Every service's production deployment PENDING at the environment's current revision.
  const [environment] = await db.query(`SELECT id, revision FROM environments WHERE handle = 'production'`);
  production = { id: environment.id, revision: Number(environment.revision) };
  await db.query(`UPDATE deployments SET status = 'PENDING', message = '', revision = $2 WHERE environment_id = $1`, [production.id, production.revision]);
  statements.length = 0;
});

it('moves asked for in one turn leave as one statement, and each caller gets its own deployment', async () => {
  const [alpha, beta, gamma] = services;
  const { revision } = production;
  const moved = await Promise.all([
    store.transition(alpha, production.id, revision, DeploymentStatus.DEPLOYED, 'applied by 2 proxies'),
    store.transition(beta, production.id, revision, DeploymentStatus.FAILED, 'proxy p1 refused it'),
    // A superseded revision: nothing to move.
    store.transition(gamma, production.id, revision - 1, DeploymentStatus.DEPLOYED, 'stale'),
  ]);
  expect(statements).toHaveLength(1);
  expect(moved[0]).toMatchObject({ serviceId: alpha, environment: 'production', revision, status: 'DEPLOYED', message: 'applied by 2 proxies' });
  expect(moved[1]).toMatchObject({ serviceId: beta, environment: 'production', revision, status: 'FAILED', message: 'proxy p1 refused it' });
  expect(moved[2]).toBeNull();
  const rows: Array<{ service_id: string; status: string }> = await db.query('SELECT service_id, status FROM deployments WHERE environment_id = $1', [production.id]);
  expect(Object.fromEntries(rows.map((r) => [r.service_id, r.status]))).toEqual({ [alpha]: 'DEPLOYED', [beta]: 'FAILED', [gamma]: 'PENDING' });
});

it('two moves of one deployment in one turn are applied in the order asked, one statement each', async () => {
  const [alpha] = services;
  const { revision } = production;
  const [first, second, again] = await Promise.all([
    store.transition(alpha, production.id, revision, DeploymentStatus.IN_PROGRESS, 'rolling out'),
    store.transition(alpha, production.id, revision, DeploymentStatus.DEPLOYED, 'applied'),
    // Already there: changes nothing.
    store.transition(alpha, production.id, revision, DeploymentStatus.DEPLOYED, 'applied'),
  ]);
  expect(statements).toHaveLength(3);
  expect(first).toMatchObject({ status: 'IN_PROGRESS', message: 'rolling out' });
  expect(second).toMatchObject({ status: 'DEPLOYED', message: 'applied' });
  expect(again).toBeNull();
});

it('begin() starts a PENDING deployment and reports what it found, in one statement', async () => {
  const [alpha] = services;
  const { revision } = production;
  const start = await store.begin(alpha, production.id, revision, `rolling out revision ${revision}`);
  expect(statements).toHaveLength(1);
  expect(start.before).toMatchObject({ serviceId: alpha, revision, status: 'PENDING' });
  expect(start.started).toMatchObject({ serviceId: alpha, revision, status: 'IN_PROGRESS', message: `rolling out revision ${revision}` });
  // A retried job finds it IN_PROGRESS already: nothing to announce again.
  expect(await store.begin(alpha, production.id, revision, `rolling out revision ${revision}`)).toMatchObject({ before: { status: 'IN_PROGRESS' }, started: null });
});

it('begin() leaves a finished or superseded deployment as it is', async () => {
  const [alpha, beta] = services;
  const { revision } = production;
  await store.transition(alpha, production.id, revision, DeploymentStatus.DEPLOYED, 'applied');
  expect(await store.begin(alpha, production.id, revision, 'rolling out')).toMatchObject({ before: { status: 'DEPLOYED', message: 'applied' }, started: null });
  // The job of an older revision: the deployment has moved on.
  expect(await store.begin(beta, production.id, revision - 1, 'rolling out')).toMatchObject({ before: { revision, status: 'PENDING' }, started: null });
  const [row] = await db.query('SELECT status FROM deployments WHERE service_id = $1 AND environment_id = $2', [beta, production.id]);
  expect(row.status).toBe('PENDING');
});
