// The one place that reads and writes `data_planes`: what each proxy reported on its config stream
// (connected, applied revision, last refusal). Written by the config stream, read by rollouts and the
// dataPlanes query.
import type { DataSource } from 'typeorm';

/** A proxy as rollouts see it. */
export interface ProxyState {
  id: string;
  connected: boolean;
  appliedRevision: number;
  lastNackRevision: number | null;
  lastNackReason: string | null;
}

/** A proxy as the dataPlanes query and deployments show it. */
export interface ProxyRecord extends ProxyState {
  environmentId: string;
  environment: string;
  version: string;
  appliedAt: Date | null;
  lastSeenAt: Date;
}

export class DataPlaneStore {
  constructor(private readonly db: DataSource) {}

  /** A Hello: the proxy is connected, serving `appliedRevision` (0: nothing yet). */
  async connected(proxyId: string, environmentId: string, version: string, appliedRevision: string | number): Promise<void> {
    await this.db.query(
      `INSERT INTO data_planes (id, environment_id, version, applied_revision, connected, last_seen_at)
       VALUES ($1, $2, $3, $4, true, now())
       ON CONFLICT (id) DO UPDATE SET environment_id = EXCLUDED.environment_id, version = EXCLUDED.version,
         applied_revision = EXCLUDED.applied_revision, connected = true, last_seen_at = now()`,
      [proxyId, environmentId, version.slice(0, 100), appliedRevision],
    );
  }

  /**
   * ACKs: each proxy applied its revision (never moves backwards). One statement for many proxies: at
   * 50 changes/s, 40 proxies ACK some 1,200 deltas/s, and a statement (and commit) each kept the pool
   * and the database busy (config-stream/applied-revisions.ts batches them).
   */
  async applied(acks: ReadonlyArray<{ proxyId: string; revision: string | number }>): Promise<void> {
    if (acks.length === 0) return;
    // By id: concurrent batches (other replicas) lock their rows in one order.
    const sorted = [...acks].sort((a, b) => (a.proxyId < b.proxyId ? -1 : a.proxyId > b.proxyId ? 1 : 0));
    await this.db.query(
      `UPDATE data_planes d SET applied_at = CASE WHEN a.revision > d.applied_revision THEN now() ELSE d.applied_at END,
         applied_revision = GREATEST(d.applied_revision, a.revision), connected = true, last_seen_at = now()
        FROM unnest($1::text[], $2::bigint[]) AS a(id, revision) WHERE d.id = a.id`,
      [sorted.map((a) => a.proxyId), sorted.map((a) => String(a.revision))],
    );
  }

  /** A NACK: the proxy refused `revision`, for `reason`. */
  async refused(proxyId: string, revision: string | number, reason: string): Promise<void> {
    await this.db.query(`UPDATE data_planes SET last_nack_reason = $2, last_nack_revision = $3, last_seen_at = now() WHERE id = $1`, [proxyId, reason.slice(0, 2000), revision]);
  }

  async disconnected(proxyId: string): Promise<void> {
    await this.db.query('UPDATE data_planes SET connected = false, last_seen_at = now() WHERE id = $1', [proxyId]);
  }

  /**
   * The connected proxies of one environment, as a rollout reads them: only what it decides on (no
   * join, no timestamps to parse; it reads them several times a second under a steady rate of change).
   */
  async connectedIn(environmentId: string): Promise<ProxyState[]> {
    const rows: Array<Record<string, unknown>> = await this.db.query(
      'SELECT id, connected, applied_revision, last_nack_revision, last_nack_reason FROM data_planes WHERE environment_id = $1 AND connected ORDER BY id',
      [environmentId],
    );
    return rows.map(stateOf);
  }

  /** The proxies of one environment (by id), by id. */
  ofEnvironment(environmentId: string): Promise<ProxyRecord[]> {
    return this.select('d.environment_id = $1', [environmentId]);
  }

  /** The proxies of each environment (by id), by id, in one query (a list's loader: graphql/request-loaders.ts). */
  async ofEnvironments(environmentIds: readonly string[]): Promise<ProxyRecord[][]> {
    const records = await this.select('d.environment_id = ANY($1::uuid[])', [environmentIds]);
    const byEnvironment = new Map<string, ProxyRecord[]>(environmentIds.map((id) => [id, []]));
    for (const record of records) byEnvironment.get(record.environmentId)?.push(record);
    return environmentIds.map((id) => byEnvironment.get(id) ?? []);
  }

  /** Every proxy (of one environment, by handle), by environment and id. */
  list(environment: string | null): Promise<ProxyRecord[]> {
    return this.select('($1::text IS NULL OR e.handle = $1)', [environment]);
  }

  private async select(where: string, params: unknown[]): Promise<ProxyRecord[]> {
    const rows: Array<Record<string, unknown>> = await this.db.query(
      `SELECT d.id, d.environment_id, e.handle AS environment, d.version, d.applied_revision, d.applied_at, d.connected, d.last_seen_at, d.last_nack_reason, d.last_nack_revision
         FROM data_planes d JOIN environments e ON e.id = d.environment_id
        WHERE ${where}
        ORDER BY e.handle, d.id`,
      params,
    );
    return rows.map((r) => ({ ...stateOf(r), environmentId: r.environment_id as string, environment: r.environment as string, version: r.version as string, appliedAt: (r.applied_at as Date | null) ?? null, lastSeenAt: r.last_seen_at as Date }));
  }
}

function stateOf(r: Record<string, unknown>): ProxyState {
  return {
    id: r.id as string,
    connected: r.connected as boolean,
    appliedRevision: Number(r.applied_revision),
    lastNackRevision: r.last_nack_revision === null ? null : Number(r.last_nack_revision),
    lastNackReason: (r.last_nack_reason as string | null) ?? null,
  };
}
