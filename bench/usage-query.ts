// `npm run bench:usage`: how fast usage reports answer from usage_buckets with a month of traffic
// behind them, and what a proxy's batch costs to store. Seeds a scratch database (BENCH_DATABASE_URL,
// default tokengate_bench_usage, dropped and recreated) with generate_series, day by day and hour by
// hour as ingestion writes them (rows of one hour in no particular order, as repeated upserts leave
// them), minute rows for every day then pruned past retention as production does; then times
// UsageService.report — the SQL the GraphQL API runs, without HTTP — and recordBatch over repeated runs.
// Knobs: BENCH_USAGE_ORGANIZATIONS, _CONNECTIONS (per organization), _DAYS, _MINUTE_DENSITY, _RUNS,
// _BATCH_RECORDS.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { Actor } from '../control-plane/src/auth/actor';
import { Role } from '../control-plane/src/auth/role';
import { createDataSource } from '../control-plane/src/db/data-source';
import { type UsageRecordInput, UsageService } from '../control-plane/src/usage/usage.service';
import { UsageDimension, UsageGranularity } from '../control-plane/src/usage/usage.types';
import { percentileOfSorted } from './statistics';
import { recreateBenchDatabase } from './tokengate-stack';

const env = process.env;
const DATABASE_URL = env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/tokengate_bench_usage';
const ORGANIZATIONS = Number(env.BENCH_USAGE_ORGANIZATIONS ?? 4);
const CONNECTIONS = Number(env.BENCH_USAGE_CONNECTIONS ?? 40); // per organization
const DAYS = Number(env.BENCH_USAGE_DAYS ?? 30);
/** Share of (minute, connection, model) combinations with traffic: minute rows are sparse in real use. */
const MINUTE_DENSITY = Number(env.BENCH_USAGE_MINUTE_DENSITY ?? 0.25);
const RUNS = Number(env.BENCH_USAGE_RUNS ?? 30);
const BATCH_RECORDS = Number(env.BENCH_USAGE_BATCH_RECORDS ?? 2000);
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'text-embedding-3-small'];
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Seeded {
  environmentId: string;
  organizationId: string;
  /** Connections of the measured organization, with their service and project. */
  connections: Array<{ id: string; serviceId: string; projectId: string }>;
  developer: Actor;
}

