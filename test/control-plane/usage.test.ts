// Usage end to end on real PostgreSQL: batches as proxies deliver them (through UsageService, as the
// config stream calls it), read back through GraphQL as a console or automation would.
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { createDataSource } from '../../control-plane/src/db/data-source';
import type { UsageRecordInput } from '../../control-plane/src/usage/usage.service';
import { type Tenant, type TestControlPlane, registerOpenAIService, seedEnvironments, seedTenant, startTestControlPlane } from '../support/control-plane-harness';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Midnight UTC two days ago: every minute of it is inside the minute retention (7 days). */
const D = Math.floor(Date.now() / DAY) * DAY - 2 * DAY;
/** Yesterday (wholly past): the tests that add usage use it, so the fixed data of day D stays as seeded. */
const YESTERDAY = D + DAY;
const at = (hours: number, minutes = 0, day = D) => new Date(day + hours * HOUR + minutes * 60_000).toISOString();

const ROW_FIELDS = 'bucketStart environment projectId serviceId connectionId operation requestModel responseModel promptTokens completionTokens totalTokens cachedPromptReadTokens cachedPromptWriteTokens reasoningTokens requests errors4xx errors5xx';
const REPORT = `query($f: UsageFilter!, $g: [UsageDimension!], $gr: UsageGranularity) { usage(filter: $f, groupBy: $g, granularity: $gr) { from to granularity rows { ${ROW_FIELDS} } } }`;

interface Row {
  bucketStart: string | null;
  environment: string | null;
  projectId: string | null;
  serviceId: string | null;
  connectionId: string | null;
  operation: string | null;
  requestModel: string | null;
  responseModel: string | null;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  cachedPromptReadTokens: number;
  cachedPromptWriteTokens: number;
  reasoningTokens: number;
  requests: number;
  errors4xx: number;
  errors5xx: number;
}
interface Report {
  from: string;
  to: string;
  granularity: string | null;
  rows: Row[];
}

let cp: TestControlPlane;
let acme: Tenant;
let globex: Tenant;
let environmentIds: Record<string, string>;
let service: string;
let dailyService: string;
const connections: Record<'a' | 'b' | 'c' | 'd' | 'e', string> = { a: '', b: '', c: '', d: '', e: '' };

async function createConnection(projectId: string, serviceId: string, name: string): Promise<string> {
  const { createConnection: created } = await cp.ok<{ createConnection: { connection: { id: string } } }>(
    'mutation($i: CreateConnectionInput!) { createConnection(input: $i) { connection { id } } }',
    { i: { projectId, serviceId, name } },
    acme.tokens.developer,
  );
  return created.connection.id;
}

/** A record as a current proxy sends it: one minute, every dimension. */
function minute(serviceId: string, connectionId: string, windowStart: string, fields: Partial<UsageRecordInput>): UsageRecordInput {
  return { serviceId, connectionId, windowUnit: 'MINUTE', windowStart, promptTokens: 0, completionTokens: 0, totalTokens: 0, requests: 1, ...fields };
}

function record(environment: string, batchId: string, records: UsageRecordInput[]): Promise<boolean> {
  return cp.plane.services.usage.recordBatch(environmentIds[environment], batchId, records);
}

async function usage(filter: Record<string, unknown>, groupBy: string[] = [], granularity: string | null = null, token: string = acme.tokens.engineer): Promise<Report> {
  return (await cp.ok<{ usage: Report }>(REPORT, { f: filter, g: groupBy, gr: granularity }, token)).usage;
}

async function refusal(filter: Record<string, unknown>, granularity: string | null = null, token: string = acme.tokens.engineer): Promise<{ code?: string; message: string }> {
  const result = await cp.gql(REPORT, { f: filter, gr: granularity }, token);
  expect(result.data).toBeNull();
  return { code: result.errors?.[0].extensions?.code, message: result.errors?.[0].message ?? '' };
}

/** The fields a test looks at, so each assertion names what it checks. */
function only<K extends keyof Row>(rows: Row[], ...keys: K[]): Array<Pick<Row, K>> {
  return rows.map((row) => Object.fromEntries(keys.map((k) => [k, row[k]])) as Pick<Row, K>);
}

