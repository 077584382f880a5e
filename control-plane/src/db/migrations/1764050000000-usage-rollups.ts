import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Token usage reported by proxies, rolled up per connection and window; batches applied once. */
export class UsageRollups1764050000000 implements MigrationInterface {
  name = 'UsageRollups1764050000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE usage_batches (
        batch_id text PRIMARY KEY,
        received_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX usage_batches_received_idx ON usage_batches (received_at);
      CREATE TABLE usage_rollups (
        service_id uuid NOT NULL REFERENCES genai_services(id) ON DELETE CASCADE,
        environment_id uuid NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
        -- no foreign key: usage outlives a deleted connection
        connection_id uuid NOT NULL,
        window_unit text NOT NULL CHECK (window_unit IN ('MINUTE', 'HOUR', 'DAY')),
        window_start timestamptz NOT NULL,
        prompt_tokens bigint NOT NULL DEFAULT 0,
        completion_tokens bigint NOT NULL DEFAULT 0,
        total_tokens bigint NOT NULL DEFAULT 0,
        requests bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (service_id, environment_id, connection_id, window_unit, window_start)
      );
      CREATE INDEX usage_rollups_connection_idx ON usage_rollups (connection_id, window_start DESC);
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE usage_rollups, usage_batches');
  }
}
