// What the gateway itself counted during the soak, to hold against what the client received: the
// shared token counters in Redis (one hash per service and window, read while they live), each
// proxy's /metrics, and the usage the proxies reported to the control plane.
import { Redis } from 'ioredis';
import type { ManagedChild } from './child-processes';
import { type TimeUnit, windowAt, windowLengthMs } from '../data-plane/src/rate-limit/windows';
import { budgetWindowKey } from '../data-plane/src/rate-limit/token-budget';
import { BENCH_ENVIRONMENT, type TokengateStack, type UsageWindow } from './tokengate-stack';

export interface TokenCounts {
  readonly prompt: number;
  readonly completion: number;
  readonly total: number;
}

export interface RedisWindowCounters extends TokenCounts {
  readonly serviceId: string;
  readonly windowStart: number;
}

/**
 * Reads the budget hashes of some services. A hash lives one window plus 60 s after its last
 * admission, so over a long run the reader is called every few seconds and keeps the last value it
 * saw of every window.
 */
export class RedisWindowReader {
  private readonly redis: Redis;
  private readonly seen = new Map<string, RedisWindowCounters>();

  constructor(
    redisUrl: string,
    private readonly serviceIds: readonly string[],
    private readonly unit: TimeUnit,
    /** Epoch ms: no window before the one holding this instant is read. */
    private readonly since: number,
  ) {
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  }

  /** Reads every window from `since` to now; a hash already gone keeps its last value. */
  async read(): Promise<void> {
    const length = windowLengthMs(this.unit);
    for (let start = windowAt(this.unit, this.since).start; start <= Date.now(); start += length) {
      for (const serviceId of this.serviceIds) {
        // The proxies run with the default TOKENGATE_REDIS_NAMESPACE.
        const hash = await this.redis.hgetall(budgetWindowKey('tokengate', BENCH_ENVIRONMENT, serviceId, { unit: this.unit, start }));
        if (hash.t === undefined) continue;
        this.seen.set(`${serviceId}|${start}`, { serviceId, windowStart: start, prompt: Number(hash.p ?? 0), completion: Number(hash.c ?? 0), total: Number(hash.t) });
      }
    }
  }

  windows(): RedisWindowCounters[] {
    return [...this.seen.values()];
  }

  close(): void {
    this.redis.disconnect();
  }
}

export interface ProxyMetrics {
  /** tokengate_tokens_total per service id: input (prompt) and output (completion) tokens. */
  readonly tokensByService: Readonly<Record<string, { prompt: number; completion: number }>>;
  /** tokengate_proxy_requests_total per service id and status. */
  readonly requestsByService: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** tokengate_rate_limit_degraded: 1 while Redis is away. */
  readonly degraded: number;
  readonly residentBytes: number | null;
}

interface PrometheusSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Samples of the Prometheus text format (no escaped quotes in label values: ids and numbers here). */
export function parsePrometheusText(text: string): PrometheusSample[] {
  const samples: PrometheusSample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[name] = value;
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

export async function readProxyMetrics(proxyUrl: string): Promise<ProxyMetrics> {
  const response = await fetch(`${proxyUrl}/metrics`);
  if (!response.ok) throw new Error(`${proxyUrl}/metrics: HTTP ${response.status}`);
  const tokensByService: Record<string, { prompt: number; completion: number }> = {};
  const requestsByService: Record<string, Record<string, number>> = {};
  let degraded = 0;
  let residentBytes: number | null = null;
  for (const { name, labels, value } of parsePrometheusText(await response.text())) {
    if (name === 'tokengate_tokens_total' && labels.service !== undefined) {
      const entry = (tokensByService[labels.service] ??= { prompt: 0, completion: 0 });
      if (labels.type === 'input') entry.prompt += value;
      if (labels.type === 'output') entry.completion += value;
    } else if (name === 'tokengate_proxy_requests_total' && labels.service !== undefined && labels.status !== undefined) {
      const entry = (requestsByService[labels.service] ??= {});
      entry[labels.status] = (entry[labels.status] ?? 0) + value;
    } else if (name === 'tokengate_rate_limit_degraded') {
      degraded = value;
    } else if (name === 'process_resident_memory_bytes') {
      residentBytes = value;
    }
  }
  return { tokensByService, requestsByService, degraded, residentBytes };
}

/**
 * The control plane's usage windows of each service once the proxies have reported `expectedRequests`
 * answers for it (they report in batches every few seconds), or what it has after `timeoutMs`.
 */
export async function waitForReportedUsage(
  stack: TokengateStack,
  expectedRequests: ReadonlyMap<string, number>,
  timeoutMs: number,
): Promise<Map<string, UsageWindow[]>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const usage = new Map<string, UsageWindow[]>();
    for (const serviceId of expectedRequests.keys()) usage.set(serviceId, await stack.usage(serviceId));
    const complete = [...expectedRequests].every(([serviceId, expected]) => (usage.get(serviceId) ?? []).reduce((sum, w) => sum + w.requests, 0) >= expected);
    if (complete || Date.now() > deadline) return usage;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** How often a proxy logged one warning or error, and when first (ISO time). */
export interface LoggedWarning {
  count: number;
  readonly firstAt: string;
}

/** Warnings and errors (pino level ≥ 40) a proxy logs, by message: Redis timeouts, degraded mode, upstream trouble. */
export class ProxyLogWatch {
  private readonly counts = new Map<string, LoggedWarning>();
  private partial = '';

  constructor(child: ManagedChild) {
    child.child.stdout?.on('data', (text: string) => {
      const lines = (this.partial + text).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) this.take(line);
    });
  }

  messages(): Record<string, LoggedWarning> {
    return Object.fromEntries(this.counts);
  }

  private take(line: string): void {
    if (!line.startsWith('{')) return;
    try {
      const entry = JSON.parse(line) as { level?: unknown; msg?: unknown; time?: unknown; err?: unknown };
      if (typeof entry.level !== 'number' || entry.level < 40) return;
      const message = typeof entry.err === 'string' ? `${String(entry.msg)} [${entry.err}]` : String(entry.msg);
      const seen = this.counts.get(message);
      if (seen !== undefined) seen.count += 1;
      else this.counts.set(message, { count: 1, firstAt: new Date(typeof entry.time === 'number' ? entry.time : Date.now()).toISOString() });
    } catch {
      // not a log line
    }
  }
}