beforeAll(async () => {
  cp = await startTestControlPlane();
  await seedEnvironments(cp);
  acme = await seedTenant(cp, 'acme');
  globex = await seedTenant(cp, 'globex');
  const { environments } = await cp.ok<{ environments: Array<{ id: string; handle: string }> }>('{ environments { id handle } }');
  environmentIds = Object.fromEntries(environments.map((e) => [e.handle, e.id]));
  service = await registerOpenAIService(cp, acme, 'https://api.openai.com/v1');
  const { registerGenAIService } = await cp.ok<{ registerGenAIService: { id: string } }>(
    'mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id } }',
    {
      i: {
        organizationId: acme.organizationId, scope: 'ORGANIZATION', provider: 'OPENAI', name: 'Daily', contextPath: '/daily', serviceUrl: 'https://api.openai.com/v1',
        environments: [{ environment: 'production', backendSecurity: { value: 'sk-upstream-openai-0123456789abcdef' }, rateLimit: { timeUnit: 'DAY', maxTotalTokens: 1_000_000 } }],
      },
    },
    acme.tokens.engineer,
  );
  dailyService = registerGenAIService.id;
  connections.a = await createConnection(acme.projectId, service, 'web-a');
  connections.b = await createConnection(acme.otherProjectId, service, 'batch-b');
  connections.c = await createConnection(acme.projectId, service, 'web-c');
  connections.d = await createConnection(acme.projectId, dailyService, 'web-d');
  connections.e = await createConnection(acme.projectId, service, 'web-e');

  // Day D, production: connection a in project web, b in project batch; one record of an unknown
  // service in the same batch; one record that claims another organization and project.
  expect(await record('production', 'main:1', [
    minute(service, connections.a, at(10, 5), {
      operation: 'chat_completions', requestModel: 'gpt-4o', responseModel: 'gpt-4o-2024-08-06', promptTokens: 100, completionTokens: 20, totalTokens: 120,
      cachedPromptReadTokens: 40, reasoningTokens: 5, requests: 2, organizationId: globex.organizationId, projectId: globex.projectId,
    }),
    minute(service, connections.a, at(10, 35), { operation: 'embeddings', requestModel: 'text-embedding-3-small', responseModel: 'text-embedding-3-small', promptTokens: 50, totalTokens: 50, requests: 5 }),
    minute(service, connections.a, at(11, 10), { operation: 'chat_completions', requestModel: 'gpt-4o', responseModel: 'gpt-4o-2024-08-06', promptTokens: 200, completionTokens: 30, totalTokens: 230, requests: 3, errors5xx: 1 }),
    minute(service, connections.b, at(10, 20), {
      operation: 'responses', requestModel: 'gpt-4.1-mini', responseModel: 'gpt-4.1-mini-2025-04-14', promptTokens: 70, completionTokens: 10, totalTokens: 80, cachedPromptWriteTokens: 16, errors4xx: 1,
    }),
    minute(randomUUID(), connections.a, at(10, 5), { promptTokens: 999, totalTokens: 999 }),
  ])).toBe(true);
  // The day before, in development, one minute before midnight.
  await record('development', 'main:2', [
    minute(service, connections.b, at(-1, 59), { operation: 'chat_completions', requestModel: 'gpt-4o', responseModel: 'gpt-4o-2024-08-06', promptTokens: 10, completionTokens: 1, totalTokens: 11 }),
  ]);
});

afterAll(async () => {
  await cp?.stop();
});

