import type { MigrationInterface, QueryRunner } from 'typeorm';

/** When each proxy applied its current revision (per-proxy rollout detail). */
export class DataPlaneAppliedAt1764060000000 implements MigrationInterface {
  name = 'DataPlaneAppliedAt1764060000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE data_planes ADD COLUMN applied_at timestamptz');
    await db.query(`CREATE INDEX deployments_status_idx ON deployments (status, updated_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP INDEX deployments_status_idx');
    await db.query('ALTER TABLE data_planes DROP COLUMN applied_at');
  }
}
