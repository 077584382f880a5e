import type { DataSource } from 'typeorm';
import type { Actor } from '../auth/actor';
import { badUserInput } from '../common/errors';
import { findByIdOrNotFound } from '../common/lookup';
import { GenAIServiceEntity } from '../genai-service/genai-service.entity';
import type { MarketplaceFilter } from '../genai-service/genai-service.types';
import { MarketplaceStatus, RegistrationScope } from '../genai-service/provider';
import { OrganizationEntity } from '../organization/organization.entity';
import { ProjectEntity } from '../project/project.entity';

/** Search text beyond this is refused; only its first 10 words are matched. */
export const MAX_SEARCH_LENGTH = 200;

/** LIKE treats % and _ as wildcards: search text is matched literally. */
function likePattern(word: string): string {
  return `%${word.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export class MarketplaceService {
  constructor(private readonly db: DataSource) {}

  /**
   * Published services visible from the organization (no project: ORGANIZATION scope only) or from
   * one of its projects (ORGANIZATION scope plus that project's PROJECT-scope services).
   */
  async list(actor: Actor, organizationId: string, projectId: string | null | undefined, filter: MarketplaceFilter = {}): Promise<GenAIServiceEntity[]> {
    await findByIdOrNotFound(this.db.manager, OrganizationEntity, organizationId, 'organization', (o) => actor.canRead(o.id));
    if (projectId) await findByIdOrNotFound(this.db.manager, ProjectEntity, projectId, 'project', (p) => p.organizationId === organizationId);
    const query = this.db
      .getRepository(GenAIServiceEntity)
      .createQueryBuilder('s')
      .where('s.organization_id = :organizationId', { organizationId })
      .andWhere('s.marketplace_status = :published', { published: MarketplaceStatus.PUBLISHED });
    if (projectId) query.andWhere(`(s.scope = 'ORGANIZATION' OR s.project_id = :projectId)`, { projectId });
    else query.andWhere('s.scope = :orgScope', { orgScope: RegistrationScope.ORGANIZATION });

    const search = (filter.search ?? '').trim();
    if (search.length > MAX_SEARCH_LENGTH) throw badUserInput('filter.search', `must be at most ${MAX_SEARCH_LENGTH} characters`);
    search
      .split(/\s+/)
      .filter(Boolean)
      .slice(0, 10)
      .forEach((word, i) => {
        query.andWhere(`(s.name ILIKE :w${i} OR s.summary ILIKE :w${i} OR s.description ILIKE :w${i})`, { [`w${i}`]: likePattern(word) });
      });
    // Labels match whatever their case, like the search: "Team-3" finds a service labelled "team-3".
    if (filter.labels?.length) query.andWhere('ARRAY(SELECT lower(l) FROM unnest(s.labels) AS l) @> :labels::text[]', { labels: filter.labels.map((l) => l.trim().toLowerCase()) });
    if (filter.providers?.length) query.andWhere('s.provider IN (:...providers)', { providers: filter.providers });
    if (filter.scope) query.andWhere('s.scope = :scope', { scope: filter.scope });
    return query.orderBy('s.name').addOrderBy('s.id').limit(500).getMany();
  }
}
