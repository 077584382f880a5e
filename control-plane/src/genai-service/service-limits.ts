// The two budgets a service environment configuration holds in its columns: the service's own
// (shared by all its connections) and the default quota of each connection.
import { type StoredRateLimit, storedRateLimit } from '../rate-limit/rate-limit-policy';
import type { ServiceEnvironmentConfigEntity } from './service-environment-config.entity';

type ServiceBudgetColumns = Pick<ServiceEnvironmentConfigEntity, 'rateLimitTimeUnit' | 'maxPromptTokens' | 'maxCompletionTokens' | 'maxTotalTokens' | 'rateLimitShadow'>;
type ConnectionQuotaColumns = Pick<
  ServiceEnvironmentConfigEntity,
  'connectionQuotaTimeUnit' | 'connectionQuotaMaxPromptTokens' | 'connectionQuotaMaxCompletionTokens' | 'connectionQuotaMaxTotalTokens' | 'connectionQuotaShadow'
>;

export function serviceBudgetOf(config: ServiceBudgetColumns): StoredRateLimit | null {
  return storedRateLimit(config.rateLimitTimeUnit, config.maxPromptTokens, config.maxCompletionTokens, config.maxTotalTokens, config.rateLimitShadow);
}

export function serviceBudgetColumns(limit: StoredRateLimit | null): ServiceBudgetColumns {
  return {
    rateLimitTimeUnit: limit?.timeUnit ?? null,
    maxPromptTokens: limit?.maxPromptTokens ?? null,
    maxCompletionTokens: limit?.maxCompletionTokens ?? null,
    maxTotalTokens: limit?.maxTotalTokens ?? null,
    rateLimitShadow: limit?.shadow ?? false,
  };
}

export function connectionQuotaOf(config: ConnectionQuotaColumns): StoredRateLimit | null {
  return storedRateLimit(
    config.connectionQuotaTimeUnit,
    config.connectionQuotaMaxPromptTokens,
    config.connectionQuotaMaxCompletionTokens,
    config.connectionQuotaMaxTotalTokens,
    config.connectionQuotaShadow,
  );
}

export function connectionQuotaColumns(limit: StoredRateLimit | null): ConnectionQuotaColumns {
  return {
    connectionQuotaTimeUnit: limit?.timeUnit ?? null,
    connectionQuotaMaxPromptTokens: limit?.maxPromptTokens ?? null,
    connectionQuotaMaxCompletionTokens: limit?.maxCompletionTokens ?? null,
    connectionQuotaMaxTotalTokens: limit?.maxTotalTokens ?? null,
    connectionQuotaShadow: limit?.shadow ?? false,
  };
}
