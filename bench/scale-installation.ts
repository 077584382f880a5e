// The installation of the scale benchmark: a real `tokengate control plane` process on a scratch
// database, the few things that are few (environments, organizations, projects, services, a
// developer) made through GraphQL, and the many (connections and their keys) inserted in
// PostgreSQL in batches, row for row what createConnection writes (connection, one key per
// environment hashed as the control plane hashes it, audit event, revision bump, PENDING deployment).
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { ChildProcessGroup, ManagedChild } from './child-processes';
import { controlPlaneEnv, parseLogLine } from './tokengate-stack';
import { type IssuedKey, issueConsumerKey } from './scale-proxy';

export const SCALE_ENVIRONMENTS = ['development', 'production'] as const;

export interface ControlPlaneProcess {
  readonly child: ManagedChild;
  readonly graphqlUrl: string;
  readonly metricsUrl: string;
  readonly grpcAddress: string;
  readonly adminToken: string;
  readonly dataPlaneToken: string;
  readonly redisNamespace: string;
  /** Its environment, for other processes of the same control plane (the rollout worker). */
  readonly env: NodeJS.ProcessEnv;
}

interface GraphQLBody<T> {
  data?: T | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

export class GraphQLClient {
  constructor(
    private readonly url: string,
    private readonly token: string,
  ) {}

  /**
   * `retries`: for queries only (a mutation is never re-sent: it may have been applied). A busy control
   * plane can let a kept-alive connection close under a request ("fetch failed"); a query is asked again.
   */
  async request<T>(query: string, variables: Record<string, unknown> = {}, retries = 0): Promise<T> {
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
        body: JSON.stringify({ query, variables }),
      });
    } catch (error) {
      if (retries > 0) return this.request(query, variables, retries - 1);
      const cause = (error as { cause?: { message?: string; code?: string } }).cause;
      throw new Error(`${(error as Error).message}${cause ? ` (${cause.code ?? ''} ${cause.message ?? ''})` : ''}`);
    }
    const body = (await response.json()) as GraphQLBody<T>;
    if (body.errors?.length || !body.data) throw new Error(`GraphQL ${response.status}: ${JSON.stringify(body.errors ?? body)}`);
    return body.data;
  }
}

/** `nodeArgs`: flags for node itself (e.g. `--cpu-prof`). */
export async function startControlPlane(processes: ChildProcessGroup, repositoryRoot: string, databaseUrl: string, redisUrl: string, nodeArgs: readonly string[] = []): Promise<ControlPlaneProcess> {
  const adminToken = `tgp_admin_${randomBytes(16).toString('hex')}`;
  const dataPlaneToken = `tgd_${randomBytes(16).toString('hex')}`;
  const redisNamespace = `tokengate-bench-scale-${randomBytes(3).toString('hex')}`;
  const env = controlPlaneEnv({ databaseUrl, redisUrl, adminToken, dataPlaneToken, redisNamespace });
  const child = processes.start({
    name: 'tokengate control plane',
    command: process.execPath,
    args: [...nodeArgs, path.join(repositoryRoot, 'dist/cli/main.js'), 'control-plane'],
    cwd: repositoryRoot,
    env,
  });
  const { graphql, grpc } = await child.waitForLine((line) => {
    const entry = parseLogLine(line);
    return entry?.msg === 'control plane listening' && typeof entry.graphql === 'string' && typeof entry.grpc === 'string' ? { graphql: entry.graphql, grpc: entry.grpc } : undefined;
  }, 60_000);
  return { child, graphqlUrl: graphql, metricsUrl: graphql.replace(/\/graphql$/, '/metrics'), grpcAddress: grpc, adminToken, dataPlaneToken, redisNamespace, env };
}

/** VmRSS of a process in bytes (Linux /proc); null when it is gone. */
export function residentBytes(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** The control plane's V8 heap in use, from its /metrics (prom-client default metrics). */
export async function controlPlaneHeapUsed(metricsUrl: string): Promise<{ used: number | null; afterMajorGc: number | null }> {
  try {
    const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(5000) })).text();
    const read = (name: string) => {
      const match = new RegExp(`^${name}\\s+(\\S+)$`, 'm').exec(text);
      return match ? Number(match[1]) : null;
    };
    return { used: read('tokengate_control_plane_nodejs_heap_size_used_bytes'), afterMajorGc: read('tokengate_control_plane_heap_used_after_major_gc_bytes') };
  } catch {
    return { used: null, afterMajorGc: null };
  }
}

export interface ScaleService {
  readonly id: string;
  readonly organizationId: string;
  readonly organizationHandle: string;
  readonly contextPath: string;
  /** The projects of its organization (connections are spread over them). */
  readonly projectIds: readonly string[];
}

export interface Installation {
  readonly environments: ReadonlyArray<{ id: string; handle: string }>;
  readonly services: readonly ScaleService[];
  readonly developer: { readonly userId: string; readonly token: string };
}

