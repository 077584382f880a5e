import type { DataSource } from 'typeorm';
import type { Actor } from '../auth/actor';
import { forbidden } from '../common/errors';
import { Role } from '../auth/role';
import type { DataPlaneType } from './data-plane.types';

export class DataPlaneRegistryService {
  constructor(private readonly db: DataSource) {}

  /** Installation-wide operational data: installation admins, and organization ADMINs or PLATFORM_ENGINEERs. */
  async list(actor: Actor, environment?: string | null): Promise<DataPlaneType[]> {
    const operator = actor.isInstallationAdmin || actor.organizationIds().some((id) => actor.roleIn(id) !== Role.DEVELOPER);
    if (!operator) throw forbidden('listing data planes requires an ADMIN or PLATFORM_ENGINEER role');
    const rows: Array<Record<string, unknown>> = await this.db.query(
      `SELECT d.id, e.handle AS environment, d.version, d.applied_revision, d.connected, d.last_seen_at, d.last_nack_reason, d.last_nack_revision
         FROM data_planes d JOIN environments e ON e.id = d.environment_id
        WHERE ($1::text IS NULL OR e.handle = $1)
        ORDER BY e.handle, d.id`,
      [environment ?? null],
    );
    return rows.map((r) => ({
      id: r.id as string,
      environment: r.environment as string,
      version: r.version as string,
      appliedRevision: Number(r.applied_revision),
      connected: r.connected as boolean,
      lastSeenAt: r.last_seen_at as Date,
      lastNackReason: (r.last_nack_reason as string | null) ?? null,
      lastNackRevision: r.last_nack_revision === null ? null : Number(r.last_nack_revision),
    }));
  }
}
