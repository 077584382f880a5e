// What limits a connection in each environment: its service's shared budget, and its quota (its own
// override, else the service's default connection quota).
import type { EntityManager } from 'typeorm';
import { EnvironmentEntity } from '../environment/environment.entity';
import { ServiceEnvironmentConfigEntity } from '../genai-service/service-environment-config.entity';
import { connectionQuotaOf, serviceBudgetOf } from '../genai-service/service-limits';
import type { StoredRateLimit } from '../rate-limit/rate-limit-policy';
import { ConnectionQuotaOverrideEntity } from './connection-quota.entity';
import { QuotaSource } from './connection-quota.types';
import type { ConnectionEntity } from './connection.entity';

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
export async function readEnvironmentLimits(db: EntityManager, connection: Pick<ConnectionEntity, 'id' | 'serviceId'>): Promise<EnvironmentLimits[]> {
  const environments = await db.find(EnvironmentEntity, { order: { createdAt: 'ASC', handle: 'ASC' } });
  const configs = await db.findBy(ServiceEnvironmentConfigEntity, { serviceId: connection.serviceId });
  const overrides = await db.findBy(ConnectionQuotaOverrideEntity, { connectionId: connection.id });
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
