import type { DataSource, EntityManager } from 'typeorm';
import { type Actor, SERVICE_MANAGERS } from '../auth/actor';
import { badUserInput, conflict, isUniqueViolation } from '../common/errors';
import { findByIdOrNotFound } from '../common/lookup';
import {
  MAX_DESCRIPTION_LENGTH,
  MAX_SUMMARY_LENGTH,
  contextPathsOverlap,
  normalizeContextPath,
  normalizeLabels,
  normalizeServiceUrl,
  validateName,
  validateText,
} from '../common/validation';
import type { ChangeRecorder, ConfigChanges } from '../config-change/config-change';
import type { BumpedEnvironment } from '../config-change/revision-ledger';
import { EnvironmentEntity } from '../environment/environment.entity';
import { OrganizationEntity } from '../organization/organization.entity';
import { ProjectEntity } from '../project/project.entity';
import { rateLimitType, rateLimitFromInput, type StoredRateLimit } from '../rate-limit/rate-limit-policy';
import type { SecretBox } from '../secrets/secret-box';
import { applyBackendSecurity, defaultBackendSecurity } from './backend-security';
import { GenAIServiceEntity } from './genai-service.entity';
import type {
  ConfigureServiceEnvironmentInput,
  RateLimitInput,
  RegisterGenAIServiceInput,
  UpdateGenAIServiceInput,
} from './genai-service.types';
import { MarketplaceStatus, RegistrationScope } from './provider';
import { ServiceEnvironmentConfigEntity } from './service-environment-config.entity';
import { connectionQuotaColumns, connectionQuotaOf, serviceBudgetColumns, serviceBudgetOf } from './service-limits';

/** A service's configuration in one environment, with that environment's handle. */
export type ServiceConfigRow = ServiceEnvironmentConfigEntity & { environmentHandle: string };

export class GenAIServiceService {
  constructor(
    private readonly db: DataSource,
    private readonly box: SecretBox,
    private readonly changes: ConfigChanges,
  ) {}

  async register(actor: Actor, input: RegisterGenAIServiceInput): Promise<GenAIServiceEntity> {
    // Authorized before any input is read; checked again against the rows in the transaction.
    actor.requireRoleBeforeLookup(input.organizationId, SERVICE_MANAGERS, 'registering GenAI services');
    const name = validateName('input.name', input.name);
    const contextPath = normalizeContextPath('input.contextPath', input.contextPath);
    const serviceUrl = normalizeServiceUrl('input.serviceUrl', input.serviceUrl);
    const summary = validateText('input.summary', input.summary, MAX_SUMMARY_LENGTH);
    const description = validateText('input.description', input.description, MAX_DESCRIPTION_LENGTH);
    const labels = normalizeLabels('input.labels', input.labels);
    if (input.scope === RegistrationScope.PROJECT && !input.projectId) throw badUserInput('input.projectId', 'PROJECT scope needs a projectId');
    if (input.scope === RegistrationScope.ORGANIZATION && input.projectId) throw badUserInput('input.projectId', 'ORGANIZATION scope takes no projectId');
    const envInputs = input.environments ?? [];

    const service = await this.mutate(() => contextPath, async (tx, change) => {
      await findByIdOrNotFound(tx, OrganizationEntity, input.organizationId, 'organization', (o) => actor.canRead(o.id));
      actor.requireRole(input.organizationId, SERVICE_MANAGERS, 'registering GenAI services');
      if (input.projectId) {
        await findByIdOrNotFound(tx, ProjectEntity, input.projectId, 'project', (p) => p.organizationId === input.organizationId);
      }
      await this.assertContextPathFree(tx, input.organizationId, contextPath, null);
      const service = await tx.save(
        tx.create(GenAIServiceEntity, {
          organizationId: input.organizationId,
          projectId: input.projectId ?? null,
          scope: input.scope,
          provider: input.provider,
          name,
          contextPath,
          serviceUrl,
          summary,
          description,
          labels,
          marketplaceStatus: MarketplaceStatus.PUBLISHED,
          removedAt: null,
          createdBy: actor.userId,
        }),
      );
      // Every environment gets a configuration (unconfigured ones answer 503 at the proxy until set).
      const environments = await tx.find(EnvironmentEntity);
      const seen = new Set<string>();
      for (const [index, envInput] of envInputs.entries()) {
        if (seen.has(envInput.environment)) throw badUserInput(`input.environments[${index}].environment`, `environment "${envInput.environment}" is listed twice`);
        seen.add(envInput.environment);
        if (!environments.some((e) => e.handle === envInput.environment)) throw badUserInput(`input.environments[${index}].environment`, `unknown environment "${envInput.environment}"`);
      }
      for (const environment of environments) {
        const index = envInputs.findIndex((e) => e.environment === environment.handle);
        const config = this.buildConfig(service, environment.id, null, index >= 0 ? envInputs[index] : {}, `input.environments[${index}]`);
        await tx.save(tx.create(ServiceEnvironmentConfigEntity, config));
      }
      await change.audit(actor, {
        action: 'genAIService.register',
        targetType: 'GenAIService',
        targetId: service.id,
        organizationId: service.organizationId,
        details: { name, provider: service.provider, scope: service.scope, contextPath, serviceUrl, configuredEnvironments: [...seen] },
      });
      change.alters(service.id, environments.map((e) => e.id), 'service registered');
      return service;
    });
    return service;
  }