describe('recording', () => {
  it('stores each record in its minute, hour and day bucket, with every dimension', async () => {
    const minutes = await usage({ organizationId: acme.organizationId, from: at(10), to: at(12), environment: 'production' }, ['CONNECTION', 'OPERATION', 'REQUEST_MODEL', 'RESPONSE_MODEL'], 'MINUTE');
    expect(only(minutes.rows, 'bucketStart', 'connectionId', 'operation', 'requestModel', 'responseModel', 'totalTokens')).toEqual([
      { bucketStart: at(10, 5), connectionId: connections.a, operation: 'chat_completions', requestModel: 'gpt-4o', responseModel: 'gpt-4o-2024-08-06', totalTokens: 120 },
      { bucketStart: at(10, 20), connectionId: connections.b, operation: 'responses', requestModel: 'gpt-4.1-mini', responseModel: 'gpt-4.1-mini-2025-04-14', totalTokens: 80 },
      { bucketStart: at(10, 35), connectionId: connections.a, operation: 'embeddings', requestModel: 'text-embedding-3-small', responseModel: 'text-embedding-3-small', totalTokens: 50 },
      { bucketStart: at(11, 10), connectionId: connections.a, operation: 'chat_completions', requestModel: 'gpt-4o', responseModel: 'gpt-4o-2024-08-06', totalTokens: 230 },
    ]);
    const hours = await usage({ organizationId: acme.organizationId, from: at(10), to: at(12), environment: 'production' }, [], 'HOUR');
    expect(hours.rows).toEqual([
      {
        bucketStart: at(10), environment: null, projectId: null, serviceId: null, connectionId: null, operation: null, requestModel: null, responseModel: null,
        promptTokens: 220, completionTokens: 30, totalTokens: 250, cachedPromptReadTokens: 40, cachedPromptWriteTokens: 16, reasoningTokens: 5, requests: 8, errors4xx: 1, errors5xx: 0,
      },
      {
        bucketStart: at(11), environment: null, projectId: null, serviceId: null, connectionId: null, operation: null, requestModel: null, responseModel: null,
        promptTokens: 200, completionTokens: 30, totalTokens: 230, cachedPromptReadTokens: 0, cachedPromptWriteTokens: 0, reasoningTokens: 0, requests: 3, errors4xx: 0, errors5xx: 1,
      },
    ]);
    const days = await usage({ organizationId: acme.organizationId, from: at(-24), to: at(24) }, ['ENVIRONMENT'], 'DAY');
    expect(only(days.rows, 'bucketStart', 'environment', 'totalTokens', 'requests')).toEqual([
      { bucketStart: at(-24), environment: 'development', totalTokens: 11, requests: 1 },
      { bucketStart: at(0), environment: 'production', totalTokens: 480, requests: 11 },
    ]);
  });

  it('takes the organization from the service and the project from the connection, whatever the proxy claims', async () => {
    const byProject = await usage({ organizationId: acme.organizationId, from: at(-24), to: at(24) }, ['PROJECT']);
    expect(only(byProject.rows, 'projectId', 'totalTokens').sort((x, y) => y.totalTokens - x.totalTokens)).toEqual([
      { projectId: acme.projectId, totalTokens: 400 },
      { projectId: acme.otherProjectId, totalTokens: 91 },
    ]);
    const claimed = await usage({ organizationId: globex.organizationId, from: at(-24), to: at(24) }, [], null, globex.tokens.engineer);
    expect(only(claimed.rows, 'totalTokens', 'requests')).toEqual([{ totalTokens: 0, requests: 0 }]);
  });

  it('drops records of unknown services and keeps the rest of their batch', async () => {
    const total = await usage({ organizationId: acme.organizationId, from: at(10), to: at(11), environment: 'production' });
    expect(only(total.rows, 'promptTokens', 'totalTokens')).toEqual([{ promptTokens: 220, totalTokens: 250 }]);
  });

  it('counts a batch delivered twice once', async () => {
    const batch = [minute(dailyService, connections.d, at(9, 1, YESTERDAY), { operation: 'chat_completions', requestModel: 'gpt-4o', promptTokens: 30, completionTokens: 12, totalTokens: 42 })];
    expect(await record('production', 'twice:1', batch)).toBe(true);
    expect(await record('production', 'twice:1', batch)).toBe(false); // re-sent after a lost acknowledgement
    const report = await usage({ connectionId: connections.d, from: at(0, 0, YESTERDAY), to: at(24, 0, YESTERDAY) }, [], 'HOUR');
    expect(only(report.rows, 'bucketStart', 'totalTokens', 'requests')).toEqual([{ bucketStart: at(9, 0, YESTERDAY), totalTokens: 42, requests: 1 }]);
  });

  it('stores a batch of thousands of records, summing those that share a bucket', async () => {
    const models = ['gpt-4o', 'gpt-4o-mini', 'o3'];
    const records = Array.from({ length: 3000 }, (_, i) =>
      minute(service, connections.c, at(16, i % 50, YESTERDAY), { operation: 'chat_completions', requestModel: models[i % 3], responseModel: models[i % 3], promptTokens: 1, completionTokens: 2, totalTokens: 3 }),
    );
    expect(await record('production', 'big:1', records)).toBe(true);
    const perModel = await usage({ connectionId: connections.c, from: at(16, 0, YESTERDAY), to: at(17, 0, YESTERDAY) }, ['REQUEST_MODEL'], 'HOUR');
    expect(only(perModel.rows, 'requestModel', 'requests', 'totalTokens')).toEqual(models.map((m) => ({ requestModel: m, requests: 1000, totalTokens: 3000 })));
    const perMinute = await usage({ connectionId: connections.c, from: at(16, 0, YESTERDAY), to: at(17, 0, YESTERDAY) }, ['REQUEST_MODEL'], 'MINUTE');
    expect(perMinute.rows).toHaveLength(150);
    expect(new Set(perMinute.rows.map((r) => r.requests))).toEqual(new Set([20]));
  });

  it('stores an older proxy\'s hourly record in hour and day buckets only', async () => {
    await record('production', 'old-proxy:1', [{ serviceId: service, connectionId: connections.e, windowUnit: 'HOUR', windowStart: at(13, 0, YESTERDAY), promptTokens: 7, completionTokens: 3, totalTokens: 10, requests: 1 }]);
    const filter = { connectionId: connections.e, from: at(13, 0, YESTERDAY), to: at(14, 0, YESTERDAY) };
    expect(only((await usage(filter, ['OPERATION', 'REQUEST_MODEL'], 'HOUR')).rows, 'bucketStart', 'operation', 'requestModel', 'totalTokens')).toEqual([
      { bucketStart: at(13, 0, YESTERDAY), operation: '', requestModel: '', totalTokens: 10 },
    ]);
    expect(only((await usage(filter, [], 'DAY')).rows, 'bucketStart', 'totalTokens')).toEqual([{ bucketStart: at(0, 0, YESTERDAY), totalTokens: 10 }]);
    expect((await usage(filter, [], 'MINUTE')).rows).toEqual([]);
  });
});