async function seed(client: pg.Client, end: number): Promise<Seeded> {
  const [{ id: userId }] = (await client.query(`INSERT INTO users (email, name) VALUES ('bench@usage.local', 'bench') RETURNING id`)).rows as Array<{ id: string }>;
  const [{ id: environmentId }] = (await client.query(`INSERT INTO environments (handle, name, proxy_url) VALUES ('production', 'production', 'http://127.0.0.1:8080') RETURNING id`)).rows as Array<{ id: string }>;
  const organizationIds: string[] = [];
  for (let o = 0; o < ORGANIZATIONS; o++) {
    const [{ id }] = (await client.query(`INSERT INTO organizations (handle, name) VALUES ($1, $1) RETURNING id`, [`org-${o}`])).rows as Array<{ id: string }>;
    organizationIds.push(id);
    // 4 projects, 4 services, CONNECTIONS connections spread over them.
    await client.query(`INSERT INTO projects (organization_id, handle, name) SELECT $1, 'p' || i, 'p' || i FROM generate_series(1, 4) i`, [id]);
    await client.query(
      `INSERT INTO genai_services (organization_id, scope, provider, name, context_path, service_url, marketplace_status, created_by)
       SELECT $1, 'ORGANIZATION', 'OPENAI', 's' || i, '/s' || i, 'https://api.openai.com/v1', 'PUBLISHED', $2 FROM generate_series(1, 4) i`,
      [id, userId],
    );
    await client.query(
      `INSERT INTO connections (organization_id, project_id, service_id, name, created_by)
       SELECT $1, (SELECT id FROM projects WHERE organization_id = $1 ORDER BY handle OFFSET i % 4 LIMIT 1),
                  (SELECT id FROM genai_services WHERE organization_id = $1 ORDER BY name OFFSET (i / 4) % 4 LIMIT 1), 'c' || i, $3
         FROM generate_series(0, $2 - 1) i`,
      [id, CONNECTIONS, userId],
    );
    await client.query(`INSERT INTO memberships (user_id, organization_id, role) VALUES ($1, $2, $3)`, [userId, id, o === 0 ? Role.DEVELOPER : Role.PLATFORM_ENGINEER]);
  }
  // Whole UTC days (a day bucket starts at midnight), today included: the month measured ends now.
  const today = Math.floor(end / DAY) * DAY;
  // Seeding only: skip the foreign-key triggers (the ids above are valid), several times faster.
  await client.query(`SET session_replication_role = replica`);
  for (let day = today - DAYS * DAY; day <= today; day += DAY) {
    // One day of buckets for every organization, in time order: its minutes (sparse), hours and the day.
    const t0 = performance.now();
    await client.query(
      `INSERT INTO usage_buckets (granularity, bucket_start, service_id, environment_id, connection_id, operation, request_model, response_model,
                                  organization_id, project_id, prompt_tokens, completion_tokens, total_tokens, cached_prompt_read_tokens,
                                  cached_prompt_write_tokens, reasoning_tokens, requests, errors_4xx, errors_5xx)
       SELECT t.granularity, t.ts, c.service_id, $2, c.id, CASE WHEN m.name LIKE 'text-embedding%' THEN 'embeddings' ELSE 'chat_completions' END,
              m.name, m.name || '-2025', c.organization_id, c.project_id,
              q.requests * 900, q.requests * 150, q.requests * 1050, q.requests * 300, 0, q.requests * 20, q.requests, q.requests / 40, q.requests / 55
         FROM (SELECT 'MINUTE' AS granularity, ts FROM generate_series($1::timestamptz, $1::timestamptz + interval '1 day' - interval '1 minute', interval '1 minute') ts
               UNION ALL SELECT 'HOUR', ts FROM generate_series($1::timestamptz, $1::timestamptz + interval '1 day' - interval '1 hour', interval '1 hour') ts
               UNION ALL SELECT 'DAY', $1::timestamptz) t
        CROSS JOIN connections c
        CROSS JOIN unnest($3::text[]) m(name)
        CROSS JOIN LATERAL (SELECT abs(hashtext(c.id::text || t.granularity || t.ts::text || m.name)::bigint) AS h) hashed
        CROSS JOIN LATERAL (SELECT CASE t.granularity WHEN 'MINUTE' THEN 1 + hashed.h % 3 WHEN 'HOUR' THEN 1 + hashed.h % 60 ELSE 720 + hashed.h % 720 END AS requests) q
        WHERE t.granularity <> 'MINUTE' OR hashed.h % 1000 < $4
        -- Within each hour, rows in no particular order: an hour row is created by the hour's first
        -- batch and rewritten by each later one, so it ends up among that hour's minute rows.
        ORDER BY date_trunc('hour', t.ts), hashed.h`,
      [new Date(day).toISOString(), environmentId, MODELS, Math.round(MINUTE_DENSITY * 1000)],
    );
    if ((day - today) % (10 * DAY) === 0) console.log(`seeded ${new Date(day).toISOString().slice(0, 10)} (${Math.round(performance.now() - t0)} ms for that day)`);
  }
  await client.query(`SET session_replication_role = origin`);
  // Minute rows past retention go, as UsageService prunes them; their pages are left with holes.
  await client.query(`DELETE FROM usage_buckets WHERE granularity = 'MINUTE' AND bucket_start < $1`, [new Date(end - 7 * DAY).toISOString()]);
  await client.query('VACUUM ANALYZE usage_buckets');
  const organizationId = organizationIds[0];
  const connections = (await client.query(`SELECT id, service_id AS "serviceId", project_id AS "projectId" FROM connections WHERE organization_id = $1`, [organizationId])).rows as Seeded['connections'];
  return { environmentId, organizationId, connections, developer: new Actor(userId, 'bench@usage.local', false, new Map([[organizationId, Role.DEVELOPER]])) };
}

async function describeData(client: pg.Client, organizationId: string, from: Date, to: Date): Promise<void> {
  const rows = (await client.query(`SELECT granularity, count(*)::bigint AS n FROM usage_buckets GROUP BY 1 ORDER BY 1`)).rows as Array<{ granularity: string; n: string }>;
  // A partitioned table has no storage of its own: sizes are its partitions' (or its own when it has none).
  const partitions = (await client.query(
    `SELECT c.relname, pg_size_pretty(pg_relation_size(c.oid)) AS heap, pg_total_relation_size(c.oid) AS total FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'usage_buckets'::regclass ORDER BY 1`,
  )).rows as Array<{ relname: string; heap: string; total: string }>;
  const size = (await client.query(`SELECT pg_size_pretty($1::bigint + pg_total_relation_size('usage_buckets')) AS total, pg_size_pretty(pg_relation_size('usage_buckets')) AS heap`, [
    partitions.reduce((sum, p) => sum + Number(p.total), 0),
  ])).rows[0] as { total: string; heap: string };
  const month = (await client.query(
    `SELECT count(*)::bigint AS rows, sum(requests)::bigint AS requests, sum(total_tokens)::bigint AS tokens FROM usage_buckets WHERE organization_id = $1 AND granularity = 'HOUR' AND bucket_start >= $2 AND bucket_start < $3`,
    [organizationId, from, to],
  )).rows[0] as { rows: string; requests: string; tokens: string };
  console.log(`usage_buckets: ${rows.map((r) => `${r.granularity} ${Number(r.n).toLocaleString('en-US')}`).join(', ')} rows; ${size.total} with indexes${partitions.length ? ` (heaps: ${partitions.map((p) => `${p.relname} ${p.heap}`).join(', ')})` : ` (heap ${size.heap})`}`);
  console.log(`measured organization, ${DAYS} days: ${Number(month.rows).toLocaleString('en-US')} hour rows behind ${Number(month.requests).toLocaleString('en-US')} requests, ${Number(month.tokens).toLocaleString('en-US')} tokens`);
}

