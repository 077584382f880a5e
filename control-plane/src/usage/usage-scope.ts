// Who may read which usage. Platform engineers and admins of an organization (and installation admins)
// read all of it; anyone else reads the usage of connections in projects they can see, by the same
// rule as `projects(organizationId)`. Entities outside the caller's reach are NOT_FOUND, as elsewhere.
import type { DataSource } from 'typeorm';
import { type Actor, SERVICE_MANAGERS } from '../auth/actor';
import { badUserInput, notFound } from '../common/errors';
import { findByIdOrNotFound } from '../common/lookup';
import { ConnectionEntity } from '../connection/connection.entity';
import { EnvironmentEntity } from '../environment/environment.entity';
import { GenAIServiceEntity } from '../genai-service/genai-service.entity';
import { OrganizationEntity } from '../organization/organization.entity';
import { ProjectEntity } from '../project/project.entity';
import type { ProjectService } from '../project/project.service';

export interface UsageScopeRequest {
  organizationId?: string | null;
  projectId?: string | null;
  serviceId?: string | null;
  connectionId?: string | null;
  environment?: string | null;
}

/** What one report may read: the organization's rows, narrowed to projects when the caller sees only some. */
export interface UsageScope {
  organizationId: string;
  /** null: the whole organization; otherwise only rows of these projects (rows of unknown project excluded). */
  visibleProjectIds: string[] | null;
  projectId: string | null;
  serviceId: string | null;
  connectionId: string | null;
  environmentId: string | null;
}

export async function visibleProjectIds(projects: ProjectService, actor: Actor, organizationId: string): Promise<string[] | null> {
  if (actor.isInstallationAdmin) return null;
  const role = actor.roleIn(organizationId);
  if (role !== undefined && SERVICE_MANAGERS.includes(role)) return null;
  return (await projects.list(actor, organizationId)).map((p) => p.id);
}

export async function resolveUsageScope(db: DataSource, projects: ProjectService, actor: Actor, request: UsageScopeRequest): Promise<UsageScope> {
  const readable = (row: { organizationId: string }) => actor.canRead(row.organizationId);
  const connection = request.connectionId ? await findByIdOrNotFound(db.manager, ConnectionEntity, request.connectionId, 'connection', readable) : null;
  const service = request.serviceId ? await findByIdOrNotFound(db.manager, GenAIServiceEntity, request.serviceId, 'GenAI service', readable) : null;
  const project = request.projectId ? await findByIdOrNotFound(db.manager, ProjectEntity, request.projectId, 'project', readable) : null;
  const organizationId = request.organizationId ?? connection?.organizationId ?? service?.organizationId ?? project?.organizationId;
  if (!organizationId) throw badUserInput('filter.organizationId', 'give organizationId, or a projectId, serviceId or connectionId that implies it');
  await findByIdOrNotFound(db.manager, OrganizationEntity, organizationId, 'organization', (o) => actor.canRead(o.id));
  // An entity of another organization than the one asked about is not found there.
  if (connection && connection.organizationId !== organizationId) throw notFound('connection', connection.id);
  if (service && service.organizationId !== organizationId) throw notFound('GenAI service', service.id);
  if (project && project.organizationId !== organizationId) throw notFound('project', project.id);

  const visible = await visibleProjectIds(projects, actor, organizationId);
  if (visible && project && !visible.includes(project.id)) throw notFound('project', project.id);
  if (visible && connection && !visible.includes(connection.projectId)) throw notFound('connection', connection.id);

  let environmentId: string | null = null;
  if (request.environment) {
    const environment = await db.getRepository(EnvironmentEntity).findOneBy({ handle: request.environment });
    if (!environment) throw badUserInput('filter.environment', `unknown environment "${request.environment}"`);
    environmentId = environment.id;
  }
  return { organizationId, visibleProjectIds: visible, projectId: project?.id ?? null, serviceId: service?.id ?? null, connectionId: connection?.id ?? null, environmentId };
}
