import type { DataSource } from 'typeorm';
import type { Actor } from '../auth/actor';
import { recordAudit } from '../audit/audit-log';
import { conflict, isUniqueViolation, notFound } from '../common/errors';
import { validateName, validateOrganizationHandle } from '../common/validation';
import { UserEntity } from '../auth/user.entity';
import { OrganizationEntity } from './organization.entity';

export class OrganizationService {
  constructor(private readonly db: DataSource) {}

  async create(actor: Actor, input: { handle: string; name: string }): Promise<OrganizationEntity> {
    actor.requireInstallationAdmin('creating organizations');
    const handle = validateOrganizationHandle('input.handle', input.handle);
    const name = validateName('input.name', input.name);
    try {
      return await this.db.transaction(async (tx) => {
        const organization = await tx.save(tx.create(OrganizationEntity, { handle, name }));
        await recordAudit(tx, actor, { action: 'organization.create', targetType: 'Organization', targetId: organization.id, organizationId: organization.id, details: { handle, name } });
        return organization;
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`an organization with handle "${handle}" already exists`, 'input.handle');
      throw error;
    }
  }

  /** Organizations the actor may see: all for installation admins, its memberships otherwise. */
  async list(actor: Actor): Promise<OrganizationEntity[]> {
    const repo = this.db.getRepository(OrganizationEntity);
    if (actor.isInstallationAdmin) return repo.find({ order: { handle: 'ASC' } });
    const ids = actor.organizationIds();
    if (ids.length === 0) return [];
    return repo.createQueryBuilder('o').where('o.id = ANY(:ids)', { ids }).orderBy('o.handle').getMany();
  }

  async byHandle(actor: Actor, handle: string): Promise<OrganizationEntity> {
    const organization = await this.db.getRepository(OrganizationEntity).findOneBy({ handle });
    if (!organization || !actor.canRead(organization.id)) throw notFound('organization', handle);
    return organization;
  }

  async user(userId: string): Promise<UserEntity> {
    return this.db.getRepository(UserEntity).findOneByOrFail({ id: userId });
  }
}
