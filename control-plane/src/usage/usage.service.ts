// Usage reported by the proxies: stored pre-aggregated per minute, hour and day (usage_buckets,
// ADR 006) and read back as reports and as the older per-window view.
import type { DataSource, EntityManager } from 'typeorm';
import type { Actor } from '../auth/actor';
import { badUserInput } from '../common/errors';
import { ProjectService } from '../project/project.service';
import { type UsageScopeRequest, resolveUsageScope } from './usage-scope';
import { type BucketSegment, MINUTE_RETENTION_MS, resolveUsageRange } from './usage-range';
import { type CleanUsageRecord, MAX_MODEL_LENGTH, MAX_OPERATION_LENGTH, type UsageRecordInput, cleanUsageRecord } from './usage-record';
import { UsageDimension, type UsageGranularity, type UsageReportRowType, type UsageReportType, type UsageWindowType } from './usage.types';

export type { UsageRecordInput } from './usage-record';

export interface UsageReportRequest {
  filter: UsageScopeRequest & { from?: Date | null; to?: Date | null; model?: string | null; operation?: string | null };
  groupBy?: UsageDimension[] | null;
  granularity?: UsageGranularity | null;
}

/** More rows than this in one report is refused: a console cannot show them, and building them costs. */
export const MAX_REPORT_ROWS = 10_000;
/** Minute rows past retention are deleted at most this often per control-plane process. */
const PRUNE_INTERVAL_MS = 10 * 60_000;
const DEADLOCK_DETECTED = '40P01';
const ATTEMPTS = 3;

const DIMENSION_COLUMNS: Readonly<Record<UsageDimension, string>> = {
  [UsageDimension.ENVIRONMENT]: 'environment_id',
  [UsageDimension.PROJECT]: 'project_id',
  [UsageDimension.SERVICE]: 'service_id',
  [UsageDimension.CONNECTION]: 'connection_id',
  [UsageDimension.OPERATION]: 'operation',
  [UsageDimension.REQUEST_MODEL]: 'request_model',
  [UsageDimension.RESPONSE_MODEL]: 'response_model',
};

const SUMS = [
  ['prompt_tokens', 'promptTokens'],
  ['completion_tokens', 'completionTokens'],
  ['total_tokens', 'totalTokens'],
  ['cached_prompt_read_tokens', 'cachedPromptReadTokens'],
  ['cached_prompt_write_tokens', 'cachedPromptWriteTokens'],
  ['reasoning_tokens', 'reasoningTokens'],
  ['requests', 'requests'],
  ['errors_4xx', 'errors4xx'],
  ['errors_5xx', 'errors5xx'],
  ['would_have_refused', 'wouldHaveRefused'],
] as const;
const SUM_COLUMNS = SUMS.map(([column]) => column);

/**
 * Every record goes into its minute, hour and day bucket (a record of an older proxy, reported per
 * hour or day, only into buckets at least that coarse), all records of a batch in this one statement.
 * Rows are upserted in primary-key order, the same order in every transaction, so two batches touching
 * the same buckets wait for each other instead of deadlocking. Organization comes from the service
 * row; project from the connection when it still exists, else from the record when that project is
 * in the service's organization. Records of unknown services find no service row and are dropped.
 */
