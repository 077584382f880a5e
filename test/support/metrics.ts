// Reading the proxy's /metrics (Prometheus text format) in tests.
import type { Gateway } from './gateway-harness';
import { waitFor } from './wait';

/** The value of the first `name{...}` sample whose labels include `labels`, or undefined. */
export function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf('}'));
    const pairs = Object.fromEntries(body.split(/,(?=[a-z_]+=")/).map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 2, -1)]));
    if (Object.entries(labels).every(([k, v]) => pairs[k] === v)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/** The proxy's request counters of one service, by status label. */
export async function requestsByStatus(gw: Gateway, serviceId: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${gw.proxy.url}/metrics`)).text();
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('tokengate_proxy_requests_total{') || !line.includes(`service="${serviceId}"`)) continue;
    const status = /status="(\d+)"/.exec(line)?.[1];
    if (status !== undefined) counts.set(status, Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return counts;
}

/**
 * Runs `call` (one request to the service) and returns the status label its request was counted
 * under in /metrics (waits until one counter grew by one).
 */
export async function countedStatus(gw: Gateway, serviceId: string, call: () => Promise<unknown>): Promise<string> {
  const before = await requestsByStatus(gw, serviceId);
  await call();
  return waitFor(async () => {
    const after = await requestsByStatus(gw, serviceId);
    const grown = [...after].filter(([status, count]) => count !== (before.get(status) ?? 0));
    return grown.length === 1 && grown[0][1] === (before.get(grown[0][0]) ?? 0) + 1 && grown[0][0];
  }, `the request of service ${serviceId} counted in /metrics`);
}
