import type { EntityManager } from 'typeorm';
import { DeploymentStatus } from '../deployment/deployment-status';

export interface BumpedEnvironment {
  environmentId: string;
  handle: string;
  revision: number;
}

/** What a change altered in what proxies serve; the config stream sends just these in its delta. */
export interface ServedChange {
  /** The service itself (route, upstream, credentials, limits): resent whole. Default true. */
  service?: boolean;
  /** Consumer keys added or removed, each in its environment. */
  keys?: ReadonlyArray<{ environmentId: string; keyHash: string }>;
}

/**
 * Records that a change alters what the proxies of these environments serve: bumps each
 * environment's snapshot revision, writes what changed into the environment's change log
 * (config_changes, read by the config stream to build deltas), and (re)opens the service's deployment
 * there as PENDING at that revision. Runs inside the mutation's transaction, so a rolled-back change
 * bumps nothing; the row lock on the environment orders concurrent changes, keeping revisions
 * strictly increasing. Its cost depends on what changed, never on how many keys an environment holds.
 */
export async function bumpRevisions(tx: EntityManager, serviceId: string, environmentIds: string[], message: string, change: ServedChange = { service: true }): Promise<BumpedEnvironment[]> {
  if (environmentIds.length === 0) return [];
  // Row locks in one fixed order (by id) before the update: two changes touching the same environments
  // would otherwise lock them in whatever order the update scans them and could deadlock. NO KEY UPDATE,
  // as the update itself takes: it does not wait for the key-share locks of rows referencing them.
  await tx.query('SELECT id FROM environments WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE', [environmentIds]);
  const rows: Array<{ id: string; handle: string; revision: string }> = await tx.query(
    // (Wrapped in a CTE: TypeORM returns UPDATE … RETURNING rows in a different shape than SELECT rows.)
    `WITH bumped AS (UPDATE environments SET revision = revision + 1 WHERE id = ANY($1::uuid[]) RETURNING id, handle, revision)
     SELECT id, handle, revision FROM bumped ORDER BY handle`,
    [environmentIds],
  );
  const bumped = rows.map((r) => ({ environmentId: r.id, handle: r.handle, revision: Number(r.revision) }));
  // Every bumped revision gets at least one log row: the delta builder checks that the log covers every
  // revision it spans, and falls back to a full snapshot where it does not.
  const log: Array<[environmentId: string, revision: number, serviceId: string | null, keyHash: string | null]> = [];
  for (const env of bumped) {
    const keys = (change.keys ?? []).filter((k) => k.environmentId === env.environmentId);
    if (change.service !== false || keys.length === 0) log.push([env.environmentId, env.revision, serviceId, null]);
    for (const key of keys) log.push([env.environmentId, env.revision, null, key.keyHash]);
  }
  await tx.query(
    `INSERT INTO config_changes (environment_id, revision, service_id, key_hash)
     SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::text[])`,
    [log.map((r) => r[0]), log.map((r) => r[1]), log.map((r) => r[2]), log.map((r) => r[3])],
  );
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
