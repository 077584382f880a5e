import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Usage pre-aggregated per minute, hour and day and per request dimension (ADR 006). The per-window
 * rows of usage_rollups are copied in; usage_rollups itself is left in place, unused, for one release
 * (expand/contract), so `down` returns to a previous version that still has its data.
 */
export class UsageBuckets1764070000000 implements MigrationInterface {
  name = 'UsageBuckets1764070000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE usage_buckets (
        granularity text NOT NULL CHECK (granularity IN ('MINUTE', 'HOUR', 'DAY')),
        bucket_start timestamptz NOT NULL,
        service_id uuid NOT NULL REFERENCES genai_services(id) ON DELETE CASCADE,
        environment_id uuid NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
        -- no foreign key: usage outlives a deleted connection
        connection_id uuid NOT NULL,
        operation text NOT NULL,
        request_model text NOT NULL,
        response_model text NOT NULL,
        -- The service's organization, copied so organization reads need no join (a service never moves).
        organization_id uuid NOT NULL,
        -- The connection's project; null when neither the connection nor the reported project is known.
        project_id uuid,
        prompt_tokens bigint NOT NULL DEFAULT 0,
        completion_tokens bigint NOT NULL DEFAULT 0,
        total_tokens bigint NOT NULL DEFAULT 0,
        cached_prompt_read_tokens bigint NOT NULL DEFAULT 0,
        cached_prompt_write_tokens bigint NOT NULL DEFAULT 0,
        reasoning_tokens bigint NOT NULL DEFAULT 0,
        requests bigint NOT NULL DEFAULT 0,
        errors_4xx bigint NOT NULL DEFAULT 0,
        errors_5xx bigint NOT NULL DEFAULT 0,
        CHECK (bucket_start = date_trunc(lower(granularity), bucket_start AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'),
        -- The upsert's conflict target; (granularity, bucket_start) first also serves minute pruning.
        PRIMARY KEY (granularity, bucket_start, service_id, environment_id, connection_id, operation, request_model, response_model)
      ) PARTITION BY LIST (granularity);
      -- One partition per granularity: hour and day rows do not share pages with the 60x more numerous
      -- minute rows, so a month of one organization's hours reads few pages. Fill factor 90 leaves room
      -- for HOT updates: the upsert only changes the sums, which no index holds.
      CREATE TABLE usage_buckets_minute PARTITION OF usage_buckets FOR VALUES IN ('MINUTE') WITH (fillfactor = 90);
      CREATE TABLE usage_buckets_hour PARTITION OF usage_buckets FOR VALUES IN ('HOUR') WITH (fillfactor = 90);
      CREATE TABLE usage_buckets_day PARTITION OF usage_buckets FOR VALUES IN ('DAY') WITH (fillfactor = 90);
      -- The read paths, each within a partition (the granularity is the partition).
      CREATE INDEX usage_buckets_organization_idx ON usage_buckets (organization_id, bucket_start);
      CREATE INDEX usage_buckets_project_idx ON usage_buckets (project_id, bucket_start);
      CREATE INDEX usage_buckets_service_idx ON usage_buckets (service_id, bucket_start);
      CREATE INDEX usage_buckets_connection_idx ON usage_buckets (connection_id, bucket_start);
    `);
    // Each old row was recorded in its rate-limit window: it becomes a bucket of that granularity and of
    // every coarser one, as a record from a proxy of that version is stored today.
    await db.query(`
      INSERT INTO usage_buckets (granularity, bucket_start, service_id, environment_id, connection_id, operation, request_model, response_model,
                                 organization_id, project_id, prompt_tokens, completion_tokens, total_tokens, requests)
      SELECT g.granularity, date_trunc(lower(g.granularity), u.window_start AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', u.service_id, u.environment_id, u.connection_id, '', '', '',
             s.organization_id, (array_agg(c.project_id) FILTER (WHERE c.project_id IS NOT NULL))[1],
             sum(u.prompt_tokens), sum(u.completion_tokens), sum(u.total_tokens), sum(u.requests)
        FROM usage_rollups u
        JOIN genai_services s ON s.id = u.service_id
        LEFT JOIN connections c ON c.id = u.connection_id AND c.organization_id = s.organization_id
        JOIN (VALUES ('MINUTE', 0), ('HOUR', 1), ('DAY', 2)) AS g(granularity, rank)
          ON g.rank >= CASE u.window_unit WHEN 'MINUTE' THEN 0 WHEN 'HOUR' THEN 1 ELSE 2 END
       GROUP BY 1, 2, u.service_id, u.environment_id, u.connection_id, s.organization_id
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE usage_buckets');
  }
}