const UPSERT_BUCKETS = `
  INSERT INTO usage_buckets AS b (granularity, bucket_start, service_id, environment_id, connection_id, operation, request_model, response_model,
                                  organization_id, project_id, ${SUM_COLUMNS.join(', ')})
  SELECT g.granularity, date_trunc(lower(g.granularity), r.window_start AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS bucket_start,
         s.id, $1::uuid, r.connection_id, r.operation, r.request_model, r.response_model,
         s.organization_id, (array_agg(COALESCE(c.project_id, p.id)) FILTER (WHERE COALESCE(c.project_id, p.id) IS NOT NULL))[1],
         ${SUM_COLUMNS.map((column) => `sum(r.${column})`).join(', ')}
    FROM unnest($2::uuid[], $3::uuid[], $4::int[], $5::timestamptz[], $6::uuid[], $7::text[], $8::text[], $9::text[],
                ${SUM_COLUMNS.map((_, i) => `$${10 + i}::bigint[]`).join(', ')})
         AS r(service_id, connection_id, unit_rank, window_start, project_id, operation, request_model, response_model, ${SUM_COLUMNS.join(', ')})
    JOIN genai_services s ON s.id = r.service_id
    JOIN (VALUES ('MINUTE', 0), ('HOUR', 1), ('DAY', 2)) AS g(granularity, rank) ON g.rank >= r.unit_rank
    LEFT JOIN connections c ON c.id = r.connection_id AND c.organization_id = s.organization_id
    LEFT JOIN projects p ON p.id = r.project_id AND p.organization_id = s.organization_id
   -- a minute that is already past retention would only be pruned again
   WHERE g.rank > 0 OR r.window_start >= now() - ${MINUTE_RETENTION_MS / 1000} * interval '1 second'
   GROUP BY g.granularity, bucket_start, s.id, r.connection_id, r.operation, r.request_model, r.response_model
   ORDER BY g.granularity, bucket_start, s.id, r.connection_id, r.operation, r.request_model, r.response_model
  ON CONFLICT (granularity, bucket_start, service_id, environment_id, connection_id, operation, request_model, response_model) DO UPDATE SET
    project_id = COALESCE(b.project_id, EXCLUDED.project_id),
    ${SUM_COLUMNS.map((column) => `${column} = b.${column} + EXCLUDED.${column}`).join(',\n    ')}`;

function isDeadlock(error: unknown): boolean {
  const e = error as { code?: string; driverError?: { code?: string } };
  return e?.code === DEADLOCK_DETECTED || e?.driverError?.code === DEADLOCK_DETECTED;
}

export class UsageService {
  private nextPruneAt = 0;

  constructor(
    private readonly db: DataSource,
    private readonly projects: ProjectService = new ProjectService(db),
  ) {}

