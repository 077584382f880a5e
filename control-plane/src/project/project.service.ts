import type { DataSource } from 'typeorm';
import { type Actor, ORGANIZATION_ADMINS } from '../auth/actor';
import { recordAudit } from '../audit/audit-log';
import { conflict, isUniqueViolation } from '../common/errors';
import { findByIdOrNotFound } from '../common/lookup';
import { validateHandle, validateName } from '../common/validation';
import { OrganizationEntity } from '../organization/organization.entity';
import { ProjectEntity } from './project.entity';

export class ProjectService {
  constructor(private readonly db: DataSource) {}

  async create(actor: Actor, input: { organizationId: string; handle: string; name: string }): Promise<ProjectEntity> {
    actor.requireRoleBeforeLookup(input.organizationId, ORGANIZATION_ADMINS, 'creating projects');
    const handle = validateHandle('input.handle', input.handle);
    const name = validateName('input.name', input.name);
    try {
      return await this.db.transaction(async (tx) => {
        await findByIdOrNotFound(tx, OrganizationEntity, input.organizationId, 'organization', (o) => actor.canRead(o.id));
        actor.requireRole(input.organizationId, ORGANIZATION_ADMINS, 'creating projects');
        const project = await tx.save(tx.create(ProjectEntity, { organizationId: input.organizationId, handle, name }));
        await recordAudit(tx, actor, { action: 'project.create', targetType: 'Project', targetId: project.id, organizationId: project.organizationId, details: { handle, name } });
        return project;
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`a project with handle "${handle}" already exists in this organization`, 'input.handle');
      throw error;
    }
  }

  async list(actor: Actor, organizationId: string): Promise<ProjectEntity[]> {
    await findByIdOrNotFound(this.db.manager, OrganizationEntity, organizationId, 'organization', (o) => actor.canRead(o.id));
    return this.db.getRepository(ProjectEntity).find({ where: { organizationId }, order: { handle: 'ASC' } });
  }

  /** The project, if it exists in the given organization and the actor may see it. */
  async inOrganization(actor: Actor, projectId: string, organizationId: string): Promise<ProjectEntity> {
    return findByIdOrNotFound(this.db.manager, ProjectEntity, projectId, 'project', (p) => p.organizationId === organizationId && actor.canRead(p.organizationId));
  }
}