describe('reports', () => {
  const dayRange = () => ({ organizationId: acme.organizationId, from: at(-24), to: at(12) });

  it('groups by request model, response model, operation, service and connection', async () => {
    const byModel = await usage(dayRange(), ['REQUEST_MODEL']);
    expect(only(byModel.rows, 'requestModel', 'totalTokens')).toEqual([
      { requestModel: 'gpt-4.1-mini', totalTokens: 80 },
      { requestModel: 'gpt-4o', totalTokens: 361 },
      { requestModel: 'text-embedding-3-small', totalTokens: 50 },
    ]);
    const byResponse = await usage(dayRange(), ['RESPONSE_MODEL', 'OPERATION']);
    expect(only(byResponse.rows, 'responseModel', 'operation', 'requests')).toEqual([
      { responseModel: 'gpt-4.1-mini-2025-04-14', operation: 'responses', requests: 1 },
      { responseModel: 'gpt-4o-2024-08-06', operation: 'chat_completions', requests: 6 },
      { responseModel: 'text-embedding-3-small', operation: 'embeddings', requests: 5 },
    ]);
    const byConnection = await usage(dayRange(), ['SERVICE', 'CONNECTION']);
    expect(only(byConnection.rows, 'serviceId', 'connectionId', 'totalTokens').sort((x, y) => x.totalTokens - y.totalTokens)).toEqual([
      { serviceId: service, connectionId: connections.b, totalTokens: 91 },
      { serviceId: service, connectionId: connections.a, totalTokens: 400 },
    ]);
  });

  it('filters by model (request or response), operation, environment, service and project', async () => {
    expect(only((await usage({ ...dayRange(), model: 'gpt-4o-2024-08-06' })).rows, 'totalTokens')).toEqual([{ totalTokens: 361 }]);
    expect(only((await usage({ ...dayRange(), model: 'gpt-4.1-mini' })).rows, 'totalTokens')).toEqual([{ totalTokens: 80 }]);
    expect(only((await usage({ ...dayRange(), operation: 'embeddings' })).rows, 'promptTokens', 'requests')).toEqual([{ promptTokens: 50, requests: 5 }]);
    expect(only((await usage({ ...dayRange(), environment: 'development' })).rows, 'totalTokens')).toEqual([{ totalTokens: 11 }]);
    expect(only((await usage({ ...dayRange(), serviceId: dailyService })).rows, 'totalTokens')).toEqual([{ totalTokens: 0 }]);
    expect(only((await usage({ ...dayRange(), projectId: acme.otherProjectId }, ['ENVIRONMENT'])).rows, 'environment', 'totalTokens').sort((x, y) => x.totalTokens - y.totalTokens)).toEqual([
      { environment: 'development', totalTokens: 11 },
      { environment: 'production', totalTokens: 80 },
    ]);
  });

  it('counts a total over a range exactly to the minute', async () => {
    // 10:06–11:11 holds the records at 10:20, 10:35 and 11:10, not the one at 10:05.
    const total = await usage({ organizationId: acme.organizationId, from: at(10, 6), to: at(11, 11), environment: 'production' });
    expect(total.from).toBe(at(10, 6));
    expect(only(total.rows, 'totalTokens', 'requests')).toEqual([{ totalTokens: 360, requests: 9 }]);
  });

  it('answers the same from the organization, project, service and connection fields', async () => {
    const args = `(filter: {from: "${at(10)}", to: "${at(12)}"}, granularity: HOUR)`;
    const rows = `{ rows { bucketStart totalTokens } }`;
    const { organization, genAIService, connection } = await cp.ok<{
      organization: { usageReport: Report; projects: Array<{ id: string; usageReport: Report }> };
      genAIService: { usageReport: Report };
      connection: { usageReport: Report };
    }>(
      `query($s: ID!, $c: ID!) {
        organization(handle: "acme") { usageReport${args} ${rows} projects { id usageReport${args} ${rows} } }
        genAIService(id: $s) { usageReport${args} ${rows} }
        connection(id: $c) { usageReport${args} ${rows} }
      }`,
      { s: service, c: connections.a },
      acme.tokens.engineer,
    );
    expect(organization.usageReport.rows).toEqual([{ bucketStart: at(10), totalTokens: 250 }, { bucketStart: at(11), totalTokens: 230 }]);
    expect(organization.projects.find((p) => p.id === acme.otherProjectId)?.usageReport.rows).toEqual([{ bucketStart: at(10), totalTokens: 80 }]);
    expect(genAIService.usageReport.rows).toEqual([{ bucketStart: at(10), totalTokens: 250 }, { bucketStart: at(11), totalTokens: 230 }]);
    expect(connection.usageReport.rows).toEqual([{ bucketStart: at(10), totalTokens: 170 }, { bucketStart: at(11), totalTokens: 230 }]);
  });

  it('keeps the per-window view: hours where there is no daily rate limit, days where there is, newest first', async () => {
    const { connection, genAIService } = await cp.ok<{ connection: { usage: unknown[] }; genAIService: { usage: unknown[] } }>(
      `query($c: ID!, $s: ID!) {
        connection(id: $c) { usage(environment: "production") { environment windowUnit windowStart promptTokens completionTokens totalTokens requests } }
        genAIService(id: $s) { usage { windowUnit windowStart totalTokens } }
      }`,
      { c: connections.a, s: dailyService },
      acme.tokens.developer,
    );
    expect(connection.usage).toEqual([
      { environment: 'production', windowUnit: 'HOUR', windowStart: at(11), promptTokens: 200, completionTokens: 30, totalTokens: 230, requests: 3 },
      { environment: 'production', windowUnit: 'HOUR', windowStart: at(10), promptTokens: 150, completionTokens: 20, totalTokens: 170, requests: 7 },
    ]);
    expect(genAIService.usage).toEqual([{ windowUnit: 'DAY', windowStart: at(0, 0, YESTERDAY), totalTokens: 42 }]);
  });
});

