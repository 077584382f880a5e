import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The per-environment change log the config stream builds deltas from (ADR 008): what each revision
 * changed — a service (by id) or a consumer key (by hash) — written in the mutation's transaction.
 * Neither column references its table: a removed service or key keeps its row, which is how a delta
 * learns to remove it.
 */
export class ConfigChanges1764080000000 implements MigrationInterface {
  name = 'ConfigChanges1764080000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE config_changes (
        environment_id uuid NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
        revision bigint NOT NULL,
        service_id uuid,
        key_hash text,
        CHECK ((service_id IS NULL) <> (key_hash IS NULL))
      )`);
    await db.query('CREATE INDEX config_changes_environment_revision_idx ON config_changes (environment_id, revision)');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE config_changes');
  }
}
