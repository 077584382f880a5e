// The Tokengate side of the benchmark, as an operator runs it: `tokengate control-plane` and
// `tokengate data-plane` as separate processes (built CLI), provisioned through GraphQL only.
// The control plane uses a scratch database that the benchmark creates, marks, and recreates on the
// next run; a database of that name it did not create is never touched.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import type { ChildProcessGroup, ManagedChild } from './child-processes';

export const BENCH_ENVIRONMENT = 'bench';
export const BENCH_ORGANIZATION = 'bench';
const DATABASE_MARKER = 'tokengate benchmark scratch database (bench/); recreated by every run';
const START_TIMEOUT_MS = 60_000;

export interface TokengateStackOptions {
  /** Tree whose built CLI (`dist/cli/main.js`) runs: this checkout, or a baseline revision built beside it. */
  readonly repositoryRoot: string;
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /** TOKENGATE_REDIS_NAMESPACE of the control plane and the proxies; absent = Tokengate's default (`tokengate`). */
  readonly redisNamespace?: string;
  /** Appended to the process names ("tokengate data-plane #1 (baseline 9bb431f)") when two stacks run side by side. */
  readonly label?: string;
  readonly processes: ChildProcessGroup;
  readonly log: (message: string) => void;
}

/** `configureServiceEnvironment`'s rateLimit input; absent = unlimited. */
export interface RateLimitInput {
  readonly timeUnit: 'MINUTE' | 'HOUR' | 'DAY';
  readonly maxPromptTokens?: number;
  readonly maxCompletionTokens?: number;
  readonly maxTotalTokens?: number;
}

export interface ServiceRegistration {
  /** Unique per service, e.g. "/openai". */
  readonly contextPath: string;
  readonly serviceUrl: string;
  /** The provider credential Tokengate injects upstream. */
  readonly providerApiKey: string;
  readonly rateLimit?: RateLimitInput;
  /** The default quota of each connection (issue 13); absent = none. */
  readonly connectionQuota?: RateLimitInput;
}

/** One rate-limit window of a service as the control plane recorded it. */
export interface UsageWindow {
  readonly windowUnit: string;
  /** Epoch milliseconds. */
  readonly windowStart: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly totalTokens: number;
  readonly requests: number;
}

export interface TokengateProxy {
  readonly url: string;
  /** Its name in the ChildProcessGroup. */
  readonly processName: string;
  /** The `tokengate data-plane` process (its pid, its log lines on stdout). */
  readonly child: ManagedChild;
}

interface GraphQLBody<T> {
  data?: T | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

/** Recreates the bench database; refuses when a database of that name exists without the benchmark's marker. */
export async function recreateBenchDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`BENCH_DATABASE_URL: database name "${name}" must match [a-z_][a-z0-9_]*`);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const existing = await client.query<{ comment: string | null }>(`SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`, [name]);
    if (existing.rows.length > 0) {
      if (existing.rows[0].comment !== DATABASE_MARKER) {
        throw new Error(`database "${name}" exists and was not created by the benchmark; it is left alone. Set BENCH_DATABASE_URL to a database name of its own.`);
      }
      await client.query(`DROP DATABASE "${name}" WITH (FORCE)`);
    }
    await client.query(`CREATE DATABASE "${name}"`);
    await client.query(`COMMENT ON DATABASE "${name}" IS '${DATABASE_MARKER}'`);
  } finally {
    await client.end();
  }
}

export function parseLogLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/**
 * Child env without the caller's TOKENGATE_* settings, which would change what is measured; with
 * glibc's malloc capped at two arenas unless the caller set MALLOC_ARENA_MAX, as the image and
 * `npm start` run Tokengate (docs/adr/018-malloc-arenas.md).
 */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('TOKENGATE_') && name !== 'DATABASE_URL' && name !== 'REDIS_URL') env[name] = value;
  return { MALLOC_ARENA_MAX: '2', ...env, NODE_ENV: 'production', ...extra };
}

function redisNamespaceEnv(namespace: string | undefined): Record<string, string> {
  return namespace === undefined ? {} : { TOKENGATE_REDIS_NAMESPACE: namespace };
}