describe('visibility', () => {
  // Five days ago: usage of connections since deleted, one with a project of this organization, one without.
  const day = D - 3 * DAY;
  beforeAll(async () => {
    await record('production', 'deleted:1', [
      minute(service, randomUUID(), at(15, 1, day), { projectId: acme.otherProjectId, promptTokens: 5, totalTokens: 5 }),
      minute(service, randomUUID(), at(15, 2, day), { projectId: globex.projectId, promptTokens: 7, totalTokens: 7 }),
    ]);
  });
  const range = () => ({ organizationId: acme.organizationId, from: at(15, 0, day), to: at(16, 0, day) });

  it('names each connection of a report grouped by CONNECTION, and none that was deleted', async () => {
    const NAMED = `query($f: UsageFilter!) { usage(filter: $f, groupBy: [CONNECTION]) { rows { connectionId connectionName totalTokens } } }`;
    const named = async (from: string, to: string) =>
      (await cp.ok<{ usage: { rows: Array<{ connectionId: string; connectionName: string | null; totalTokens: number }> } }>(NAMED, { f: { organizationId: acme.organizationId, from, to } }, acme.tokens.engineer)).usage.rows;
    expect((await named(at(-24), at(12))).sort((x, y) => x.totalTokens - y.totalTokens)).toEqual([
      { connectionId: connections.b, connectionName: 'batch-b', totalTokens: 91 },
      { connectionId: connections.a, connectionName: 'web-a', totalTokens: 400 },
    ]);
    expect((await named(at(15, 0, day), at(16, 0, day))).map((row) => row.connectionName)).toEqual([null, null]);
    // Not grouped by connection: no name.
    const { usage: total } = await cp.ok<{ usage: { rows: Array<{ connectionName: string | null }> } }>(
      `query($f: UsageFilter!) { usage(filter: $f) { rows { connectionName } } }`, { f: { organizationId: acme.organizationId, from: at(-24), to: at(12) } }, acme.tokens.engineer);
    expect(total.rows).toEqual([{ connectionName: null }]);
  });

  it('shows a platform engineer the whole organization, a developer only connections of projects they can see', async () => {
    expect(only((await usage(range(), ['PROJECT'], null, acme.tokens.engineer)).rows, 'projectId', 'totalTokens')).toEqual([
      { projectId: acme.otherProjectId, totalTokens: 5 },
      { projectId: null, totalTokens: 7 },
    ]);
    expect(only((await usage(range(), ['PROJECT'], null, acme.tokens.developer)).rows, 'projectId', 'totalTokens')).toEqual([{ projectId: acme.otherProjectId, totalTokens: 5 }]);
    expect(only((await usage(range(), [], null, acme.tokens.admin)).rows, 'totalTokens')).toEqual([{ totalTokens: 12 }]);
  });

  it('hides another organization\'s usage behind NOT_FOUND', async () => {
    expect(await refusal({ organizationId: acme.organizationId }, null, globex.tokens.engineer)).toMatchObject({ code: 'NOT_FOUND' });
    expect(await refusal({ connectionId: connections.a }, null, globex.tokens.admin)).toMatchObject({ code: 'NOT_FOUND' });
    expect(await refusal({ serviceId: service }, null, globex.tokens.developer)).toMatchObject({ code: 'NOT_FOUND' });
    expect(await refusal({ organizationId: globex.organizationId }, null, acme.tokens.developer)).toMatchObject({ code: 'NOT_FOUND' });
    // An id of another organization under one's own is not found there either.
    expect(await refusal({ organizationId: acme.organizationId, projectId: globex.projectId })).toMatchObject({ code: 'NOT_FOUND' });
    const anonymous = await cp.gql(REPORT, { f: { organizationId: acme.organizationId } }, null);
    expect(anonymous.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('bad input', () => {
  it('is refused with BAD_USER_INPUT naming the field', async () => {
    expect(await refusal({ organizationId: acme.organizationId, from: at(12), to: at(10) })).toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/must be before filter.to/) });
    expect(await refusal({ organizationId: acme.organizationId, from: at(0, 0, D - 90 * DAY), to: at(0) }, 'HOUR')).toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/at most 1500/) });
    expect(await refusal({ organizationId: acme.organizationId, from: at(0, 0, D - 10 * DAY), to: at(0, 0, D - 9 * DAY) }, 'MINUTE')).toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/kept for 7 days/) });
    expect(await refusal({})).toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/organizationId/) });
    expect(await refusal({ organizationId: acme.organizationId, environment: 'mars' })).toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/unknown environment "mars"/) });
    // 10,001 distinct request models in one hour: one row each when grouped by model.
    await record('production', 'many-models:1', Array.from({ length: 10_001 }, (_, i) => minute(service, connections.e, at(20, i % 60, YESTERDAY), { requestModel: `model-${i}`, totalTokens: 1 })));
    const tooMany = await cp.gql(REPORT, { f: { connectionId: connections.e, from: at(20, 0, YESTERDAY), to: at(21, 0, YESTERDAY) }, g: ['REQUEST_MODEL'] }, acme.tokens.engineer);
    expect(tooMany.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'groupBy' });
    expect(only((await usage({ connectionId: connections.e, from: at(20, 0, YESTERDAY), to: at(21, 0, YESTERDAY) })).rows, 'totalTokens')).toEqual([{ totalTokens: 10_001 }]);
    const crossed = await cp.gql(`query($s: ID!, $p: ID!) { genAIService(id: $s) { usageReport(filter: {serviceId: $p}) { rows { totalTokens } } } }`, { s: service, p: dailyService }, acme.tokens.engineer);
    expect(crossed.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.serviceId' });
  });
});

