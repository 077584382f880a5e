// Where the proxies keep the token counters of a budget window in Redis, and which window is current.
// The control plane only reads them (Connection.budgets). The two planes share no code: these must
// name exactly the keys of data-plane/src/rate-limit/token-budget.ts (budgetWindowKey,
// connectionWindowKey) and its windows.ts, which test/control-plane/budget-window-keys.test.ts checks.
import type { TimeUnit } from '../genai-service/provider';

const LENGTH_MS: Readonly<Record<TimeUnit, number>> = { MINUTE: 60_000, HOUR: 3_600_000, DAY: 86_400_000 };

/** A fixed UTC window: [start, end) in epoch milliseconds. */
export interface BudgetWindow {
  readonly unit: TimeUnit;
  readonly start: number;
  readonly end: number;
}

/** UTC minute, hour and day boundaries are multiples of their length since the epoch. */
export function budgetWindowAt(unit: TimeUnit, nowMs: number): BudgetWindow {
  const length = LENGTH_MS[unit];
  const start = Math.floor(nowMs / length) * length;
  return { unit, start, end: start + length };
}

/**
 * The hash of a service's budget window in an environment (by handle). The braces are a Redis
 * Cluster hash tag: every key of one service in one environment lives in one slot.
 */
export function serviceBudgetKey(namespace: string, environment: string, serviceId: string, window: Pick<BudgetWindow, 'unit' | 'start'>): string {
  return `${namespace}:rl:{${environment}:${serviceId}}:${window.unit}:${window.start}`;
}

/** The hash of one connection's quota window, in its service's slot. */
export function connectionQuotaKey(namespace: string, environment: string, serviceId: string, connectionId: string, window: Pick<BudgetWindow, 'unit' | 'start'>): string {
  return `${namespace}:rl:{${environment}:${serviceId}}:c:${connectionId}:${window.unit}:${window.start}`;
}
