// A connection's quota per environment (its own override, else its service's default connection
// quota) and the budgets that limit it now, with what their current windows have used.
import type { DataSource } from 'typeorm';
import { type Actor, SERVICE_MANAGERS } from '../auth/actor';
import { badUserInput } from '../common/errors';
import type { ConfigChanges } from '../config-change/config-change';
import { EnvironmentEntity } from '../environment/environment.entity';
import type { RateLimitInput } from '../genai-service/genai-service.types';
import { type BudgetCounterReader, countersUnavailable } from '../rate-limit/budget-counters';
import { type BudgetWindow, budgetWindowAt, connectionQuotaKey, serviceBudgetKey } from '../rate-limit/budget-windows';
import { type StoredRateLimit, rateLimitFromInput, rateLimitType } from '../rate-limit/rate-limit-policy';
import { ConnectionKeyEntity } from './connection-key.entity';
import { databaseRows, overrideLimit, readEnvironmentLimits } from './connection-limits';
import { ConnectionQuotaOverrideEntity } from './connection-quota.entity';
import { BudgetSource, type ConnectionBudgetType, QuotaSource, TokenDimension } from './connection-quota.types';
import type { ConnectionEntity } from './connection.entity';
import { lockConnection } from './connection.service';

/** Int in GraphQL: a counter beyond it (never a configured max, which is an integer column) is shown at the bound. */
const MAX_INT = 2 ** 31 - 1;

const DIMENSIONS = [
  [TokenDimension.PROMPT, 'maxPromptTokens', 'prompt'],
  [TokenDimension.COMPLETION, 'maxCompletionTokens', 'completion'],
  [TokenDimension.TOTAL, 'maxTotalTokens', 'total'],
] as const;

export class ConnectionQuotaService {
  constructor(
    private readonly db: DataSource,
    private readonly changes: ConfigChanges,
    /** null: no Redis to read (Connection.budgets answers SERVICE_UNAVAILABLE where it needs one). */
    private readonly counters: BudgetCounterReader | null,
  ) {}

  /**
   * Sets (or, with null, removes) the connection's own quota in one environment, higher or lower than
   * its service's default; a quota without any max makes the connection unlimited there. The
   * connection's key there is logged as changed, so proxies get it again with its quota_override.
   */
  async setQuota(actor: Actor, connectionId: string, environmentHandle: string, input: RateLimitInput | null): Promise<ConnectionEntity> {
    const connection = await this.changes.apply(async (tx, change) => {
      const connection = await lockConnection(tx, actor, connectionId);
      actor.requireRole(connection.organizationId, SERVICE_MANAGERS, 'setting connection quotas');
      const quota = input === null ? null : rateLimitFromInput('quota', input);
      const environment = await tx.findOneBy(EnvironmentEntity, { handle: environmentHandle });
      if (!environment) throw badUserInput('environment', `unknown environment "${environmentHandle}"`);
      const previous = await tx.findOneBy(ConnectionQuotaOverrideEntity, { connectionId, environmentId: environment.id });
      if (quota === null) {
        await tx.delete(ConnectionQuotaOverrideEntity, { connectionId, environmentId: environment.id });
      } else {
        await tx.query(
          `INSERT INTO connection_quota_overrides (connection_id, environment_id, time_unit, max_prompt_tokens, max_completion_tokens, max_total_tokens, shadow)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (connection_id, environment_id) DO UPDATE SET time_unit = EXCLUDED.time_unit, max_prompt_tokens = EXCLUDED.max_prompt_tokens,
             max_completion_tokens = EXCLUDED.max_completion_tokens, max_total_tokens = EXCLUDED.max_total_tokens, shadow = EXCLUDED.shadow, updated_at = now()`,
          [connectionId, environment.id, quota.timeUnit, quota.maxPromptTokens, quota.maxCompletionTokens, quota.maxTotalTokens, quota.shadow],
        );
      }
      await change.audit(actor, {
        action: 'connection.setQuota',
        targetType: 'Connection',
        targetId: connectionId,
        organizationId: connection.organizationId,
        details: { environment: environmentHandle, quota: rateLimitType(quota), previous: rateLimitType(previous ? overrideLimit(previous) : null) },
      });
      // Proxies know a quota through the connection's key: its key there is what changed. A connection
      // without a key there (an environment created after it) has nothing to send until one is issued.
      const keys = (await tx.findBy(ConnectionKeyEntity, { connectionId, environmentId: environment.id })).map((k) => ({ environmentId: environment.id, keyHash: k.keyHash }));
      const what = `quota of connection "${connection.name}" ${quota ? 'set' : 'removed'} in ${environmentHandle}`;
      if (keys.length > 0) change.alters(connection.serviceId, [environment.id], what, { service: false, keys });
      return connection;
    });
    return connection;
  }

  /**
   * The budgets that limit the connection now, per environment (all, or the one named) and
   * dimension: the service's shared budget, then the connection's quota. `used` is what the current
   * window's counters in Redis hold (0 where none); a connection with no budget reads nothing.
   */
  async budgets(connection: ConnectionEntity, environmentHandle: string | null, nowMs: number = Date.now()): Promise<ConnectionBudgetType[]> {
    let limits = await readEnvironmentLimits(databaseRows(this.db.manager), connection);
    if (environmentHandle !== null) {
      limits = limits.filter((l) => l.environment.handle === environmentHandle);
      if (limits.length === 0) throw badUserInput('environment', `unknown environment "${environmentHandle}"`);
    }
    const windows: Array<{ environment: string; source: BudgetSource; limit: StoredRateLimit; window: BudgetWindow }> = [];
    for (const { environment, serviceBudget, quota, quotaSource } of limits) {
      const at = (limit: StoredRateLimit) => budgetWindowAt(limit.timeUnit, nowMs);
      if (serviceBudget) windows.push({ environment: environment.handle, source: BudgetSource.SERVICE, limit: serviceBudget, window: at(serviceBudget) });
      const source = quotaSource === QuotaSource.CONNECTION_OVERRIDE ? BudgetSource.CONNECTION_OVERRIDE : BudgetSource.SERVICE_DEFAULT;
      if (quota) windows.push({ environment: environment.handle, source, limit: quota, window: at(quota) });
    }
    const limited = windows.filter(({ limit }) => DIMENSIONS.some(([, max]) => limit[max] !== null));
    if (limited.length === 0) return [];
    if (!this.counters) throw countersUnavailable('the token counters are not available: this control plane has no Redis');
    const { namespace } = this.counters;
    const counters = await this.counters.read(
      limited.map(({ environment, source, window }) =>
        source === BudgetSource.SERVICE ? serviceBudgetKey(namespace, environment, connection.serviceId, window) : connectionQuotaKey(namespace, environment, connection.serviceId, connection.id, window),
      ),
    );
    return limited.flatMap(({ environment, source, limit, window }, index) =>
      DIMENSIONS.flatMap(([dimension, max, counter]) => {
        const allowed = limit[max];
        if (allowed === null) return [];
        const used = Math.min(counters[index][counter], MAX_INT);
        return [{ environment, source, dimension, timeUnit: limit.timeUnit, limit: allowed, used, remaining: Math.max(0, allowed - used), resetsAt: new Date(window.end), enforce: !limit.shadow }];
      }),
    );
  }
}
