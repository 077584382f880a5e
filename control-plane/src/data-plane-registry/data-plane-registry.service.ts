import type { DataSource } from 'typeorm';
import type { Actor } from '../auth/actor';
import { forbidden } from '../common/errors';
import { Role } from '../auth/role';
import { DataPlaneStore } from './data-plane-store';
import type { DataPlaneType } from './data-plane.types';

export class DataPlaneRegistryService {
  private readonly dataPlanes: DataPlaneStore;

  constructor(private readonly db: DataSource) {
    this.dataPlanes = new DataPlaneStore(db);
  }

  /** Installation-wide operational data: installation admins, and organization ADMINs or PLATFORM_ENGINEERs. */
  async list(actor: Actor, environment?: string | null): Promise<DataPlaneType[]> {
    const operator = actor.isInstallationAdmin || actor.organizationIds().some((id) => actor.roleIn(id) !== Role.DEVELOPER);
    if (!operator) throw forbidden('listing data planes requires an ADMIN or PLATFORM_ENGINEER role');
    const proxies = await this.dataPlanes.list(environment ?? null);
    return proxies.map((p) => ({
      id: p.id,
      environment: p.environment,
      version: p.version,
      appliedRevision: p.appliedRevision,
      connected: p.connected,
      lastSeenAt: p.lastSeenAt,
      lastNackReason: p.lastNackReason,
      lastNackRevision: p.lastNackRevision,
    }));
  }
}
