// What limits a connection in each environment: its service's shared budget, and its quota (its own
// override, else the service's default connection quota).
import type { EntityManager } from 'typeorm';
import { EnvironmentEntity } from '../environment/environment.entity';
import { GenAIServiceEntity } from '../genai-service/genai-service.entity';
import { ServiceEnvironmentConfigEntity } from '../genai-service/service-environment-config.entity';
import { connectionQuotaOf, serviceBudgetOf } from '../genai-service/service-limits';
import { OrganizationEntity } from '../organization/organization.entity';
import type { StoredRateLimit } from '../rate-limit/rate-limit-policy';
import { ConnectionKeyEntity } from './connection-key.entity';
import { ConnectionQuotaOverrideEntity } from './connection-quota.entity';
import { QuotaSource } from './connection-quota.types';
import type { ConnectionEntity } from './connection.entity';

/**
 * Where a connection's surroundings are read from: the database directly (`databaseRows`), or a GraphQL
 * request's loaders, which batch the reads of a whole list (graphql/request-loaders.ts).
 */
export interface ConnectionRows {
  /** Every environment, in the order environments are listed everywhere (creation, then handle). */
  environments(): Promise<EnvironmentEntity[]>;
  serviceConfigs(serviceId: string): Promise<ServiceEnvironmentConfigEntity[]>;
  quotaOverrides(connectionId: string): Promise<ConnectionQuotaOverrideEntity[]>;
  keys(connectionId: string): Promise<ConnectionKeyEntity[]>;
  /** The row a connection refers to (it exists: a foreign key). */
  serviceOf(serviceId: string): Promise<GenAIServiceEntity>;
  organizationOf(organizationId: string): Promise<OrganizationEntity>;
}

export function databaseRows(db: EntityManager): ConnectionRows {
  return {
    environments: () => db.find(EnvironmentEntity, { order: { createdAt: 'ASC', handle: 'ASC' } }),
    serviceConfigs: (serviceId) => db.findBy(ServiceEnvironmentConfigEntity, { serviceId }),
    quotaOverrides: (connectionId) => db.findBy(ConnectionQuotaOverrideEntity, { connectionId }),
    keys: (connectionId) => db.findBy(ConnectionKeyEntity, { connectionId }),
    serviceOf: (id) => db.findOneByOrFail(GenAIServiceEntity, { id }),
    organizationOf: (id) => db.findOneByOrFail(OrganizationEntity, { id }),
  };
}

/** What limits a connection in one environment. */
export interface EnvironmentLimits {
  environment: EnvironmentEntity;
  /** The service's configuration there; null when it has none. */
  config: ServiceEnvironmentConfigEntity | null;
  /** The service's budget, shared by all its connections; null: unlimited. */
  serviceBudget: StoredRateLimit | null;
  /** The connection's quota: its override, else the service's default; null: none. */
  quota: StoredRateLimit | null;
  quotaSource: QuotaSource;
}

/** Per environment, in the order environments are listed everywhere (creation, then handle). */
export async function readEnvironmentLimits(rows: ConnectionRows, connection: Pick<ConnectionEntity, 'id' | 'serviceId'>): Promise<EnvironmentLimits[]> {
  const [environments, configs, overrides] = await Promise.all([rows.environments(), rows.serviceConfigs(connection.serviceId), rows.quotaOverrides(connection.id)]);
  return environments.map((environment) => {
    const config = configs.find((c) => c.environmentId === environment.id) ?? null;
    const override = overrides.find((o) => o.environmentId === environment.id);
    const serviceDefault = config && connectionQuotaOf(config);
    const quotaSource = override ? QuotaSource.CONNECTION_OVERRIDE : serviceDefault ? QuotaSource.SERVICE_DEFAULT : QuotaSource.NONE;
    return {
      environment,
      config,
      serviceBudget: config && serviceBudgetOf(config),
      quota: override ? overrideLimit(override) : serviceDefault,
      quotaSource,
    };
  });
}

export function overrideLimit(row: ConnectionQuotaOverrideEntity): StoredRateLimit {
  return { timeUnit: row.timeUnit, maxPromptTokens: row.maxPromptTokens, maxCompletionTokens: row.maxCompletionTokens, maxTotalTokens: row.maxTotalTokens, shadow: row.shadow };
}
