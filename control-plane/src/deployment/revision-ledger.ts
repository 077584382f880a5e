import type { EntityManager } from 'typeorm';
import { DeploymentStatus } from './deployment-status';

export interface BumpedEnvironment {
  environmentId: string;
  handle: string;
  revision: number;
}

/**
 * Records that a change alters what the proxies of these environments serve: bumps each
 * environment's snapshot revision and (re)opens the service's deployment there as PENDING at that
 * revision. Runs inside the mutation's transaction, so a rolled-back change bumps nothing; the row
 * lock on the environment orders concurrent changes, keeping revisions strictly increasing.
 */
export async function bumpRevisions(tx: EntityManager, serviceId: string, environmentIds: string[], message: string): Promise<BumpedEnvironment[]> {
  if (environmentIds.length === 0) return [];
  const rows: Array<{ id: string; handle: string; revision: string }> = await tx.query(
    // (Wrapped in a CTE: TypeORM returns UPDATE … RETURNING rows in a different shape than SELECT rows.)
    `WITH bumped AS (UPDATE environments SET revision = revision + 1 WHERE id = ANY($1::uuid[]) RETURNING id, handle, revision)
     SELECT id, handle, revision FROM bumped ORDER BY handle`,
    [environmentIds],
  );
  const bumped = rows.map((r) => ({ environmentId: r.id, handle: r.handle, revision: Number(r.revision) }));
  for (const env of bumped) {
    await tx.query(
      `INSERT INTO deployments (service_id, environment_id, revision, status, message)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (service_id, environment_id)
       DO UPDATE SET revision = EXCLUDED.revision, status = EXCLUDED.status, message = EXCLUDED.message, updated_at = now()`,
      [serviceId, env.environmentId, env.revision, DeploymentStatus.PENDING, message],
    );
  }
  return bumped;
}