/** The environment of a `tokengate control-plane` child listening on free loopback ports. */
export function controlPlaneEnv(settings: { databaseUrl: string; redisUrl: string; adminToken: string; dataPlaneToken: string; redisNamespace?: string }): NodeJS.ProcessEnv {
  return cleanEnv({
    DATABASE_URL: settings.databaseUrl,
    REDIS_URL: settings.redisUrl,
    TOKENGATE_ADMIN_TOKEN: settings.adminToken,
    TOKENGATE_SECRET_KEY: randomBytes(32).toString('base64'),
    TOKENGATE_DATAPLANE_TOKEN: settings.dataPlaneToken,
    TOKENGATE_HOST: '127.0.0.1',
    TOKENGATE_PORT: '0',
    TOKENGATE_GRPC_HOST: '127.0.0.1',
    TOKENGATE_GRPC_PORT: '0',
    TOKENGATE_LOG_LEVEL: 'info',
    ...redisNamespaceEnv(settings.redisNamespace),
  });
}

function labelled(name: string, label: string | undefined): string {
  return label === undefined ? name : `${name} (${label})`;
}

/** BENCH_PROXY_CPU_PROF=<dir>: node flags that make a proxy write a V8 CPU profile there when it exits. */
export function proxyProfileFlags(): string[] {
  return process.env.BENCH_PROXY_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROXY_CPU_PROF}`] : [];
}

export class TokengateStack {
  private readonly proxies = new Map<string, Promise<TokengateProxy>>();
  /** Set by provision(), before the stack is handed out. */
  private tenant = { organizationId: '', projectId: '' };

  private constructor(
    private readonly options: TokengateStackOptions,
    private readonly graphqlUrl: string,
    private readonly grpcAddress: string,
    private readonly adminToken: string,
    private readonly dataPlaneToken: string,
  ) {}

  /** Starts the control plane on a freshly created bench database and provisions environment, organization and project. */
  static async start(options: TokengateStackOptions): Promise<TokengateStack> {
    await recreateBenchDatabase(options.databaseUrl);
    const adminToken = `tgp_admin_${randomBytes(16).toString('hex')}`;
    const dataPlaneToken = `tgd_${randomBytes(16).toString('hex')}`;
    const controlPlane = options.processes.start({
      name: labelled('tokengate control plane', options.label),
      command: process.execPath,
      args: [path.join(options.repositoryRoot, 'dist/cli/main.js'), 'control-plane'],
      cwd: options.repositoryRoot,
      env: controlPlaneEnv({ databaseUrl: options.databaseUrl, redisUrl: options.redisUrl, adminToken, dataPlaneToken, redisNamespace: options.redisNamespace }),
    });
    const { graphql, grpc } = await controlPlane.waitForLine((line) => {
      const entry = parseLogLine(line);
      return entry?.msg === 'control plane listening' && typeof entry.graphql === 'string' && typeof entry.grpc === 'string'
        ? { graphql: entry.graphql, grpc: entry.grpc }
        : undefined;
    }, START_TIMEOUT_MS);
    options.log(`${controlPlane.name}: ${graphql} (gRPC ${grpc})`);
    const stack = new TokengateStack(options, graphql, grpc, adminToken, dataPlaneToken);
    await stack.provision();
    return stack;
  }

  /** Registers an OpenAI service pointing at `serviceUrl` and returns a fresh consumer key for it. */
  async registerService(registration: ServiceRegistration): Promise<{ serviceId: string; consumerKey: string; endpoint: (proxyUrl: string) => string }> {
    const { registerGenAIService } = await this.gql<{ registerGenAIService: { id: string; contextPath: string } }>(
      `mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id contextPath } }`,
      {
        i: {
          organizationId: this.tenant.organizationId,
          scope: 'ORGANIZATION',
          provider: 'OPENAI',
          name: `Benchmark upstream ${registration.contextPath}`,
          contextPath: registration.contextPath,
          serviceUrl: registration.serviceUrl,
          summary: 'Fake OpenAI-compatible upstream of the benchmark',
          environments: [{ environment: BENCH_ENVIRONMENT, backendSecurity: { value: registration.providerApiKey }, ...(registration.rateLimit ? { rateLimit: registration.rateLimit } : {}), ...(registration.connectionQuota ? { connectionQuota: registration.connectionQuota } : {}) }],
        },
      },
    );
    const { createConnection } = await this.gql<{ createConnection: { keys: Array<{ environment: string; apiKey: string }> } }>(
      `mutation($i: CreateConnectionInput!) { createConnection(input: $i) { keys { environment apiKey } } }`,
      { i: { projectId: this.tenant.projectId, serviceId: registerGenAIService.id, name: `bench${registration.contextPath.replace(/\//g, '-')}` } },
    );
    const key = createConnection.keys.find((k) => k.environment === BENCH_ENVIRONMENT);
    if (key === undefined) throw new Error(`createConnection issued no key for environment ${BENCH_ENVIRONMENT}`);
    const contextPath = registerGenAIService.contextPath;
    return { serviceId: registerGenAIService.id, consumerKey: key.apiKey, endpoint: (proxyUrl) => `${proxyUrl}/${BENCH_ORGANIZATION}${contextPath}` };
  }

  /** Tokens the proxies reported to the control plane for a service in the bench environment, per window (GraphQL `usage`). */
  async usage(serviceId: string): Promise<UsageWindow[]> {
    const { genAIService } = await this.gql<{ genAIService: { usage: Array<Omit<UsageWindow, 'windowStart'> & { windowStart: string }> } }>(
      `query($id: ID!, $environment: String) { genAIService(id: $id) { usage(environment: $environment, limit: 1000) { windowUnit windowStart promptTokens completionTokens totalTokens requests } } }`,
      { id: serviceId, environment: BENCH_ENVIRONMENT },
    );
    return genAIService.usage.map((w) => ({ ...w, windowStart: Date.parse(w.windowStart) }));
  }

  /**
   * A `tokengate data-plane` for the bench environment started with `extraFlags` (one process per
   * distinct flag set, shared by the targets that ask for the same flags).
   */
  proxy(extraFlags: readonly string[] = []): Promise<TokengateProxy> {
    const key = extraFlags.join('\u0000');
    let url = this.proxies.get(key);
    if (url === undefined) {
      url = this.startProxy(extraFlags, this.proxies.size + 1);
      this.proxies.set(key, url);
    }
    return url;
  }

  private async startProxy(extraFlags: readonly string[], index: number): Promise<TokengateProxy> {
    const proxy: ManagedChild = this.options.processes.start({
      name: labelled(`tokengate data-plane #${index}`, this.options.label),
      command: process.execPath,
      args: [
        ...proxyProfileFlags(),
        path.join(this.options.repositoryRoot, 'dist/cli/main.js'),
        'data-plane',
        '--environment', BENCH_ENVIRONMENT,
        '--host', '127.0.0.1',
        '--port', '0',
        '--control-plane', this.grpcAddress,
        '--proxy-id', `bench-${index}`,
        '--log-level', 'info',
        '--shutdown-grace-ms', '1000',
        ...extraFlags,
      ],
      cwd: this.options.repositoryRoot,
      env: cleanEnv({ TOKENGATE_DATAPLANE_TOKEN: this.dataPlaneToken, REDIS_URL: this.options.redisUrl, ...redisNamespaceEnv(this.options.redisNamespace) }),
    });
    const url = await proxy.waitForLine((line) => {
      const entry = parseLogLine(line);
      return entry?.msg === 'data-plane proxy listening' && typeof entry.url === 'string' ? entry.url : undefined;
    }, START_TIMEOUT_MS);
    this.options.log(`${proxy.name}: ${url}${extraFlags.length ? ` (${extraFlags.join(' ')})` : ''}`);
    return { url, processName: proxy.name, child: proxy };
  }

  private async provision(): Promise<void> {
    await this.gql(`mutation($i: CreateEnvironmentInput!) { createEnvironment(input: $i) { id } }`, {
      i: { handle: BENCH_ENVIRONMENT, name: 'Benchmark' },
    });
    const { createOrganization } = await this.gql<{ createOrganization: { id: string } }>(
      `mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }`,
      { i: { handle: BENCH_ORGANIZATION, name: 'Benchmark' } },
    );
    const { createProject } = await this.gql<{ createProject: { id: string } }>(
      `mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }`,
      { i: { organizationId: createOrganization.id, handle: 'bench', name: 'Benchmark' } },
    );
    this.tenant = { organizationId: createOrganization.id, projectId: createProject.id };
  }

  private async gql<T>(query: string, variables: Record<string, unknown>): Promise<T> {
    const response = await fetch(this.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.adminToken}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as GraphQLBody<T>;
    if (body.errors?.length || !body.data) throw new Error(`GraphQL ${response.status}: ${JSON.stringify(body.errors ?? body)}`);
    return body.data;
  }
}
