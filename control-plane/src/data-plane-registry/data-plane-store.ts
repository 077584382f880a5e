// The one place that reads and writes `data_planes`: what each proxy reported on its config stream
// (connected, applied revision, last refusal). Written by the config stream, read by rollouts and the
// dataPlanes query.
import type { DataSource } from 'typeorm';

/**
 * How long a replica vouches for the proxies whose streams it holds, from each Hello, ACK, NACK or
 * heartbeat (ConfigStreamServer renews it every third of this). A replica that dies without recording
 * its streams' end leaves `connected` set; past `live_until` that proxy counts as disconnected, so
 * rollouts stop waiting for proxies that never come back under their id.
 */
export const DEFAULT_PROXY_LIVENESS_MS = 30_000;

/** `d.connected`, unless the replica that set it stopped vouching for it (NULL: an earlier version wrote the row). */
const LIVE = '(d.connected AND (d.live_until IS NULL OR d.live_until > now()))';

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
  /**
   * @param livenessMs how long what this replica records vouches for a connected proxy (writers only:
   * readers compare `live_until` with the database's clock).
   */
  constructor(
    private readonly db: DataSource,
    private readonly livenessMs = DEFAULT_PROXY_LIVENESS_MS,
  ) {}

  /** A Hello: the proxy is connected, serving `appliedRevision` (0: nothing yet). */
  async connected(proxyId: string, environmentId: string, version: string, appliedRevision: string | number): Promise<void> {
    await this.db.query(
      `INSERT INTO data_planes (id, environment_id, version, applied_revision, connected, last_seen_at, live_until)
       VALUES ($1, $2, $3, $4, true, now(), now() + $5::int * interval '1 millisecond')
       ON CONFLICT (id) DO UPDATE SET environment_id = EXCLUDED.environment_id, version = EXCLUDED.version,
         applied_revision = EXCLUDED.applied_revision, connected = true, last_seen_at = now(), live_until = EXCLUDED.live_until`,
      [proxyId, environmentId, version.slice(0, 100), appliedRevision, this.livenessMs],
    );
  }

  /**
   * The heartbeat of the replica holding these proxies' streams: it still vouches for them. Also sets
   * `connected` again where another replica recorded the end of an older stream of the same proxy
   * after it had reconnected here.
   */
  async stillConnected(proxyIds: readonly string[]): Promise<void> {
    if (proxyIds.length === 0) return;
    await this.db.query(`UPDATE data_planes SET connected = true, live_until = now() + $2::int * interval '1 millisecond' WHERE id = ANY($1::text[])`, [
      [...proxyIds].sort(),
      this.livenessMs,
    ]);
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
         applied_revision = GREATEST(d.applied_revision, a.revision), connected = true, last_seen_at = now(),
         live_until = now() + $3::int * interval '1 millisecond'
        FROM unnest($1::text[], $2::bigint[]) AS a(id, revision) WHERE d.id = a.id`,
      [sorted.map((a) => a.proxyId), sorted.map((a) => String(a.revision)), this.livenessMs],
    );
  }

  /** A NACK: the proxy refused `revision`, for `reason`. */
  async refused(proxyId: string, revision: string | number, reason: string): Promise<void> {
    await this.db.query(
      `UPDATE data_planes SET last_nack_reason = $2, last_nack_revision = $3, last_seen_at = now(), live_until = now() + $4::int * interval '1 millisecond' WHERE id = $1`,
      [proxyId, reason.slice(0, 2000), revision, this.livenessMs],
    );
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
      `SELECT d.id, ${LIVE} AS connected, d.applied_revision, d.last_nack_revision, d.last_nack_reason FROM data_planes d WHERE d.environment_id = $1 AND ${LIVE} ORDER BY d.id`,
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
      `SELECT d.id, d.environment_id, e.handle AS environment, d.version, d.applied_revision, d.applied_at, ${LIVE} AS connected, d.last_seen_at, d.last_nack_reason, d.last_nack_revision
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