export interface InstallationShape {
  readonly organizations: number;
  readonly projectsPerOrganization: number;
  readonly services: number;
  readonly upstreamUrl: string;
  readonly upstreamApiKey: string;
}

/** `work` on every item, at most `concurrency` at a time; the results in the items' order. */
export async function inParallel<T, R>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index], index);
      }
    }),
  );
  return results;
}

/** Environments, organizations, projects, services (configured in both environments) and a DEVELOPER member of every organization, all through GraphQL. */
export async function seedThroughGraphQL(admin: GraphQLClient, shape: InstallationShape, log: (message: string) => void): Promise<Installation> {
  for (const handle of SCALE_ENVIRONMENTS) await admin.request(`mutation($i: CreateEnvironmentInput!) { createEnvironment(input: $i) { id } }`, { i: { handle, name: handle } });
  const { environments } = await admin.request<{ environments: Array<{ id: string; handle: string }> }>('{ environments { id handle } }');
  const ordered = SCALE_ENVIRONMENTS.map((handle) => environments.find((e) => e.handle === handle)!);
  const servicesPerOrganization = Math.ceil(shape.services / shape.organizations);
  const started = performance.now();
  let developerUserId = '';
  const organizations = await inParallel(
    Array.from({ length: shape.organizations }, (_, i) => i),
    4,
    async (o) => {
      const handle = `org-${String(o).padStart(3, '0')}`;
      const { createOrganization } = await admin.request<{ createOrganization: { id: string } }>(`mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }`, { i: { handle, name: `Organization ${o}` } });
      const projectIds: string[] = [];
      for (let p = 0; p < shape.projectsPerOrganization; p++) {
        const { createProject } = await admin.request<{ createProject: { id: string } }>(`mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }`, {
          i: { organizationId: createOrganization.id, handle: `app-${p}`, name: `App ${p}` },
        });
        projectIds.push(createProject.id);
      }
      const { addMember } = await admin.request<{ addMember: { user: { id: string } } }>(`mutation($o: ID!) { addMember(email: "developer@scale.bench", name: "Scale developer", organizationId: $o, role: DEVELOPER) { user { id } } }`, {
        o: createOrganization.id,
      });
      developerUserId = addMember.user.id;
      const services: ScaleService[] = [];
      for (let s = 0; s < servicesPerOrganization && o * servicesPerOrganization + s < shape.services; s++) {
        const contextPath = `/svc-${s}`;
        const { registerGenAIService } = await admin.request<{ registerGenAIService: { id: string } }>(`mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id } }`, {
          i: {
            organizationId: createOrganization.id,
            scope: 'ORGANIZATION',
            provider: 'OPENAI',
            name: `Service ${s} of ${handle}`,
            contextPath,
            serviceUrl: shape.upstreamUrl,
            summary: 'Fake OpenAI-compatible upstream of the scale benchmark',
            environments: SCALE_ENVIRONMENTS.map((environment) => ({ environment, backendSecurity: { value: shape.upstreamApiKey } })),
          },
        });
        services.push({ id: registerGenAIService.id, organizationId: createOrganization.id, organizationHandle: handle, contextPath, projectIds });
      }
      if ((o + 1) % 25 === 0) log(`  ${o + 1}/${shape.organizations} organizations seeded (${Math.round((performance.now() - started) / 1000)} s)`);
      return services;
    },
  );
  const { createApiToken } = await admin.request<{ createApiToken: { token: string } }>(`mutation($u: ID!) { createApiToken(input: {name: "scale benchmark", userId: $u}) { token } }`, { u: developerUserId });
  return { environments: ordered, services: organizations.flat(), developer: { userId: developerUserId, token: createApiToken.token } };
}

/** One seeded connection whose keys are kept, to call the proxy with a key that came in bulk. */
export interface SeededSample {
  readonly service: ScaleService;
  readonly keys: Record<string, IssuedKey>;
}

/**
 * Inserts connections number `from` … `to - 1` (connection n: service n mod #services, name `bulk-n`),
 * `batchSize` per transaction. Each transaction is what that many createConnection calls write, with
 * one revision bump per environment for the whole batch (as bumpRevisions does per mutation).
 */
