import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Data-plane trust per environment (issue 15): each environment may have its own credentials for
 * the proxies' config stream, issued and revoked by installation admins and stored hashed. A proxy
 * presenting one receives only that environment's configuration.
 */
export class DataPlaneCredentials1764110000000 implements MigrationInterface {
  name = 'DataPlaneCredentials1764110000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE data_plane_credentials (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        environment_id uuid NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
        name text NOT NULL,
        token_hash text NOT NULL UNIQUE,
        token_prefix text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
      );
      CREATE INDEX data_plane_credentials_environment_idx ON data_plane_credentials (environment_id);
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE data_plane_credentials');
  }
}
