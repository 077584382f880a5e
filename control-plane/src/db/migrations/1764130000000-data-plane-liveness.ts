import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `data_planes.live_until`: until when the replica holding a proxy's stream vouches for it (renewed by
 * a heartbeat, config-stream-server.ts). A replica that dies without recording its streams' end
 * (SIGKILL, OOM, a lost node) leaves `connected = true` behind; past `live_until` the proxy no longer
 * counts as connected. NULL (rows written by an earlier version) keeps the old reading: `connected`
 * alone. Rows connected now get a minute, enough for an upgraded replica's first heartbeat.
 */
export class DataPlaneLiveness1764130000000 implements MigrationInterface {
  name = 'DataPlaneLiveness1764130000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE data_planes ADD COLUMN live_until timestamptz');
    await db.query(`UPDATE data_planes SET live_until = now() + interval '1 minute' WHERE connected`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE data_planes DROP COLUMN live_until');
  }
}
