// Per-request batching of the rows that field resolvers read one parent at a time. A list such as the
// console's `connections(projectId) { service { … } environments { … } }` would otherwise cost several
// queries per connection (the connection again, its service, its organization, its keys, the
// environments, the service's configurations, its quota overrides), and `genAIServices { deployments
// environmentConfigs }` two per service: with these loaders it costs one query per kind of row for
// the whole list. Created with each GraphQL request's context and dropped
// with it, so no row outlives the request that read it, and visibility stays with the callers (the
// loaders return rows, not answers).
import DataLoader from 'dataloader';
import type { MiddlewareFn } from 'type-graphql';
import { type DataSource, type EntityTarget, In, type ObjectLiteral } from 'typeorm';
import { isUuid } from '../common/lookup';
import { ConnectionKeyEntity } from '../connection/connection-key.entity';
import type { ConnectionRows } from '../connection/connection-limits';
import { ConnectionQuotaOverrideEntity } from '../connection/connection-quota.entity';
import { ConnectionEntity } from '../connection/connection.entity';
import { EnvironmentEntity } from '../environment/environment.entity';
import { GenAIServiceEntity } from '../genai-service/genai-service.entity';
import type { ProxyRecord } from '../data-plane-registry/data-plane-store';
import type { DeploymentType } from '../deployment/deployment.types';
import type { ServiceConfigRow } from '../genai-service/genai-service.service';
import { OrganizationEntity } from '../organization/organization.entity';
import type { ControlPlaneServices } from '../services';
import type { RequestContext } from './context';

/** Keys per query: well under PostgreSQL's 65,535 bind parameters, whatever a list's length. */
const MAX_BATCH = 5000;

/** Rows by id; a malformed or unknown id loads null. */
function byId<T extends ObjectLiteral & { id: string }>(db: DataSource, entity: EntityTarget<T>, cache: boolean): DataLoader<string, T | null> {
  return new DataLoader<string, T | null>(async (ids) => {
    const valid = ids.filter(isUuid);
    const rows = valid.length === 0 ? [] : await db.getRepository(entity).findBy({ id: In(valid) } as never);
    const found = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => found.get(id) ?? null);
  }, { cache, maxBatchSize: MAX_BATCH });
}

/** Every row whose `column` equals the key, per key (none: an empty list). */
function groupedBy<T extends ObjectLiteral>(db: DataSource, entity: EntityTarget<T>, column: keyof T & string, cache: boolean): DataLoader<string, T[]> {
  return new DataLoader<string, T[]>(async (keys) => {
    const rows = await db.getRepository(entity).findBy({ [column]: In([...keys]) } as never);
    const groups = new Map<string, T[]>(keys.map((key) => [key, []]));
    for (const row of rows) groups.get(row[column] as string)?.push(row);
    return keys.map((key) => groups.get(key) ?? []);
  }, { cache, maxBatchSize: MAX_BATCH });
}

export interface RequestLoaders extends ConnectionRows {
  readonly connection: DataLoader<string, ConnectionEntity | null>;
  readonly service: DataLoader<string, GenAIServiceEntity | null>;
  /** A service's deployments, in environment order (visibility: the caller's). */
  readonly serviceDeployments: DataLoader<string, DeploymentType[]>;
  /** A service's environment configurations with their environments' handles, in environment order. */
  readonly serviceConfigRows: DataLoader<string, ServiceConfigRow[]>;
  /** An environment's proxies (a deployment's `dataPlanes`), by id. */
  readonly environmentDataPlanes: DataLoader<string, ProxyRecord[]>;
  /** Forgets every row read so far (see freshLoadersAroundMutations). */
  clearAll(): void;
}

/**
 * `cache: false` for a context that lives as long as a subscription: reads are still batched within a
 * tick, but each event reads the rows afresh.
 */
export function createRequestLoaders(db: DataSource, services: ControlPlaneServices, options: { readonly cache: boolean } = { cache: true }): RequestLoaders {
  const { cache } = options;
  const batch = { cache, maxBatchSize: MAX_BATCH };
  const serviceDeployments = new DataLoader<string, DeploymentType[]>((ids) => services.deployments.forServicesUnchecked(ids), batch);
  const serviceConfigRows = new DataLoader<string, ServiceConfigRow[]>((ids) => services.genAIServices.configsOf(ids), batch);
  const environmentDataPlanes = new DataLoader<string, ProxyRecord[]>((ids) => services.deployments.environmentDataPlanes(ids), batch);
  const connection = byId(db, ConnectionEntity, cache);
  const service = byId(db, GenAIServiceEntity, cache);
  const organization = byId(db, OrganizationEntity, cache);
  const keys = groupedBy(db, ConnectionKeyEntity, 'connectionId', cache);
  const overrides = groupedBy(db, ConnectionQuotaOverrideEntity, 'connectionId', cache);
  const readEnvironments = (): Promise<EnvironmentEntity[]> => db.getRepository(EnvironmentEntity).find({ order: { createdAt: 'ASC', handle: 'ASC' } });
  let environments: Promise<EnvironmentEntity[]> | undefined;
  return {
    connection,
    service,
    serviceDeployments,
    serviceConfigRows,
    environmentDataPlanes,
    environments: () => (cache ? (environments ??= readEnvironments()) : readEnvironments()),
    // The rows a service list reads too: a list asking for both reads them once.
    serviceConfigs: (serviceId) => serviceConfigRows.load(serviceId),
    quotaOverrides: (connectionId) => overrides.load(connectionId),
    keys: (connectionId) => keys.load(connectionId),
    clearAll: () => {
      for (const loader of [connection, service, organization, keys, overrides, serviceDeployments, serviceConfigRows, environmentDataPlanes] as Array<{ clearAll(): unknown }>) loader.clearAll();
      environments = undefined;
    },
    serviceOf: async (serviceId) => (await service.load(serviceId)) ?? unknownRow('GenAI service', serviceId),
    organizationOf: async (organizationId) => (await organization.load(organizationId)) ?? unknownRow('organization', organizationId),
  };
}

/**
 * Global middleware: a root mutation field starts and ends with empty loaders. Its own selection, and
 * the next mutation of the same document, then read the rows it changed, not what was read before it.
 */
export const freshLoadersAroundMutations: MiddlewareFn<RequestContext> = async ({ info, context }, next) => {
  if (info.parentType.name !== 'Mutation') return next();
  context.loaders.clearAll();
  try {
    return await next();
  } finally {
    context.loaders.clearAll();
  }
};

/** A row its referrer needs (a foreign key) is gone: deleted while this request ran. */
function unknownRow(what: string, id: string): never {
  throw new Error(`${what} ${id} not found`);
}