async function time(label: string, run: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 3; i++) await run(); // warm-up: plans and pages cached as on a busy server
  const samples: number[] = [];
  let rows = 0;
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const result = await run();
    samples.push(performance.now() - t0);
    if (result && typeof result === 'object' && 'rows' in result) rows = (result as { rows: unknown[] }).rows.length;
  }
  samples.sort((a, b) => a - b);
  const f = (ms: number) => ms.toFixed(1).padStart(7);
  console.log(`${label.padEnd(62)} p50 ${f(percentileOfSorted(samples, 50))} ms  p95 ${f(percentileOfSorted(samples, 95))} ms  max ${f(samples[samples.length - 1])} ms  (${rows || '-'} rows, ${RUNS} runs)`);
}

/** Pages the month query touches (EXPLAIN BUFFERS): what it costs when they are not cached. */
async function pagesTouched(client: pg.Client, organizationId: string, from: Date, to: Date): Promise<void> {
  const plan = (await client.query(
    `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT bucket_start, sum(total_tokens) FROM usage_buckets
      WHERE organization_id = $1 AND granularity = 'HOUR' AND bucket_start >= $2 AND bucket_start < $3 GROUP BY 1 ORDER BY 1`,
    [organizationId, from, to],
  )).rows[0] as { 'QUERY PLAN': Array<{ Plan: { 'Shared Hit Blocks': number; 'Shared Read Blocks': number } }> };
  const top = plan['QUERY PLAN'][0].Plan;
  const pages = top['Shared Hit Blocks'] + top['Shared Read Blocks'];
  console.log(`month of hourly buckets touches ${pages.toLocaleString('en-US')} pages (${((pages * 8) / 1024).toFixed(0)} MiB)`);
}

function batchOf(seeded: Seeded, minuteStart: number): UsageRecordInput[] {
  return Array.from({ length: BATCH_RECORDS }, (_, i) => {
    const connection = seeded.connections[i % seeded.connections.length];
    const model = MODELS[i % MODELS.length];
    return {
      serviceId: connection.serviceId, connectionId: connection.id, windowUnit: 'MINUTE', windowStart: new Date(minuteStart + (i % 5) * 60_000).toISOString(),
      promptTokens: 900, completionTokens: 150, totalTokens: 1050, requests: 1, operation: 'chat_completions', requestModel: model, responseModel: `${model}-2025`,
      cachedPromptReadTokens: 300, reasoningTokens: 20,
    };
  });
}

async function main(): Promise<void> {
  await recreateBenchDatabase(DATABASE_URL);
  const db = createDataSource(DATABASE_URL, 2);
  await db.initialize();
  await db.runMigrations({ transaction: 'each' });
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    const end = Math.floor(Date.now() / HOUR) * HOUR;
    const t0 = performance.now();
    const seeded = await seed(client, end);
    console.log(`seeded in ${((performance.now() - t0) / 1000).toFixed(0)} s: ${ORGANIZATIONS} organizations × ${CONNECTIONS} connections × ${MODELS.length} models, ${DAYS} days, minute density ${MINUTE_DENSITY}`);
    const from = new Date(end - DAYS * DAY);
    const to = new Date(end);
    await describeData(client, seeded.organizationId, from, to);
    await pagesTouched(client, seeded.organizationId, from, to);

    const usage = new UsageService(db);
    const admin = new Actor(randomUUID(), 'admin@usage.local', true, new Map());
    const month = { organizationId: seeded.organizationId, from, to };
    await time(`month of HOUR buckets, one organization`, () => usage.report(admin, { filter: month, granularity: UsageGranularity.HOUR }));
    await time(`month of HOUR buckets, grouped by request model`, () => usage.report(admin, { filter: month, granularity: UsageGranularity.HOUR, groupBy: [UsageDimension.REQUEST_MODEL] }));
    await time(`month of HOUR buckets, as a DEVELOPER (visible projects)`, () => usage.report(seeded.developer, { filter: month, granularity: UsageGranularity.HOUR }));
    await time(`month of HOUR buckets, one connection`, () => usage.report(admin, { filter: { connectionId: seeded.connections[0].id, from, to }, granularity: UsageGranularity.HOUR }));
    await time(`month of DAY buckets, grouped by connection`, () => usage.report(admin, { filter: month, granularity: UsageGranularity.DAY, groupBy: [UsageDimension.CONNECTION] }));
    await time(`total of the month, grouped by model and operation`, () => usage.report(admin, { filter: { ...month, from: new Date(from.getTime() + 17 * 60_000) }, groupBy: [UsageDimension.REQUEST_MODEL, UsageDimension.OPERATION] }));
    await time(`last 24 h of MINUTE buckets`, () => usage.report(admin, { filter: { organizationId: seeded.organizationId, from: new Date(end - DAY), to }, granularity: UsageGranularity.MINUTE }));

    // Batches as a proxy sends them: BATCH_RECORDS records over 5 minutes of the current hour.
    let n = 0;
    await time(`recordBatch of ${BATCH_RECORDS} records (new batch id each run)`, () => usage.recordBatch(seeded.environmentId, `bench:${++n}`, batchOf(seeded, end)));
  } finally {
    await client.end();
    await db.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
