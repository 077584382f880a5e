import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Consumer-key rotation without downtime (issue 15): a rotated key may keep working for a bounded
 * grace period. A connection then has, per environment, its current key (expires_at NULL) and at
 * most one previous key whose expires_at says when the proxies stop accepting it.
 */
export class KeyRotationGrace1764100000000 implements MigrationInterface {
  name = 'KeyRotationGrace1764100000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE connection_keys ADD COLUMN expires_at timestamptz;
      ALTER TABLE connection_keys DROP CONSTRAINT connection_keys_connection_id_environment_id_key;
      CREATE UNIQUE INDEX connection_keys_current_idx ON connection_keys (connection_id, environment_id) WHERE expires_at IS NULL;
      CREATE UNIQUE INDEX connection_keys_previous_idx ON connection_keys (connection_id, environment_id) WHERE expires_at IS NOT NULL;
      -- What the dropped constraint's index served: a connection's keys (rotation, deletion and its
      -- ON DELETE CASCADE), found without reading every key of the installation.
      CREATE INDEX connection_keys_connection_idx ON connection_keys (connection_id, environment_id);
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      DELETE FROM connection_keys WHERE expires_at IS NOT NULL;
      DROP INDEX connection_keys_connection_idx;
      DROP INDEX connection_keys_previous_idx;
      DROP INDEX connection_keys_current_idx;
      ALTER TABLE connection_keys ADD CONSTRAINT connection_keys_connection_id_environment_id_key UNIQUE (connection_id, environment_id);
      ALTER TABLE connection_keys DROP COLUMN expires_at;
    `);
  }
}
