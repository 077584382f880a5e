// What tests read of the token budgets from outside a proxy: its degraded-mode gauge and Redis's counters.
import type { DataPlaneHandle } from '../../data-plane/src/main';
import type { PrivateRedis } from './redis-server';

/** tokengate_rate_limit_degraded for production, as the proxy's /metrics states it (1: on local counters). */
export async function degradedGauge(proxy: DataPlaneHandle): Promise<number> {
  const text = await (await fetch(`${proxy.url}/metrics`)).text();
  return Number(/^tokengate_rate_limit_degraded{environment="production"} (\d+)/m.exec(text)?.[1]);
}

/** Total tokens the shared counters hold for a service's production budget, over every window. */
export async function redisTotalTokens(redis: PrivateRedis, namespace: string, serviceId: string): Promise<number> {
  const client = redis.client();
  try {
    const keys = await client.keys(`${namespace}:rl:{production:${serviceId}}:*`);
    let total = 0;
    for (const key of keys) total += Number(await client.hget(key, 't'));
    return total;
  } finally {
    client.disconnect();
  }
}