// Last: it takes the schema back to before the usage buckets and forward again, losing what the buckets held.
describe('migration', () => {
  it('moves the per-window rows of usage_rollups into buckets of their unit and coarser, and back down cleanly', async () => {
    const db = createDataSource(cp.databaseUrl, 1);
    await db.initialize();
    const client = new Client({ connectionString: cp.databaseUrl });
    await client.connect();
    try {
      // Back to just before the usage-buckets migration, undoing the ones that came after it.
      const executed: Array<{ name: string }> = await db.query('SELECT name FROM migrations ORDER BY timestamp DESC');
      const newer = executed.findIndex((m) => m.name.startsWith('UsageBuckets'));
      expect(newer).toBeGreaterThanOrEqual(0);
      for (let i = 0; i <= newer; i += 1) await db.undoLastMigration({ transaction: 'each' });
      const tables = await client.query(`SELECT to_regclass('usage_buckets') AS buckets, to_regclass('usage_rollups') AS rollups`);
      expect(tables.rows[0]).toEqual({ buckets: null, rollups: 'usage_rollups' });
      const gone = randomUUID();
      await client.query(
        `INSERT INTO usage_rollups (service_id, environment_id, connection_id, window_unit, window_start, prompt_tokens, completion_tokens, total_tokens, requests)
         VALUES ($1, $2, $3, 'HOUR', $4, 11, 4, 15, 2), ($1, $2, $5, 'DAY', $6, 6, 4, 10, 1)`,
        [service, environmentIds.production, connections.a, at(9, 0, D - 4 * DAY), gone, at(0, 0, D - 4 * DAY)],
      );
      await db.runMigrations({ transaction: 'each' });
    } finally {
      await client.end();
      await db.destroy();
    }
    const filter = { organizationId: acme.organizationId, from: at(0, 0, D - 4 * DAY), to: at(24, 0, D - 4 * DAY) };
    expect(only((await usage(filter, ['CONNECTION', 'PROJECT'], 'DAY')).rows, 'connectionId', 'projectId', 'totalTokens').sort((x, y) => x.totalTokens - y.totalTokens)).toEqual([
      { connectionId: expect.any(String), projectId: null, totalTokens: 10 },
      { connectionId: connections.a, projectId: acme.projectId, totalTokens: 15 },
    ]);
    expect(only((await usage(filter, [], 'HOUR')).rows, 'bucketStart', 'promptTokens', 'requests')).toEqual([{ bucketStart: at(9, 0, D - 4 * DAY), promptTokens: 11, requests: 2 }]);
  });
});
