// Fair quotas across consumers, the control plane's side (issue 13): a service's default connection
// quota, shadow budgets and the stream cut-off per environment; a connection's own quota; the budgets
// that limit a connection with what their windows used (the proxies' counters in Redis); would-be
// refusals in usage. Real HTTP, PostgreSQL, Redis and gRPC, a delta peer standing in for a proxy.
import { createHash, randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { type ConfigMessage, connectDeltaPeer, type DeltaPeer } from '../config-stream/delta-peer';
import { type Tenant, type TestControlPlane, connectApp, seedEnvironments, seedTenant, startTestControlPlane } from '../support/control-plane-harness';
import { waitFor } from '../support/wait';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const LIMIT_FIELDS = 'timeUnit maxPromptTokens maxCompletionTokens maxTotalTokens enforce';
const CONFIGS = `environmentConfigs { environment rateLimit { ${LIMIT_FIELDS} } connectionQuota { ${LIMIT_FIELDS} } streamCutoff }`;
const REGISTER = `mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id ${CONFIGS} } }`;
const CONFIGURE = `mutation($s: ID!, $e: String!, $i: ConfigureServiceEnvironmentInput!) { configureServiceEnvironment(serviceId: $s, environment: $e, input: $i) { ${CONFIGS} } }`;
const SET_QUOTA = `mutation($c: ID!, $e: String!, $q: RateLimitInput) {
  setConnectionQuota(connectionId: $c, environment: $e, quota: $q) { id environments { environment quota { ${LIMIT_FIELDS} } quotaSource } } }`;
const ENVIRONMENTS = `query($c: ID!) { connection(id: $c) { environments { environment quota { ${LIMIT_FIELDS} } quotaSource } } }`;
const BUDGETS = `query($c: ID!, $e: String) { connection(id: $c) { budgets(environment: $e) { environment source dimension timeUnit limit used remaining resetsAt enforce } } }`;

interface Limit {
  timeUnit: string;
  maxPromptTokens: number | null;
  maxCompletionTokens: number | null;
  maxTotalTokens: number | null;
  enforce: boolean;
}
interface EnvironmentConfig {
  environment: string;
  rateLimit: Limit | null;
  connectionQuota: Limit | null;
  streamCutoff: boolean;
}
interface ConnectionEnvironment {
  environment: string;
  quota: Limit | null;
  quotaSource: string;
}
interface Budget {
  environment: string;
  source: string;
  dimension: string;
  timeUnit: string;
  limit: number;
  used: number;
  remaining: number;
  resetsAt: string;
  enforce: boolean;
}

const limit = (timeUnit: string, maxes: Partial<Omit<Limit, 'timeUnit'>> = {}): Limit => ({ timeUnit, maxPromptTokens: null, maxCompletionTokens: null, maxTotalTokens: null, enforce: true, ...maxes });
const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');
const LENGTH_MS: Record<string, number> = { MINUTE: 60_000, HOUR: 3_600_000, DAY: 86_400_000 };
const windowStart = (unit: string, nowMs = Date.now()) => Math.floor(nowMs / LENGTH_MS[unit]) * LENGTH_MS[unit];

let cp: TestControlPlane;
let acme: Tenant;
let globex: Tenant;
let redis: Redis;
let serviceId: string;
let app: { connectionId: string; key: string };
const peers: DeltaPeer[] = [];

async function sql<T = Record<string, unknown>>(query: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: cp.databaseUrl });
  await client.connect();
  try {
    return (await client.query(query, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Everything a refused mutation must leave as it was. */
async function writtenState(): Promise<string> {
  return JSON.stringify([
    await sql('SELECT * FROM connection_quota_overrides ORDER BY connection_id, environment_id'),
    await sql('SELECT * FROM service_environment_configs ORDER BY id'),
    await sql('SELECT count(*)::int AS n FROM audit_events'),
    await sql('SELECT count(*)::int AS n FROM config_changes'),
    await sql('SELECT handle, revision FROM environments ORDER BY handle'),
  ]);
}

async function environmentsOf(connectionId: string, token = acme.tokens.developer): Promise<ConnectionEnvironment[]> {
  return (await cp.ok<{ connection: { environments: ConnectionEnvironment[] } }>(ENVIRONMENTS, { c: connectionId }, token)).connection.environments;
}

async function setQuota(connectionId: string, environment: string, quota: Record<string, unknown> | null, token = acme.tokens.engineer): Promise<ConnectionEnvironment[]> {
  return (await cp.ok<{ setConnectionQuota: { id: string; environments: ConnectionEnvironment[] } }>(SET_QUOTA, { c: connectionId, e: environment, q: quota }, token)).setConnectionQuota.environments;
}

async function auditOf(action: string, targetId: string): Promise<Array<{ actor: string; details: Record<string, unknown> }>> {
  const { auditEvents } = await cp.ok<{ auditEvents: Array<{ actor: string; action: string; targetId: string; details: Record<string, unknown> }> }>(
    'query($o: ID!) { auditEvents(organizationId: $o, limit: 500) { actor action targetId details } }',
    { o: acme.organizationId },
    acme.tokens.admin,
  );
  return auditEvents.filter((e) => e.action === action && e.targetId === targetId).reverse(); // oldest first
}

function peer(proxyId: string): DeltaPeer {
  const connected = connectDeltaPeer(cp.grpcAddress, cp.dataPlaneToken, { proxyId, environment: 'production' });
  peers.push(connected);
  return connected;
}

function delta(message: ConfigMessage) {
  if (message.kind !== 'delta') throw new Error(`expected a delta, got a ${message.kind}`);
  return message.delta;
}

/**
 * Runs `read` until the windows of `units` are the same before and after it: a read that straddles a
 * window boundary may mix two windows' counters.
 */
async function inOneWindow<T>(units: string[], read: (nowMs: number) => Promise<T>): Promise<T> {
  for (;;) {
    const before = Date.now();
    const result = await read(before);
    const after = Date.now();
    if (units.every((unit) => windowStart(unit, before) === windowStart(unit, after))) return result;
  }
}

beforeAll(async () => {
  cp = await startTestControlPlane();
  await seedEnvironments(cp);
  acme = await seedTenant(cp, 'acme');
  globex = await seedTenant(cp, 'globex');
  redis = new Redis(REDIS_URL);
  const { registerGenAIService } = await cp.ok<{ registerGenAIService: { id: string } }>(
    REGISTER,
    {
      i: {
        organizationId: acme.organizationId, scope: 'ORGANIZATION', provider: 'OPENAI', name: 'OpenAI', contextPath: '/openai', serviceUrl: 'http://127.0.0.1:9/v1',
        environments: [{
          environment: 'production',
          backendSecurity: { value: 'sk-upstream-openai-0123456789abcdef' },
          rateLimit: { timeUnit: 'DAY', maxTotalTokens: 1_000_000, enforce: false },
          connectionQuota: { timeUnit: 'HOUR', maxPromptTokens: 8000, maxTotalTokens: 10_000 },
          streamCutoff: true,
        }],
      },
    },
    acme.tokens.engineer,
  );
  serviceId = registerGenAIService.id;
  app = await connectApp(cp, acme, serviceId, 'quota-app');
});

afterEach(() => {
  for (const p of peers.splice(0)) p.close();
});

afterAll(async () => {
  const keys = await redis?.keys(`${cp?.redisNamespace}:*`);
  if (keys?.length) await redis.del(...keys);
  redis?.disconnect();
  await cp?.stop();
});

describe('service environments: default connection quota, shadow budgets, stream cut-off', () => {
  it('registerGenAIService stores them and reads them back (an environment left out has none)', async () => {
    const { genAIService } = await cp.ok<{ genAIService: { environmentConfigs: EnvironmentConfig[] } }>(`query($s: ID!) { genAIService(id: $s) { ${CONFIGS} } }`, { s: serviceId }, acme.tokens.developer);
    expect(genAIService.environmentConfigs).toEqual([
      { environment: 'development', rateLimit: null, connectionQuota: null, streamCutoff: false },
      {
        environment: 'production',
        rateLimit: limit('DAY', { maxTotalTokens: 1_000_000, enforce: false }),
        connectionQuota: limit('HOUR', { maxPromptTokens: 8000, maxTotalTokens: 10_000 }),
        streamCutoff: true,
      },
    ]);
  });

  it('configureServiceEnvironment sets them, keeps them when omitted, and removes the quota with null', async () => {
    const { registerGenAIService: other } = await cp.ok<{ registerGenAIService: { id: string } }>(
      REGISTER,
      { i: { organizationId: acme.organizationId, scope: 'ORGANIZATION', provider: 'MISTRAL', name: 'Mistral', contextPath: '/mistral', serviceUrl: 'https://api.mistral.ai/v1' } },
      acme.tokens.engineer,
    );
    const configure = async (input: Record<string, unknown>) =>
      (await cp.ok<{ configureServiceEnvironment: { environmentConfigs: EnvironmentConfig[] } }>(CONFIGURE, { s: other.id, e: 'development', i: input }, acme.tokens.engineer))
        .configureServiceEnvironment.environmentConfigs.find((c) => c.environment === 'development');

    expect(await configure({ connectionQuota: { timeUnit: 'MINUTE', maxCompletionTokens: 500 }, streamCutoff: true, rateLimit: { timeUnit: 'HOUR', maxTotalTokens: 9000, enforce: true } })).toEqual({
      environment: 'development',
      rateLimit: limit('HOUR', { maxTotalTokens: 9000 }),
      connectionQuota: limit('MINUTE', { maxCompletionTokens: 500 }),
      streamCutoff: true,
    });
    // Omitted keeps (streamCutoff: null too); enforce: false is shadow mode.
    expect(await configure({ serviceUrl: 'https://eu.api.mistral.ai/v1', streamCutoff: null, connectionQuota: { timeUnit: 'MINUTE', maxCompletionTokens: 500, enforce: false } })).toEqual({
      environment: 'development',
      rateLimit: limit('HOUR', { maxTotalTokens: 9000 }),
      connectionQuota: limit('MINUTE', { maxCompletionTokens: 500, enforce: false }),
      streamCutoff: true,
    });
    expect(await configure({ connectionQuota: null, streamCutoff: false })).toEqual({ environment: 'development', rateLimit: limit('HOUR', { maxTotalTokens: 9000 }), connectionQuota: null, streamCutoff: false });

    const audited = await auditOf('genAIService.configureEnvironment', other.id);
    expect(audited.map((e) => [e.details.connectionQuota, e.details.streamCutoff])).toEqual([
      [limit('MINUTE', { maxCompletionTokens: 500 }), true],
      [limit('MINUTE', { maxCompletionTokens: 500, enforce: false }), true],
      [null, false],
    ]);
  });
});

describe('setConnectionQuota and ConnectionEnvironment.quota', () => {
  it('shows the service default, then an override higher, lower or unlimited, then the default again once removed', async () => {
    const serviceDefault = { environment: 'production', quota: limit('HOUR', { maxPromptTokens: 8000, maxTotalTokens: 10_000 }), quotaSource: 'SERVICE_DEFAULT' };
    const development = { environment: 'development', quota: null, quotaSource: 'NONE' };
    expect(await environmentsOf(app.connectionId)).toEqual([expect.objectContaining(development), expect.objectContaining(serviceDefault)]);

    const higher = await setQuota(app.connectionId, 'production', { timeUnit: 'HOUR', maxTotalTokens: 50_000 });
    expect(higher).toEqual([development, { environment: 'production', quota: limit('HOUR', { maxTotalTokens: 50_000 }), quotaSource: 'CONNECTION_OVERRIDE' }]);
    const lower = await setQuota(app.connectionId, 'production', { timeUnit: 'MINUTE', maxPromptTokens: 100, maxTotalTokens: 200, enforce: false }, acme.tokens.admin);
    expect(lower[1]).toEqual({ environment: 'production', quota: limit('MINUTE', { maxPromptTokens: 100, maxTotalTokens: 200, enforce: false }), quotaSource: 'CONNECTION_OVERRIDE' });
    const unlimited = await setQuota(app.connectionId, 'production', { timeUnit: 'DAY' });
    expect(unlimited[1]).toEqual({ environment: 'production', quota: limit('DAY'), quotaSource: 'CONNECTION_OVERRIDE' });
    // An environment without a default quota can get one of its own.
    const own = await setQuota(app.connectionId, 'development', { timeUnit: 'MINUTE', maxCompletionTokens: 10 });
    expect(own[0]).toEqual({ environment: 'development', quota: limit('MINUTE', { maxCompletionTokens: 10 }), quotaSource: 'CONNECTION_OVERRIDE' });

    expect(await setQuota(app.connectionId, 'production', null)).toEqual([own[0], serviceDefault]);
    expect(await setQuota(app.connectionId, 'development', null)).toEqual([development, serviceDefault]);
    expect(await sql('SELECT * FROM connection_quota_overrides')).toEqual([]);
  });

  it('is for an ADMIN or PLATFORM_ENGINEER of the connection\'s organization only', async () => {
    const before = await writtenState();
    const developer = await cp.gql(SET_QUOTA, { c: app.connectionId, e: 'production', q: { timeUnit: 'HOUR', maxTotalTokens: 1 } }, acme.tokens.developer);
    expect(developer.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const stranger = await cp.gql(SET_QUOTA, { c: app.connectionId, e: 'production', q: { timeUnit: 'HOUR', maxTotalTokens: 1 } }, globex.tokens.admin);
    expect(stranger.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    expect(await writtenState()).toBe(before);
  });

  it('refuses bad input with BAD_USER_INPUT naming the field, and writes nothing', async () => {
    const before = await writtenState();
    const refusals: Array<[string, Record<string, unknown>, string | undefined]> = [
      [SET_QUOTA, { c: app.connectionId, e: 'production', q: { timeUnit: 'HOUR', maxTotalTokens: 0 } }, 'quota.maxTotalTokens'],
      [SET_QUOTA, { c: app.connectionId, e: 'production', q: { timeUnit: 'HOUR', maxPromptTokens: -3, maxTotalTokens: 10 } }, 'quota.maxPromptTokens'],
      [SET_QUOTA, { c: app.connectionId, e: 'staging', q: { timeUnit: 'HOUR', maxTotalTokens: 10 } }, 'environment'],
      // timeUnit is required: GraphQL refuses the variables before any resolver runs.
      [SET_QUOTA, { c: app.connectionId, e: 'production', q: { maxTotalTokens: 10 } }, undefined],
      [CONFIGURE, { s: serviceId, e: 'production', i: { connectionQuota: { timeUnit: 'MINUTE', maxCompletionTokens: 0 } } }, 'input.connectionQuota.maxCompletionTokens'],
      [CONFIGURE, { s: serviceId, e: 'production', i: { rateLimit: { timeUnit: 'MINUTE', maxTotalTokens: 1.5 }, streamCutoff: false } }, undefined],
      [
        REGISTER,
        { i: { organizationId: acme.organizationId, scope: 'ORGANIZATION', provider: 'OPENAI', name: 'x', contextPath: '/bad-quota', serviceUrl: 'https://api.openai.com/v1', environments: [{ environment: 'production', connectionQuota: { timeUnit: 'DAY', maxTotalTokens: -1 } }] } },
        'input.environments[0].connectionQuota.maxTotalTokens',
      ],
    ];
    for (const [mutation, variables, field] of refusals) {
      const result = await cp.gql(mutation, variables, acme.tokens.engineer);
      expect(result.data ?? null).toBeNull();
      expect(result.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', ...(field ? { field } : {}) });
    }
    expect(await writtenState()).toBe(before);
  });

  it('audits each change with the environment, the new quota and the one it replaced', async () => {
    const audited = await auditOf('connection.setQuota', app.connectionId);
    expect(audited.map((e) => [e.actor, e.details])).toEqual([
      ['engineer@acme.test', { environment: 'production', quota: limit('HOUR', { maxTotalTokens: 50_000 }), previous: null }],
      ['admin@acme.test', { environment: 'production', quota: limit('MINUTE', { maxPromptTokens: 100, maxTotalTokens: 200, enforce: false }), previous: limit('HOUR', { maxTotalTokens: 50_000 }) }],
      ['engineer@acme.test', { environment: 'production', quota: limit('DAY'), previous: limit('MINUTE', { maxPromptTokens: 100, maxTotalTokens: 200, enforce: false }) }],
      ['engineer@acme.test', { environment: 'development', quota: limit('MINUTE', { maxCompletionTokens: 10 }), previous: null }],
      ['engineer@acme.test', { environment: 'production', quota: null, previous: limit('DAY') }],
      ['engineer@acme.test', { environment: 'development', quota: null, previous: limit('MINUTE', { maxCompletionTokens: 10 }) }],
    ]);
  });

  it('goes away with its connection', async () => {
    const doomed = await connectApp(cp, acme, serviceId, 'doomed');
    await setQuota(doomed.connectionId, 'production', { timeUnit: 'HOUR', maxTotalTokens: 5 });
    expect(await sql('SELECT connection_id FROM connection_quota_overrides')).toEqual([{ connection_id: doomed.connectionId }]);
    await cp.ok('mutation($c: ID!) { deleteConnection(id: $c) }', { c: doomed.connectionId }, acme.tokens.developer);
    expect(await sql('SELECT connection_id FROM connection_quota_overrides')).toEqual([]);
  });
});

describe('what the proxies get', () => {
  it('the defaults in the service; an override in its key\'s quota_override, as a delta naming just the key', async () => {
    const proxy = peer('quota-proxy');
    const first = await proxy.nth(0);
    if (first.kind !== 'snapshot') throw new Error('expected a snapshot first');
    expect(first.snapshot.services.find((s) => s.id === serviceId)).toMatchObject({
      rate_limit: { time_unit: 'DAY', max_prompt_tokens: '0', max_completion_tokens: '0', max_total_tokens: '1000000', shadow: true },
      connection_quota: { time_unit: 'HOUR', max_prompt_tokens: '8000', max_completion_tokens: '0', max_total_tokens: '10000', shadow: false },
      stream_cutoff: true,
    });
    expect(first.snapshot.consumer_keys.find((k) => k.key_hash === sha256(app.key))).toMatchObject({ connection_id: app.connectionId, quota_override: null });

    await setQuota(app.connectionId, 'production', { timeUnit: 'MINUTE', maxTotalTokens: 300, enforce: false });
    const set = delta(await proxy.nth(1));
    expect(set).toMatchObject({ upserted_services: [], removed_service_ids: [], removed_key_hashes: [] });
    expect(set.upserted_keys).toEqual([
      { key_hash: sha256(app.key), connection_id: app.connectionId, service_id: serviceId, project_id: acme.projectId, quota_override: { time_unit: 'MINUTE', max_prompt_tokens: '0', max_completion_tokens: '0', max_total_tokens: '300', shadow: true }, expires_at_unix_ms: '0' },
    ]);
    await setQuota(app.connectionId, 'production', { timeUnit: 'HOUR' });
    expect(delta(await proxy.nth(2)).upserted_keys.map((k) => k.quota_override)).toEqual([{ time_unit: 'HOUR', max_prompt_tokens: '0', max_completion_tokens: '0', max_total_tokens: '0', shadow: false }]);
    await setQuota(app.connectionId, 'production', null);
    expect(delta(await proxy.nth(3)).upserted_keys.map((k) => [k.key_hash, k.quota_override])).toEqual([[sha256(app.key), null]]);
    // A change in another environment is not this proxy's.
    await setQuota(app.connectionId, 'development', { timeUnit: 'DAY', maxTotalTokens: 1 });
    await setQuota(app.connectionId, 'development', null);

    await cp.ok(CONFIGURE, { s: serviceId, e: 'production', i: { streamCutoff: false, connectionQuota: { timeUnit: 'HOUR', maxPromptTokens: 8000, maxTotalTokens: 10_000, enforce: false } } }, acme.tokens.engineer);
    const configured = delta(await proxy.nth(4));
    expect(configured.upserted_keys).toEqual([]);
    expect(configured.upserted_services.map((s) => [s.id, s.stream_cutoff, s.connection_quota?.shadow])).toEqual([[serviceId, false, true]]);
    await cp.ok(CONFIGURE, { s: serviceId, e: 'production', i: { streamCutoff: true, connectionQuota: { timeUnit: 'HOUR', maxPromptTokens: 8000, maxTotalTokens: 10_000 } } }, acme.tokens.engineer);
    expect(delta(await proxy.nth(5)).upserted_services.map((s) => [s.stream_cutoff, s.connection_quota?.shadow])).toEqual([[true, false]]);
    expect(proxy.received).toHaveLength(6);
  });
});

describe('Connection.budgets', () => {
  it('lists each budget and dimension that limits the connection, with used and remaining read from the proxies\' counters', async () => {
    const budgetApp = await connectApp(cp, acme, serviceId, 'budget-app');
    const ns = cp.redisNamespace;
    const serviceKey = (unit: string, nowMs: number) => `${ns}:rl:{production:${serviceId}}:${unit}:${windowStart(unit, nowMs)}`;
    const quotaKey = (unit: string, nowMs: number) => `${ns}:rl:{production:${serviceId}}:c:${budgetApp.connectionId}:${unit}:${windowStart(unit, nowMs)}`;
    const resetsAt = (unit: string, nowMs: number) => new Date(windowStart(unit, nowMs) + LENGTH_MS[unit]).toISOString();
    const budgets = async (environment: string | null = 'production', token = acme.tokens.developer) =>
      (await cp.ok<{ connection: { budgets: Budget[] } }>(BUDGETS, { c: budgetApp.connectionId, e: environment }, token)).connection.budgets;

    // Nothing counted yet: 0 used.
    await inOneWindow(['DAY', 'HOUR'], async (nowMs) => {
      expect(await budgets()).toEqual([
        { environment: 'production', source: 'SERVICE', dimension: 'TOTAL', timeUnit: 'DAY', limit: 1_000_000, used: 0, remaining: 1_000_000, resetsAt: resetsAt('DAY', nowMs), enforce: false },
        { environment: 'production', source: 'SERVICE_DEFAULT', dimension: 'PROMPT', timeUnit: 'HOUR', limit: 8000, used: 0, remaining: 8000, resetsAt: resetsAt('HOUR', nowMs), enforce: true },
        { environment: 'production', source: 'SERVICE_DEFAULT', dimension: 'TOTAL', timeUnit: 'HOUR', limit: 10_000, used: 0, remaining: 10_000, resetsAt: resetsAt('HOUR', nowMs), enforce: true },
      ]);
    });

    // Counters as the proxies leave them (their own ledger fields beside the shared ones); a total over its limit.
    await inOneWindow(['DAY', 'HOUR'], async (nowMs) => {
      await redis.hset(serviceKey('DAY', nowMs), { p: '300', c: '200', t: '500', 'p:proxy-a': '300', 'c:proxy-a': '200' });
      await redis.hset(quotaKey('HOUR', nowMs), { p: '7000', c: '5000', t: '12000' });
      expect((await budgets()).map((b) => [b.source, b.dimension, b.used, b.remaining])).toEqual([
        ['SERVICE', 'TOTAL', 500, 999_500],
        ['SERVICE_DEFAULT', 'PROMPT', 7000, 1000],
        ['SERVICE_DEFAULT', 'TOTAL', 12_000, 0],
      ]);
    });

    // Its own quota replaces the default; every environment is listed when none is named (development limits nothing).
    await setQuota(budgetApp.connectionId, 'production', { timeUnit: 'MINUTE', maxCompletionTokens: 50, enforce: false });
    await inOneWindow(['DAY', 'MINUTE'], async (nowMs) => {
      await redis.hset(quotaKey('MINUTE', nowMs), { c: '20', t: '80' });
      expect(await budgets(null)).toEqual([
        expect.objectContaining({ source: 'SERVICE', dimension: 'TOTAL', used: 500 }),
        { environment: 'production', source: 'CONNECTION_OVERRIDE', dimension: 'COMPLETION', timeUnit: 'MINUTE', limit: 50, used: 20, remaining: 30, resetsAt: resetsAt('MINUTE', nowMs), enforce: false },
      ]);
    });
    // Unlimited: only the service's budget is left.
    await setQuota(budgetApp.connectionId, 'production', { timeUnit: 'MINUTE' });
    expect((await budgets()).map((b) => b.source)).toEqual(['SERVICE']);
    expect(await budgets('development')).toEqual([]);
    await setQuota(budgetApp.connectionId, 'production', null);

    const unknown = await cp.gql(BUDGETS, { c: budgetApp.connectionId, e: 'staging' }, acme.tokens.developer);
    expect(unknown.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'environment' });
    const stranger = await cp.gql(BUDGETS, { c: budgetApp.connectionId, e: null }, globex.tokens.admin);
    expect(stranger.errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });
});

describe('usage', () => {
  it('wouldHaveRefused sums what the proxies\' batches reported, each batch once', async () => {
    const usageApp = await connectApp(cp, acme, serviceId, 'usage-app');
    const proxy = peer(`usage-proxy-${randomBytes(3).toString('hex')}`);
    await proxy.nth(0);
    const minute = new Date(windowStart('MINUTE')).toISOString();
    const batch = (id: string, requests: number, wouldHaveRefused: number) => ({
      usage: {
        batch_id: id,
        records: [{
          service_id: serviceId, connection_id: usageApp.connectionId, window_unit: 'MINUTE' as const, window_start: minute, operation: 'chat_completions', request_model: 'gpt-4o',
          prompt_tokens: 10 * requests, completion_tokens: 5 * requests, total_tokens: 15 * requests, requests, would_have_refused: wouldHaveRefused,
        }],
      },
    });
    const prefix = randomBytes(4).toString('hex');
    // Handled in order per stream: once the last batch is stored, the re-sent one has been seen too.
    for (const message of [batch(`${prefix}:1`, 4, 3), batch(`${prefix}:2`, 4, 2), batch(`${prefix}:1`, 4, 3), batch(`${prefix}:3`, 1, 0)]) proxy.write(message);

    const report = await waitFor(async () => {
      const { connection } = await cp.ok<{ connection: { usageReport: { rows: Array<{ requests: number; wouldHaveRefused: number }> }; usage: Array<{ requests: number; wouldHaveRefused: number }> } }>(
        `query($c: ID!) { connection(id: $c) { usageReport(granularity: MINUTE) { rows { requests wouldHaveRefused } } usage(environment: "production") { requests wouldHaveRefused } } }`,
        { c: usageApp.connectionId },
        acme.tokens.developer,
      );
      return connection.usageReport.rows[0]?.requests === 9 && connection;
    }, 'the usage batches to be stored');
    expect(report.usageReport.rows).toEqual([{ requests: 9, wouldHaveRefused: 5 }]);
    expect(report.usage).toEqual([{ requests: 9, wouldHaveRefused: 5 }]);
    const { usage } = await cp.ok<{ usage: { rows: Array<{ connectionId: string; wouldHaveRefused: number }> } }>(
      `query($f: UsageFilter!) { usage(filter: $f, groupBy: [CONNECTION], granularity: DAY) { rows { connectionId wouldHaveRefused } } }`,
      { f: { organizationId: acme.organizationId, serviceId } },
      acme.tokens.engineer,
    );
    expect(usage.rows).toEqual([{ connectionId: usageApp.connectionId, wouldHaveRefused: 5 }]);
  });
});
