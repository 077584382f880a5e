// Reads and conditionally updates deployment rows. An update names the revision it is about, so a
// rollout that was superseded by a newer change can never overwrite the newer deployment's status.
// The status moves asked for in one turn of the event loop (the rollouts that one proxy report
// finished, typically) go to PostgreSQL as one statement: a round trip per turn, not per rollout.
import { DataPlaneStore, type ProxyState } from '../data-plane-registry/data-plane-store';
import type { DataSource } from 'typeorm';
import type { DeploymentStatusEvent } from './deployment-events';
import { DeploymentStatus } from './deployment-status';

/** A status move of the deployment of `serviceId` in `environmentId` at `revision`. */
interface Move {
  readonly serviceId: string;
  readonly environmentId: string;
  readonly revision: number;
  readonly status: DeploymentStatus;
  readonly message: string;
}

interface PendingMove {
  readonly move: Move;
  readonly resolve: (row: DeploymentStatusEvent | null) => void;
  readonly reject: (error: unknown) => void;
}

/** What begin() found and did. */
export interface RolloutStart {
  /** The deployment as it was before the call (null: none for this service and environment). */
  readonly before: DeploymentStatusEvent | null;
  /** The deployment once moved to IN_PROGRESS, or null when it was not moved (superseded, finished, or IN_PROGRESS already with this message). */
  readonly started: DeploymentStatusEvent | null;
}

/** Most moves in one statement (its parameters are arrays: the size changes nothing else). */
const MAX_MOVES_PER_STATEMENT = 500;

function moveKey(serviceId: string, environmentId: string, revision: number): string {
  return `${serviceId}/${environmentId}/${revision}`;
}

export class DeploymentStore {
  private readonly dataPlanes: DataPlaneStore;
  /** Moves asked for in this turn, sent together at its end. */
  private pendingMoves: PendingMove[] = [];

  constructor(private readonly db: DataSource) {
    this.dataPlanes = new DataPlaneStore(db);
  }

  async current(serviceId: string, environmentId: string): Promise<DeploymentStatusEvent | null> {
    const rows = await this.select('d.service_id = $1 AND d.environment_id = $2', [serviceId, environmentId]);
    return rows[0] ?? null;
  }

  /**
   * The start of a rollout, in one statement: the deployment as it was, and, when it is still at
   * `revision` and neither DEPLOYED nor FAILED, moved to IN_PROGRESS with `message`.
   */
  async begin(serviceId: string, environmentId: string, revision: number, message: string): Promise<RolloutStart> {
    // The UPDATE's conditions are on the row itself, so a change committed meanwhile (a newer
    // revision) is re-checked on the newest version of the row; the SELECT sees the row as it was.
    const rows: Array<Record<string, unknown>> = await this.db.query(
      `WITH s AS (
         UPDATE deployments SET status = $4, message = $5, updated_at = now()
          WHERE service_id = $1 AND environment_id = $2 AND revision = $3
            AND status IN ($4, $6) AND (status <> $4 OR message <> $5)
          RETURNING *)
       SELECT true AS started, ${COLUMNS} FROM s d JOIN environments e ON e.id = d.environment_id
       UNION ALL
       SELECT false AS started, ${COLUMNS} FROM deployments d JOIN environments e ON e.id = d.environment_id
        WHERE d.service_id = $1 AND d.environment_id = $2`,
      [serviceId, environmentId, revision, DeploymentStatus.IN_PROGRESS, message, DeploymentStatus.PENDING],
    );
    const before = rows.find((r) => r.started === false);
    const started = rows.find((r) => r.started === true);
    return { before: before === undefined ? null : toEvent(before), started: started === undefined ? null : toEvent(started) };
  }

  /**
   * Moves the deployment at `revision` to `status`; returns the new row, or null when superseded (or
   * already there). Sent at the end of the turn, with the other moves asked for in it.
   */
  transition(serviceId: string, environmentId: string, revision: number, status: DeploymentStatus, message: string): Promise<DeploymentStatusEvent | null> {
    return new Promise((resolve, reject) => {
      if (this.pendingMoves.length === 0) setImmediate(() => this.sendMoves());
      this.pendingMoves.push({ move: { serviceId, environmentId, revision, status, message }, resolve, reject });
    });
  }

  private sendMoves(): void {
    let pending = this.pendingMoves;
    this.pendingMoves = [];
    // One UPDATE changes a row once: a second move of the same deployment waits for the next statement.
    const statements: PendingMove[][] = [];
    while (pending.length > 0) {
      const keys = new Set<string>();
      const statement: PendingMove[] = [];
      const later: PendingMove[] = [];
      for (const entry of pending) {
        const { serviceId, environmentId, revision } = entry.move;
        const key = moveKey(serviceId, environmentId, revision);
        if (keys.has(key) || statement.length === MAX_MOVES_PER_STATEMENT) later.push(entry);
        else {
          keys.add(key);
          statement.push(entry);
        }
      }
      statements.push(statement);
      pending = later;
    }
    void statements.reduce((previous, statement) => previous.then(() => this.applyMoves(statement)), Promise.resolve());
  }

  /** One statement for `entries` (at most one per deployment); settles each entry's promise, never rejects. */
  private async applyMoves(entries: readonly PendingMove[]): Promise<void> {
    const moves = entries.map((e) => e.move);
    let rows: Array<Record<string, unknown>>;
    try {
      // The updated rows, with their environments' handles, as select() reads them.
      rows = await this.db.query(
        `WITH m AS (
           SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::text[]) AS m(service_id, environment_id, revision, status, message)),
         d AS (
           UPDATE deployments SET status = m.status, message = m.message, updated_at = now()
             FROM m
            WHERE deployments.service_id = m.service_id AND deployments.environment_id = m.environment_id AND deployments.revision = m.revision
              AND (deployments.status <> m.status OR deployments.message <> m.message)
            RETURNING deployments.*)
         SELECT ${COLUMNS} FROM d JOIN environments e ON e.id = d.environment_id`,
        [moves.map((m) => m.serviceId), moves.map((m) => m.environmentId), moves.map((m) => m.revision), moves.map((m) => m.status), moves.map((m) => m.message)],
      );
    } catch (error) {
      for (const entry of entries) entry.reject(error);
      return;
    }
    const moved = new Map<string, DeploymentStatusEvent>();
    for (const row of rows) {
      const event = toEvent(row);
      moved.set(moveKey(event.serviceId, event.environmentId, event.revision), event);
    }
    for (const { move, resolve } of entries) resolve(moved.get(moveKey(move.serviceId, move.environmentId, move.revision)) ?? null);
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

  /** What the connected proxies of the environment reported (data-plane-registry/data-plane-store.ts). */
  connectedProxiesOf(environmentId: string): Promise<ProxyState[]> {
    return this.dataPlanes.connectedIn(environmentId);
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