  /**
   * Applies a proxy's usage batch once: the batch id is recorded in the same transaction, so a batch
   * re-sent after a lost acknowledgement changes nothing. Records that cannot be attributed (unknown
   * service, malformed ids) are dropped: a proxy must never be stuck re-sending a batch.
   * Returns false when the batch had been applied before.
   */
  async recordBatch(environmentId: string, batchId: string, records: UsageRecordInput[]): Promise<boolean> {
    const clean = records.map(cleanUsageRecord).filter((r): r is CleanUsageRecord => r !== null);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction((tx) => this.applyBatch(tx, environmentId, batchId.slice(0, 200), clean));
      } catch (error) {
        // Batches lock bucket rows in one order and cannot deadlock each other; anything else that
        // locks them (an operator's maintenance, a future writer) may, and then the batch is retried.
        if (!isDeadlock(error) || attempt >= ATTEMPTS) throw error;
      }
    }
  }

  private async applyBatch(tx: EntityManager, environmentId: string, batchId: string, records: CleanUsageRecord[]): Promise<boolean> {
    const fresh: unknown[] = await tx.query('INSERT INTO usage_batches (batch_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING batch_id', [batchId]);
    if (fresh.length === 0) return false;
    if (records.length > 0) {
      await tx.query(UPSERT_BUCKETS, [
        environmentId,
        records.map((r) => r.serviceId),
        records.map((r) => r.connectionId),
        records.map((r) => r.unitRank),
        records.map((r) => r.windowStart.toISOString()),
        records.map((r) => r.projectId),
        records.map((r) => r.operation),
        records.map((r) => r.requestModel),
        records.map((r) => r.responseModel),
        ...SUMS.map(([, field]) => records.map((r) => r[field])),
      ]);
    }
    if (Date.now() >= this.nextPruneAt) {
      this.nextPruneAt = Date.now() + PRUNE_INTERVAL_MS;
      // Batch ids only need to outlive a proxy's re-sends; minute rows their retention.
      await tx.query(`DELETE FROM usage_batches WHERE received_at < now() - interval '7 days'`);
      await tx.query(`DELETE FROM usage_buckets WHERE granularity = 'MINUTE' AND bucket_start < now() - $1 * interval '1 second'`, [MINUTE_RETENTION_MS / 1000]);
    }
    return true;
  }

  /**
   * Sums over the buckets the filter selects, per time bucket (granularity) and per grouped dimension.
   * Checks the range and the caller's reach before reading anything.
   */
  async report(actor: Actor, request: UsageReportRequest, now: Date = new Date()): Promise<UsageReportType> {
    const { filter } = request;
    const range = resolveUsageRange({ from: filter.from, to: filter.to, granularity: request.granularity ?? null }, now);
    if (filter.model != null && filter.model.length > MAX_MODEL_LENGTH) throw badUserInput('filter.model', `must be at most ${MAX_MODEL_LENGTH} characters`);
    if (filter.operation != null && filter.operation.length > MAX_OPERATION_LENGTH) throw badUserInput('filter.operation', `must be at most ${MAX_OPERATION_LENGTH} characters`);
    const scope = await resolveUsageScope(this.db, this.projects, actor, filter);

    const params: unknown[] = [];
    const param = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    const where = [`b.organization_id = ${param(scope.organizationId)}`, `(${range.segments.map((s) => this.segmentCondition(s, param)).join(' OR ')})`];
    if (scope.visibleProjectIds) where.push(`b.project_id = ANY(${param(scope.visibleProjectIds)}::uuid[])`);
    if (scope.environmentId) where.push(`b.environment_id = ${param(scope.environmentId)}`);
    if (scope.projectId) where.push(`b.project_id = ${param(scope.projectId)}`);
    if (scope.serviceId) where.push(`b.service_id = ${param(scope.serviceId)}`);
    if (scope.connectionId) where.push(`b.connection_id = ${param(scope.connectionId)}`);
    if (filter.operation != null) where.push(`b.operation = ${param(filter.operation)}`);
    if (filter.model != null) {
      const model = param(filter.model);
      where.push(`(b.request_model = ${model} OR b.response_model = ${model})`);
    }
    const dimensions = [...new Set(request.groupBy ?? [])];
    const groups = [...(range.granularity ? ['bucket_start'] : []), ...dimensions.map((d) => DIMENSION_COLUMNS[d])];
    const rows = await this.read(
      `SELECT ${[...groups.map((column) => `b.${column}`), ...SUM_COLUMNS.map((column) => `COALESCE(sum(b.${column}), 0)::text AS ${column}`)].join(', ')}
         FROM usage_buckets b
        WHERE ${where.join(' AND ')}
        ${groups.length > 0 ? `GROUP BY ${groups.map((column) => `b.${column}`).join(', ')} ORDER BY ${groups.map((column) => `b.${column}`).join(', ')}` : ''}
        LIMIT ${MAX_REPORT_ROWS + 1}`,
      params,
    );
    if (rows.length > MAX_REPORT_ROWS) {
      throw badUserInput('groupBy', `the report has more than ${MAX_REPORT_ROWS} rows: shorten the range, use a coarser granularity, filter more or group by fewer dimensions`);
    }
    const handles = dimensions.includes(UsageDimension.ENVIRONMENT) ? await this.environmentHandles() : new Map<string, string>();
    const grouped = (dimension: UsageDimension): boolean => dimensions.includes(dimension);
    return {
      from: range.from,
      to: range.to,
      granularity: range.granularity as UsageGranularity | null,
      rows: rows.map((row): UsageReportRowType => ({
        bucketStart: range.granularity ? (row.bucket_start as Date) : null,
        environment: grouped(UsageDimension.ENVIRONMENT) ? (handles.get(row.environment_id as string) ?? null) : null,
        projectId: grouped(UsageDimension.PROJECT) ? (row.project_id as string | null) : null,
        serviceId: grouped(UsageDimension.SERVICE) ? (row.service_id as string) : null,
        connectionId: grouped(UsageDimension.CONNECTION) ? (row.connection_id as string) : null,
        operation: grouped(UsageDimension.OPERATION) ? (row.operation as string) : null,
        requestModel: grouped(UsageDimension.REQUEST_MODEL) ? (row.request_model as string) : null,
        responseModel: grouped(UsageDimension.RESPONSE_MODEL) ? (row.response_model as string) : null,
        ...(Object.fromEntries(SUMS.map(([column, field]) => [field, Number(row[column])])) as Pick<UsageReportRowType, (typeof SUMS)[number][1]>),
      })),
    };
  }

  /**
   * The per-window view of older clients, newest first: DAY windows where the environment's rate-limit
   * unit is DAY, HOUR windows otherwise (MINUTE-limited services included: minute rows are pruned after
   * 7 days, so their windows would silently lose history). Summed over every other dimension.
   */
  async windows(actor: Actor, scope: { connectionId: string } | { serviceId: string }, environment: string | null, limit: number): Promise<UsageWindowType[]> {
    const byConnection = 'connectionId' in scope;
    const { visibleProjectIds: visible } = await resolveUsageScope(this.db, this.projects, actor, scope);
    const rows = await this.read(
      `SELECT e.handle AS environment, b.granularity, b.bucket_start,
              sum(b.prompt_tokens)::bigint AS prompt_tokens, sum(b.completion_tokens)::bigint AS completion_tokens,
              sum(b.total_tokens)::bigint AS total_tokens, sum(b.requests)::bigint AS requests,
              sum(b.would_have_refused)::bigint AS would_have_refused
         FROM usage_buckets b
         JOIN environments e ON e.id = b.environment_id
         LEFT JOIN service_environment_configs c ON c.service_id = b.service_id AND c.environment_id = b.environment_id
        WHERE ${byConnection ? 'b.connection_id' : 'b.service_id'} = $1
          AND b.granularity IN ('HOUR', 'DAY') -- a constant the planner prunes the minute partition with
          AND b.granularity = CASE WHEN c.rate_limit_time_unit = 'DAY' THEN 'DAY' ELSE 'HOUR' END
          AND ($2::text IS NULL OR e.handle = $2)
          AND ($4::uuid[] IS NULL OR b.project_id = ANY($4::uuid[]))
        GROUP BY e.handle, b.granularity, b.bucket_start
        ORDER BY b.bucket_start DESC, e.handle
        LIMIT $3`,
      [byConnection ? scope.connectionId : scope.serviceId, environment, Math.min(Math.max(limit, 1), 1000), visible],
    );
    return rows.map((r) => ({
      environment: r.environment as string,
      windowUnit: r.granularity as UsageWindowType['windowUnit'],
      windowStart: r.bucket_start as Date,
      promptTokens: Number(r.prompt_tokens),
      completionTokens: Number(r.completion_tokens),
      totalTokens: Number(r.total_tokens),
      requests: Number(r.requests),
      wouldHaveRefused: Number(r.would_have_refused),
    }));
  }

  /**
   * A report query with JIT compilation off: its cost estimate (a bitmap heap scan over tens of
   * thousands of rows) crosses jit_above_cost, and compiling took longer than running (ADR 006).
   */
  private read(sql: string, params: unknown[]): Promise<Array<Record<string, unknown>>> {
    return this.db.transaction(async (tx) => {
      await tx.query('SET LOCAL jit = off');
      return (await tx.query(sql, params)) as Array<Record<string, unknown>>;
    });
  }

  private segmentCondition(segment: BucketSegment, param: (value: unknown) => string): string {
    return `(b.granularity = ${param(segment.granularity)} AND b.bucket_start >= ${param(segment.from)} AND b.bucket_start < ${param(segment.to)})`;
  }

  private async environmentHandles(): Promise<Map<string, string>> {
    const rows: Array<{ id: string; handle: string }> = await this.db.query('SELECT id, handle FROM environments');
    return new Map(rows.map((r) => [r.id, r.handle]));
  }
}