export async function bulkInsertConnections(databaseUrl: string, installation: Installation, from: number, to: number, batchSize: number): Promise<SeededSample | null> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  let sample: SeededSample | null = null;
  const environmentIds = installation.environments.map((e) => e.id);
  const environmentHandles = installation.environments.map((e) => e.handle);
  try {
    const changeLog = (await client.query<{ present: boolean }>(`SELECT to_regclass('config_changes') IS NOT NULL AS present`)).rows[0].present;
    for (let start = from; start < to; start += batchSize) {
      const end = Math.min(to, start + batchSize);
      const connections = { id: [] as string[], organization: [] as string[], project: [] as string[], service: [] as string[], name: [] as string[] };
      const keys = { connection: [] as string[], environment: [] as string[], hash: [] as string[], prefix: [] as string[] };
      const audit = { organization: [] as string[], target: [] as string[], details: [] as string[] };
      const lastNameOfService = new Map<string, string>();
      for (let n = start; n < end; n++) {
        const service = installation.services[n % installation.services.length];
        const projectId = service.projectIds[Math.floor(n / installation.services.length) % service.projectIds.length];
        const id = randomUUID();
        const name = `bulk-${n}`;
        connections.id.push(id);
        connections.organization.push(service.organizationId);
        connections.project.push(projectId);
        connections.service.push(service.id);
        connections.name.push(name);
        const issued: Record<string, IssuedKey> = {};
        for (const environment of installation.environments) {
          const key = issueConsumerKey();
          issued[environment.handle] = key;
          keys.connection.push(id);
          keys.environment.push(environment.id);
          keys.hash.push(key.keyHash);
          keys.prefix.push(key.keyPrefix);
        }
        if (sample === null) sample = { service, keys: issued };
        audit.organization.push(service.organizationId);
        audit.target.push(id);
        audit.details.push(JSON.stringify({ name, projectId, serviceId: service.id, environments: environmentHandles }));
        lastNameOfService.set(service.id, name);
      }
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO connections (id, organization_id, project_id, service_id, name, description, created_by)
         SELECT id, org, project, service, name, '', $6 FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[]) AS t(id, org, project, service, name)`,
        [connections.id, connections.organization, connections.project, connections.service, connections.name, installation.developer.userId],
      );
      await client.query(
        `INSERT INTO connection_keys (connection_id, environment_id, key_hash, key_prefix)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[])`,
        [keys.connection, keys.environment, keys.hash, keys.prefix],
      );
      await client.query(
        `INSERT INTO audit_events (actor_user_id, organization_id, action, target_type, target_id, details)
         SELECT $1, org, 'connection.create', 'Connection', target, details::jsonb FROM unnest($2::uuid[], $3::text[], $4::text[]) AS t(org, target, details)`,
        [installation.developer.userId, audit.organization, audit.target, audit.details],
      );
      // bumpRevisions(): one bump per environment, the service's deployment there PENDING at the new revision.
      const bumped = await client.query<{ id: string; revision: string }>('UPDATE environments SET revision = revision + 1 WHERE id = ANY($1::uuid[]) RETURNING id, revision', [environmentIds]);
      if (changeLog) {
        // Trees with the config change log (deltas): the keys this batch added, each in its environment's new revision.
        const revisionOf = new Map(bumped.rows.map((r) => [r.id, r.revision]));
        await client.query(
          `INSERT INTO config_changes (environment_id, revision, service_id, key_hash)
           SELECT environment, revision, NULL, hash FROM unnest($1::uuid[], $2::bigint[], $3::text[]) AS t(environment, revision, hash)`,
          [keys.environment, keys.environment.map((id) => revisionOf.get(id)!), keys.hash],
        );
      }
      const serviceIds = [...lastNameOfService.keys()];
      for (const environment of bumped.rows) {
        await client.query(
          `INSERT INTO deployments (service_id, environment_id, revision, status, message)
           SELECT service, $2, $3, 'PENDING', 'connection "' || name || '" created' FROM unnest($1::uuid[], $4::text[]) AS t(service, name)
           ON CONFLICT (service_id, environment_id)
           DO UPDATE SET revision = EXCLUDED.revision, status = EXCLUDED.status, message = EXCLUDED.message, updated_at = now()`,
          [serviceIds, environment.id, environment.revision, serviceIds.map((id) => lastNameOfService.get(id)!)],
        );
      }
      await client.query('COMMIT');
    }
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
  return sample;
}

export async function countConnections(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM connections');
    return Number(rows[0].n);
  } finally {
    await client.end();
  }
}

/** Deployments (one per service and environment, superseded in place) by status. */
export async function deploymentsByStatus(databaseUrl: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM deployments GROUP BY status');
    return Object.fromEntries(rows.map((row) => [row.status, Number(row.n)]));
  } finally {
    await client.end();
  }
}

/** Drops the scratch database (only one the benchmark marked as its own; see recreateBenchDatabase). */
export async function dropBenchDatabase(databaseUrl: string, marker: (comment: string | null) => boolean): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const existing = await client.query<{ comment: string | null }>(`SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`, [name]);
    if (existing.rows.length > 0 && marker(existing.rows[0].comment)) await client.query(`DROP DATABASE "${name.replace(/"/g, '')}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** Removes what the run's control plane and proxies left in Redis under its own namespace (rollout jobs, change channel). */
export async function clearRedisNamespace(redisUrl: string, namespace: string): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let removed = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) removed += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return removed;
}
