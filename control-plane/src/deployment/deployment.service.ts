import type { DataSource } from 'typeorm';
import type { Actor } from '../auth/actor';
import { findByIdOrNotFound } from '../common/lookup';
import { DataPlaneStore, type ProxyRecord } from '../data-plane-registry/data-plane-store';
import { GenAIServiceEntity } from '../genai-service/genai-service.entity';
import { DeploymentEntity } from './deployment.entity';
import type { DeploymentDataPlaneType, DeploymentType } from './deployment.types';

export class DeploymentService {
  private readonly dataPlanes: DataPlaneStore;

  constructor(private readonly db: DataSource) {
    this.dataPlanes = new DataPlaneStore(db);
  }

  async forService(actor: Actor, serviceId: string): Promise<DeploymentType[]> {
    await findByIdOrNotFound(this.db.manager, GenAIServiceEntity, serviceId, 'GenAI service', (s) => actor.canRead(s.organizationId));
    return (await this.forServicesUnchecked([serviceId]))[0];
  }

  /** Each environment's proxies, in one query (a list's loader). */
  environmentDataPlanes(environmentIds: readonly string[]): Promise<ProxyRecord[][]> {
    return this.dataPlanes.ofEnvironments(environmentIds);
  }

  /** Each service's deployments, in environment order, in one query (a list's loader: graphql/request-loaders.ts). */
  async forServicesUnchecked(serviceIds: readonly string[]): Promise<DeploymentType[][]> {
    const rows: Array<DeploymentEntity & { handle: string }> = await this.db
      .getRepository(DeploymentEntity)
      .createQueryBuilder('d')
      .innerJoin('environments', 'e', 'e.id = d.environment_id')
      .addSelect('e.handle', 'handle')
      .where('d.service_id IN (:...serviceIds)', { serviceIds })
      .orderBy('e.created_at')
      .addOrderBy('e.handle')
      .getRawAndEntities()
      .then(({ raw, entities }) => entities.map((entity, i) => Object.assign(entity, { handle: (raw[i] as { handle: string }).handle })));
    const byService = new Map<string, DeploymentType[]>(serviceIds.map((id) => [id, []]));
    for (const row of rows) {
      byService.get(row.serviceId)?.push({
        id: row.id,
        serviceId: row.serviceId,
        environmentId: row.environmentId,
        environment: row.handle,
        status: row.status,
        revision: row.revision,
        message: row.message,
        createdAt: row.createdAt,
        updatedAt: row.updatedAt,
      });
    }
    return serviceIds.map((id) => byService.get(id) ?? []);
  }

  /** The proxies of the deployment's environment (`environmentDataPlanes`) and whether each has applied its revision. */
  dataPlanesOf(deployment: DeploymentType, proxies: readonly ProxyRecord[]): DeploymentDataPlaneType[] {
    return proxies.map((p) => ({
      proxyId: p.id,
      appliedRevision: p.appliedRevision,
      applied: p.appliedRevision >= deployment.revision,
      appliedAt: p.appliedAt,
      connected: p.connected,
      lastSeenAt: p.lastSeenAt,
      lastNackReason: p.lastNackReason,
      lastNackRevision: p.lastNackRevision,
    }));
  }
}
