// Reads and conditionally updates deployment rows. An update names the revision it is about, so a
// rollout that was superseded by a newer change can never overwrite the newer deployment's status.
import { DataPlaneStore, type ProxyState } from '../data-plane-registry/data-plane-store';
import type { DataSource } from 'typeorm';
import type { DeploymentStatusEvent } from './deployment-events';
import { DeploymentStatus } from './deployment-status';

export class DeploymentStore {
  private readonly dataPlanes: DataPlaneStore;

  constructor(private readonly db: DataSource) {
    this.dataPlanes = new DataPlaneStore(db);
  }

  async current(serviceId: string, environmentId: string): Promise<DeploymentStatusEvent | null> {
    const rows = await this.select('d.service_id = $1 AND d.environment_id = $2', [serviceId, environmentId]);
    return rows[0] ?? null;
  }

  /** Moves the deployment at `revision` to `status`; returns the new row, or null when superseded (or already there). */
  async transition(serviceId: string, environmentId: string, revision: number, status: DeploymentStatus, message: string): Promise<DeploymentStatusEvent | null> {
    // One statement: the updated row, with its environment's handle, as select() reads it.
    const rows: Array<Record<string, unknown>> = await this.db.query(
      `WITH d AS (
         UPDATE deployments SET status = $4, message = $5, updated_at = now()
          WHERE service_id = $1 AND environment_id = $2 AND revision = $3 AND (status <> $4 OR message <> $5)
          RETURNING *)
       SELECT ${COLUMNS} FROM d JOIN environments e ON e.id = d.environment_id`,
      [serviceId, environmentId, revision, status, message],
    );
    return rows.length === 0 ? null : toEvent(rows[0]);
  }

  /**
   * Deployments whose job may not exist: left PENDING for `pendingMs` (never enqueued, e.g. Redis was
   * down at commit), or IN_PROGRESS for `inProgressMs` — longer than any live rollout takes, so its
   * worker died and Redis lost the job (restarted empty) or never retried it.
   */
  async unfinished(pendingMs: number, inProgressMs: number): Promise<DeploymentStatusEvent[]> {
    return this.select(
      `(d.status = '${DeploymentStatus.PENDING}' AND d.updated_at < now() - ($1::int * interval '1 millisecond'))
        OR (d.status = '${DeploymentStatus.IN_PROGRESS}' AND d.updated_at < now() - ($2::int * interval '1 millisecond'))`,
      [pendingMs, inProgressMs],
    );
  }

  /** What the proxies of the environment reported (data-plane-registry/data-plane-store.ts). */
  proxiesOf(environmentId: string): Promise<ProxyState[]> {
    return this.dataPlanes.ofEnvironment(environmentId);
  }

  private async select(where: string, params: unknown[]): Promise<DeploymentStatusEvent[]> {
    const rows: Array<Record<string, unknown>> = await this.db.query(`SELECT ${COLUMNS} FROM deployments d JOIN environments e ON e.id = d.environment_id WHERE ${where}`, params);
    return rows.map(toEvent);
  }
}

/** A deployment row `d` joined with its environment `e`, as toEvent reads it. */
const COLUMNS = 'd.id, d.service_id, d.environment_id, e.handle, d.status, d.revision, d.message, d.created_at, d.updated_at';

function toEvent(r: Record<string, unknown>): DeploymentStatusEvent {
  return {
    id: r.id as string,
    serviceId: r.service_id as string,
    environmentId: r.environment_id as string,
    environment: r.handle as string,
    status: r.status as DeploymentStatus,
    revision: Number(r.revision),
    message: r.message as string,
    createdAt: (r.created_at as Date).toISOString(),
    updatedAt: (r.updated_at as Date).toISOString(),
  };
}
