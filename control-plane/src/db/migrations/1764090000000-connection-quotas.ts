import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Fair quotas across consumers (issue 13): per service environment, a shadow flag on the service's
 * budget, a default quota for each of its connections and the stream cut-off; per connection and
 * environment, an override of that quota; per usage bucket, the requests admitted only because a
 * budget in shadow mode did not refuse them. Every new column has a default, so rows written before
 * keep their meaning (enforced budgets, no quotas, streams never cut off, nothing would have been refused).
 */
export class ConnectionQuotas1764090000000 implements MigrationInterface {
  name = 'ConnectionQuotas1764090000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE service_environment_configs
        ADD COLUMN rate_limit_shadow boolean NOT NULL DEFAULT false,
        ADD COLUMN connection_quota_time_unit text CHECK (connection_quota_time_unit IN ('MINUTE', 'HOUR', 'DAY')),
        ADD COLUMN connection_quota_max_prompt_tokens integer CHECK (connection_quota_max_prompt_tokens > 0),
        ADD COLUMN connection_quota_max_completion_tokens integer CHECK (connection_quota_max_completion_tokens > 0),
        ADD COLUMN connection_quota_max_total_tokens integer CHECK (connection_quota_max_total_tokens > 0),
        ADD COLUMN connection_quota_shadow boolean NOT NULL DEFAULT false,
        ADD COLUMN stream_cutoff boolean NOT NULL DEFAULT false
    `);
    // One row per overridden (connection, environment); the primary key is also the snapshot
    // builder's LEFT JOIN path from connection_keys. No max at all: the connection is unlimited.
    await db.query(`
      CREATE TABLE connection_quota_overrides (
        connection_id uuid NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
        environment_id uuid NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
        time_unit text NOT NULL CHECK (time_unit IN ('MINUTE', 'HOUR', 'DAY')),
        max_prompt_tokens integer CHECK (max_prompt_tokens > 0),
        max_completion_tokens integer CHECK (max_completion_tokens > 0),
        max_total_tokens integer CHECK (max_total_tokens > 0),
        shadow boolean NOT NULL DEFAULT false,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (connection_id, environment_id)
      )`);
    // Added to the partitioned table, so to each partition; a constant default rewrites no row.
    await db.query('ALTER TABLE usage_buckets ADD COLUMN would_have_refused bigint NOT NULL DEFAULT 0');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE usage_buckets DROP COLUMN would_have_refused');
    await db.query('DROP TABLE connection_quota_overrides');
    await db.query(`
      ALTER TABLE service_environment_configs
        DROP COLUMN rate_limit_shadow,
        DROP COLUMN connection_quota_time_unit,
        DROP COLUMN connection_quota_max_prompt_tokens,
        DROP COLUMN connection_quota_max_completion_tokens,
        DROP COLUMN connection_quota_max_total_tokens,
        DROP COLUMN connection_quota_shadow,
        DROP COLUMN stream_cutoff
    `);
  }
}
