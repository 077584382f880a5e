import { escapeLiteral, type PoolClient, type QueryResult } from 'pg';
import type { QueryRunner } from 'typeorm';
import type { DeploymentStatusEvent } from '../deployment/deployment-events';
import { DeploymentStatus } from '../deployment/deployment-status';

export interface BumpedEnvironment {
  environmentId: string;
  handle: string;
  revision: number;
  /** The service's deployment there, as the change left it: PENDING at `revision`. */
  deployment: DeploymentStatusEvent;
}

/** What a change altered in what proxies serve; the config stream sends just these in its delta. */
export interface ServedChange {
  /** The service itself (route, upstream, credentials, limits): resent whole. Default true. */
  service?: boolean;
  /** Consumer keys added or removed, each in its environment. */
  keys?: ReadonlyArray<{ environmentId: string; keyHash: string }>;
}

/** A revision bump a unit of work asked for (ChangeRecorder.alters), made as it commits. */
export interface RevisionBump {
  serviceId: string;
  environmentIds: string[];
  message: string;
  served?: ServedChange;
}

/**
 * Commits the transaction open on `runner` with, as its last statements, `before` (the unit of work's
 * own statements that need no answer: its audit event) and what a change records about
 * the proxies of the environments it alters: each environment's snapshot revision bumped, what
 * changed written into the environment's change log (config_changes, read by the config stream to
 * build deltas), and the service's deployment there (re)opened as PENDING at that revision. A
 * rolled-back change bumps nothing; the row lock on the environment orders concurrent changes,
 * keeping revisions strictly increasing in commit order. Its cost depends on what changed, never on
 * how many keys an environment holds.
 *
 * Every change of an environment waits for that lock until the previous change has committed, so
 * the lock, the bump and the COMMIT go to the database as one message (simple query protocol, several
 * statements, values as escaped literals): the lock is held for what the database does, never for a
 * round trip through a busy control plane. With one round trip per statement (lock, bump, log, each
 * deployment, commit) under the lock, 50 changes/s queued behind each other (ADR 014).
 *
 * On failure the transaction is left to the caller to roll back (a failed COMMIT has ended it already).
 */
export async function bumpRevisions(runner: QueryRunner, bump: RevisionBump, before: readonly string[] = []): Promise<BumpedEnvironment[]> {
  const { serviceId, environmentIds, message, served = { service: true } } = bump;
  // The client TypeORM holds for this runner (connect() returns it once connected).
  const client = (await runner.connect()) as PoolClient;
  const environments = [...new Set(environmentIds)];
  if (environments.length === 0) {
    await client.query([...before, 'COMMIT'].join(';\n'));
    (runner as { isTransactionActive: boolean }).isTransactionActive = false;
    return [];
  }
  // Every bumped revision gets at least one log row (the delta builder checks that the log covers every
  // revision it spans, and falls back to a full snapshot where it does not): per environment, the
  // service row unless only keys changed there, then one row per key.
  const log: Array<[environmentId: string, serviceId: string | null, keyHash: string | null]> = [];
  for (const environmentId of environments) {
    const keys = (served.keys ?? []).filter((k) => k.environmentId === environmentId);
    if (served.service !== false || keys.length === 0) log.push([environmentId, serviceId, null]);
    for (const key of keys) log.push([environmentId, null, key.keyHash]);
  }
  const literal = (value: string | null) => (value === null ? 'NULL' : escapeLiteral(value));
  const array = (values: Array<string | null>, type: string) => `ARRAY[${values.map(literal).join(', ')}]::${type}[]`;
  const ids = array(environments, 'uuid');
  const sql = [
    // The unit of work's own last statements (its audit event), before the environments are locked.
    ...before,
    // Row locks in one fixed order (by id) before the update: two changes touching the same environments
    // would otherwise lock them in whatever order the update scans them and could deadlock. NO KEY UPDATE,
    // as the update itself takes: it does not wait for the key-share locks of rows referencing them.
    `SELECT id FROM environments WHERE id = ANY(${ids}) ORDER BY id FOR NO KEY UPDATE`,
    // A statement of its own, so its snapshot is taken once the locks are held: it sees the revision the
    // previous change committed. The log and the deployments take the new revision from RETURNING.
    `WITH bumped AS (UPDATE environments SET revision = revision + 1 WHERE id = ANY(${ids}) RETURNING id, handle, revision),
     logged AS (
       INSERT INTO config_changes (environment_id, revision, service_id, key_hash)
       SELECT b.id, b.revision, l.service_id, l.key_hash
         FROM unnest(${array(log.map((r) => r[0]), 'uuid')}, ${array(log.map((r) => r[1]), 'uuid')}, ${array(log.map((r) => r[2]), 'text')}) AS l(environment_id, service_id, key_hash)
         JOIN bumped b ON b.id = l.environment_id),
     deployed AS (
       INSERT INTO deployments (service_id, environment_id, revision, status, message)
       SELECT ${literal(serviceId)}::uuid, b.id, b.revision, ${literal(DeploymentStatus.PENDING)}, ${literal(message)} FROM bumped b
       ON CONFLICT (service_id, environment_id)
       DO UPDATE SET revision = EXCLUDED.revision, status = EXCLUDED.status, message = EXCLUDED.message, updated_at = now()
       RETURNING id, environment_id, created_at, updated_at)
     SELECT b.id, b.handle, b.revision, d.id AS deployment_id, d.created_at, d.updated_at
       FROM bumped b JOIN deployed d ON d.environment_id = b.id ORDER BY b.handle`,
    'COMMIT',
  ].join(';\n');
  type Row = { id: string; handle: string; revision: string; deployment_id: string; created_at: Date; updated_at: Date };
  const results = (await client.query(sql)) as unknown as QueryResult<Row>[];
  // Committed: TypeORM's runner must not roll back or commit it again.
  (runner as { isTransactionActive: boolean }).isTransactionActive = false;
  return results[before.length + 1].rows.map((r) => {
    const revision = Number(r.revision);
    return {
      environmentId: r.id,
      handle: r.handle,
      revision,
      deployment: {
        id: r.deployment_id,
        serviceId,
        environmentId: r.id,
        environment: r.handle,
        status: DeploymentStatus.PENDING,
        revision,
        message,
        createdAt: r.created_at.toISOString(),
        updatedAt: r.updated_at.toISOString(),
      },
    };
  });
}