  async update(actor: Actor, id: string, input: UpdateGenAIServiceInput): Promise<GenAIServiceEntity> {
    const patch: Partial<GenAIServiceEntity> = {};
    const service = await this.mutate(() => patch.contextPath ?? '', async (tx, change) => {
      // The service's organization authorizes the change; only then is the input read.
      const service = await this.lockForChange(tx, actor, id, 'updating GenAI services');
      if (input.name != null) patch.name = validateName('input.name', input.name);
      if (input.contextPath != null) patch.contextPath = normalizeContextPath('input.contextPath', input.contextPath);
      if (input.serviceUrl != null) patch.serviceUrl = normalizeServiceUrl('input.serviceUrl', input.serviceUrl);
      if (input.summary !== undefined) patch.summary = validateText('input.summary', input.summary, MAX_SUMMARY_LENGTH);
      if (input.description !== undefined) patch.description = validateText('input.description', input.description, MAX_DESCRIPTION_LENGTH);
      if (input.labels !== undefined) patch.labels = normalizeLabels('input.labels', input.labels);
      if (patch.contextPath && patch.contextPath !== service.contextPath) await this.assertContextPathFree(tx, service.organizationId, patch.contextPath, service.id);
      const changed = Object.keys(patch).filter((k) => JSON.stringify(patch[k as keyof typeof patch]) !== JSON.stringify(service[k as keyof GenAIServiceEntity]));
      Object.assign(service, patch);
      await tx.save(service);
      await change.audit(actor, { action: 'genAIService.update', targetType: 'GenAIService', targetId: service.id, organizationId: service.organizationId, details: { changed } });
      // Name, path and URL reach the proxies; summary, description and labels do not.
      const servingChange = changed.some((k) => k === 'name' || k === 'contextPath' || k === 'serviceUrl');
      if (servingChange) change.alters(service.id, await this.environmentIds(tx), 'service updated');
      return service;
    });
    return service;
  }

  async configureEnvironment(actor: Actor, serviceId: string, environmentHandle: string, input: ConfigureServiceEnvironmentInput): Promise<GenAIServiceEntity> {
    const service = await this.mutate(() => '', async (tx, change) => {
      const service = await this.lockForChange(tx, actor, serviceId, 'configuring GenAI services');
      const environment = await tx.findOneBy(EnvironmentEntity, { handle: environmentHandle });
      if (!environment) throw badUserInput('environment', `unknown environment "${environmentHandle}"`);
      const existing = await tx.findOneBy(ServiceEnvironmentConfigEntity, { serviceId, environmentId: environment.id });
      const config = this.buildConfig(service, environment.id, existing, input, 'input');
      await tx.save(existing ? Object.assign(existing, config) : tx.create(ServiceEnvironmentConfigEntity, config));
      await change.audit(actor, {
        action: 'genAIService.configureEnvironment',
        targetType: 'GenAIService',
        targetId: service.id,
        organizationId: service.organizationId,
        details: {
          environment: environmentHandle,
          backendSecurityChanged: input.backendSecurity != null,
          credentialsReplaced: input.backendSecurity != null && ['value', 'awsAccessKeyId', 'awsSecretAccessKey', 'awsSessionToken'].some((k) => input.backendSecurity?.[k as 'value'] !== undefined),
          rateLimit: rateLimitType(serviceBudgetOf(config as ServiceEnvironmentConfigEntity)),
          connectionQuota: rateLimitType(connectionQuotaOf(config as ServiceEnvironmentConfigEntity)),
          streamCutoff: config.streamCutoff,
          serviceUrl: config.serviceUrl,
        },
      });
      change.alters(service.id, [environment.id], `environment ${environmentHandle} configured`);
      return service;
    });
    return service;
  }

