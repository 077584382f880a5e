// Connection.budgets reads the counters the proxies write. The planes share no code but the proto, so
// the control plane names the Redis keys and windows itself: they must be the data plane's exactly.
import { TimeUnit } from '../../control-plane/src/genai-service/provider';
import { budgetWindowAt, connectionQuotaKey, serviceBudgetKey } from '../../control-plane/src/rate-limit/budget-windows';
import { budgetWindowKey, connectionWindowKey } from '../../data-plane/src/rate-limit/token-budget';
import { windowAt } from '../../data-plane/src/rate-limit/windows';

const UNITS = [TimeUnit.MINUTE, TimeUnit.HOUR, TimeUnit.DAY];
const MOMENTS = [0, 59_999, 60_000, 1_765_000_000_000, Date.UTC(2026, 11, 31, 23, 59, 59, 999), Date.UTC(2027, 0, 1)];
const SCOPES = [
  { namespace: 'tokengate', environment: 'production', serviceId: '6f1c1a52-8a4e-4d8e-9a51-0b7a4f3b9c01', connectionId: '1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b' },
  { namespace: 'tg-test-1a2b', environment: 'eu-west-staging', serviceId: '00000000-0000-4000-8000-000000000000', connectionId: 'ffffffff-ffff-4fff-bfff-ffffffffffff' },
];

describe.each(UNITS)('%s windows', (unit) => {
  it.each(MOMENTS)('at %d: the same window and the same keys as the data plane', (nowMs) => {
    const window = budgetWindowAt(unit, nowMs);
    expect(window).toEqual(windowAt(unit, nowMs));
    for (const { namespace, environment, serviceId, connectionId } of SCOPES) {
      expect(serviceBudgetKey(namespace, environment, serviceId, window)).toBe(budgetWindowKey(namespace, environment, serviceId, window));
      expect(connectionQuotaKey(namespace, environment, serviceId, connectionId, window)).toBe(connectionWindowKey(namespace, environment, serviceId, connectionId, window));
    }
  });
});
