// Aggregates the tokens charged per (service, connection, window) and reports them to the control
// plane in batches over the config stream. The stream client keeps a batch until the control plane
// acknowledges it, and the control plane applies a batch id once: nothing lost, nothing doubled.
import { randomBytes } from 'node:crypto';
import type { UsageBatchMessage } from '../config-stream/wire-types';
import type { TimeUnit } from './windows';

interface Tally {
  serviceId: string;
  connectionId: string;
  unit: TimeUnit;
  windowStart: number;
  prompt: number;
  completion: number;
  requests: number;
}

export class UsageReporter {
  private tallies = new Map<string, Tally>();
  private sequence = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly prefix = randomBytes(6).toString('hex');

  constructor(
    private readonly send: (batch: UsageBatchMessage) => void,
    private readonly proxyId: string,
    intervalMs = 5000,
  ) {
    this.timer = setInterval(() => this.flush(), intervalMs);
    this.timer.unref();
  }

  record(serviceId: string, connectionId: string, unit: TimeUnit, windowStart: number, usage: { prompt: number; completion: number }): void {
    const key = `${serviceId}|${connectionId}|${unit}|${windowStart}`;
    let tally = this.tallies.get(key);
    if (tally === undefined) {
      tally = { serviceId, connectionId, unit, windowStart, prompt: 0, completion: 0, requests: 0 };
      this.tallies.set(key, tally);
    }
    tally.prompt += usage.prompt;
    tally.completion += usage.completion;
    tally.requests += 1;
  }

  /** Sends what was tallied since the last flush as one batch (nothing when idle). */
  flush(): void {
    if (this.tallies.size === 0) return;
    const tallies = [...this.tallies.values()];
    this.tallies = new Map();
    this.sequence += 1;
    this.send({
      batch_id: `${this.proxyId}:${this.prefix}:${this.sequence}`,
      records: tallies.map((t) => ({
        service_id: t.serviceId,
        connection_id: t.connectionId,
        window_unit: t.unit,
        window_start: new Date(t.windowStart).toISOString(),
        prompt_tokens: String(t.prompt),
        completion_tokens: String(t.completion),
        total_tokens: String(t.prompt + t.completion),
        requests: String(t.requests),
      })),
    });
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