  async removeFromMarketplace(actor: Actor, serviceId: string): Promise<GenAIServiceEntity> {
    const service = await this.mutate(() => '', async (tx, change) => {
      const service = await this.lockForChange(tx, actor, serviceId, 'removing GenAI services from the marketplace');
      if (service.marketplaceStatus === MarketplaceStatus.REMOVED) throw conflict('this service has already been removed from the marketplace');
      service.marketplaceStatus = MarketplaceStatus.REMOVED;
      service.removedAt = new Date();
      await tx.save(service);
      await change.audit(actor, { action: 'genAIService.removeFromMarketplace', targetType: 'GenAIService', targetId: service.id, organizationId: service.organizationId });
      change.alters(service.id, await this.environmentIds(tx), 'removed from the marketplace; existing connections keep working');
      return service;
    });
    return service;
  }

  async get(actor: Actor, id: string): Promise<GenAIServiceEntity> {
    return findByIdOrNotFound(this.db.manager, GenAIServiceEntity, id, 'GenAI service', (s) => actor.canRead(s.organizationId));
  }

  /** Management view: every service of the organization (or those registered in one project), removed ones too. */
  async list(actor: Actor, organizationId: string, projectId?: string | null): Promise<GenAIServiceEntity[]> {
    await findByIdOrNotFound(this.db.manager, OrganizationEntity, organizationId, 'organization', (o) => actor.canRead(o.id));
    const query = this.db.getRepository(GenAIServiceEntity).createQueryBuilder('s').where('s.organization_id = :organizationId', { organizationId });
    if (projectId) query.andWhere('s.project_id = :projectId', { projectId: await this.projectIn(projectId, organizationId) });
    return query.orderBy('s.name').addOrderBy('s.id').getMany();
  }

  /** Each service's environment configurations, in environment order, in one query (a list's loader: graphql/request-loaders.ts). */
  async configsOf(serviceIds: readonly string[]): Promise<ServiceConfigRow[][]> {
    const rows = await this.db
      .getRepository(ServiceEnvironmentConfigEntity)
      .createQueryBuilder('c')
      .innerJoinAndMapOne('c.environment', EnvironmentEntity, 'e', 'e.id = c.environment_id')
      .where('c.service_id IN (:...serviceIds)', { serviceIds })
      .orderBy('e.created_at')
      .addOrderBy('e.handle')
      .getMany();
    const byService = new Map<string, ServiceConfigRow[]>(serviceIds.map((id) => [id, []]));
    for (const row of rows) byService.get(row.serviceId)?.push(Object.assign(row, { environmentHandle: (row as unknown as { environment: EnvironmentEntity }).environment.handle }));
    return serviceIds.map((id) => byService.get(id) ?? []);
  }

  private async projectIn(projectId: string, organizationId: string): Promise<string> {
    const project = await findByIdOrNotFound(this.db.manager, ProjectEntity, projectId, 'project', (p) => p.organizationId === organizationId);
    return project.id;
  }

  /** Loads the service for a change, locking its row so concurrent changes to it serialize. */
  private async lockForChange(tx: EntityManager, actor: Actor, id: string, action: string): Promise<GenAIServiceEntity> {
    const service = await findByIdOrNotFound(tx, GenAIServiceEntity, id, 'GenAI service', (s) => actor.canRead(s.organizationId));
    actor.requireRole(service.organizationId, SERVICE_MANAGERS, action);
    await tx.query('SELECT 1 FROM genai_services WHERE id = $1 FOR UPDATE', [id]);
    return service;
  }

  private async environmentIds(tx: EntityManager): Promise<string[]> {
    return (await tx.find(EnvironmentEntity, { select: { id: true } })).map((e) => e.id);
  }

  private async assertContextPathFree(tx: EntityManager, organizationId: string, contextPath: string, exceptId: string | null): Promise<void> {
    // Serialize path claims within an organization so two registrations cannot both pass this check.
    await tx.query('SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE', [organizationId]);
    const taken: Array<{ id: string; context_path: string }> = await tx.query('SELECT id, context_path FROM genai_services WHERE organization_id = $1', [organizationId]);
    const clash = taken.find((row) => row.id !== exceptId && contextPathsOverlap(row.context_path, contextPath));
    if (clash) {
      const detail = clash.context_path === contextPath ? 'is already used' : `overlaps "${clash.context_path}"`;
      throw conflict(`context path "${contextPath}" ${detail} in this organization`, 'input.contextPath');
    }
  }

  private buildConfig(
    service: GenAIServiceEntity,
    environmentId: string,
    existing: ServiceEnvironmentConfigEntity | null,
    input: ConfigureServiceEnvironmentInput,
    field: string,
  ): Partial<ServiceEnvironmentConfigEntity> {
    const base = existing ?? { ...defaultBackendSecurity(service.provider, service.serviceUrl), ...serviceBudgetColumns(null), ...connectionQuotaColumns(null), streamCutoff: false, serviceUrl: null };
    const config: Partial<ServiceEnvironmentConfigEntity> = {
      serviceId: service.id,
      environmentId,
      authType: base.authType,
      headerName: base.headerName,
      credentialsSealed: base.credentialsSealed,
      credentialsHint: base.credentialsHint,
      apiVersion: base.apiVersion,
      awsRegion: base.awsRegion,
      ...serviceBudgetColumns(serviceBudgetOf(base)),
      ...connectionQuotaColumns(connectionQuotaOf(base)),
      streamCutoff: base.streamCutoff,
      serviceUrl: base.serviceUrl,
    };
    if (input.serviceUrl !== undefined) config.serviceUrl = input.serviceUrl === null ? null : normalizeServiceUrl(`${field}.serviceUrl`, input.serviceUrl);
    if (input.backendSecurity) Object.assign(config, applyBackendSecurity(this.box, service.provider, config as ServiceEnvironmentConfigEntity, input.backendSecurity, `${field}.backendSecurity`));
    // Omitted keeps, null removes.
    if (input.rateLimit !== undefined) Object.assign(config, serviceBudgetColumns(input.rateLimit && serviceBudgetFromInput(`${field}.rateLimit`, input.rateLimit)));
    if (input.connectionQuota !== undefined) Object.assign(config, connectionQuotaColumns(input.connectionQuota && rateLimitFromInput(`${field}.connectionQuota`, input.connectionQuota)));
    if (input.streamCutoff != null) config.streamCutoff = input.streamCutoff;
    return config;
  }

  /** Runs a write transaction, turning a lost race on the context-path unique index into CONFLICT. */
  private async mutate<T>(contextPath: () => string, work: (tx: EntityManager, change: ChangeRecorder) => Promise<T>): Promise<T> {
    try {
      return await this.changes.apply(work);
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`context path "${contextPath()}" is already used in this organization`, 'input.contextPath');
      throw error;
    }
  }
}

export type { BumpedEnvironment };

/**
 * A service budget limits something: one maximum at least. (A budget of no maximum limited nothing
 * while the service showed a budget; `rateLimit: null` is how a service has none. A connection's own
 * quota of no maximum is another matter: it exempts that connection.)
 */
function serviceBudgetFromInput(field: string, input: RateLimitInput): StoredRateLimit {
  const budget = rateLimitFromInput(field, input);
  if (budget.maxPromptTokens === null && budget.maxCompletionTokens === null && budget.maxTotalTokens === null) {
    throw badUserInput(field, 'set at least one of maxPromptTokens, maxCompletionTokens and maxTotalTokens (or rateLimit: null for no budget)');
  }
  return budget;
}
