// Gets every usage batch to the control plane exactly once: spooled in Redis first (when there is a
// spool), sent on the config stream, removed from the spool when the control plane acknowledges it.
// Batches another proxy left behind (or this one could not keep in memory) are re-sent from the spool.
import type { Logger } from 'pino';
import type { UsageBatchMessage } from '../config-stream/wire-types';
import type { UsageSpool } from './usage-spool';

/**
 * Batches kept in memory waiting for Redis (and, before the stream exists, for the stream) at most:
 * with both Redis and the control plane away for days, the oldest are dropped (with a log line)
 * rather than grow the proxy. At the default 1 s interval this is almost three hours of batches.
 */
export const MAX_BATCHES_IN_MEMORY = 10_000;

/** Spool writes retried with each new batch: a long Redis outage drains at this pace once it ends. */
const SPOOL_RETRIES_PER_DELIVERY = 100;

export interface UsageDeliveryOptions {
  /** Null: batches live only in memory (no Redis configured). */
  readonly spool: UsageSpool | null;
  readonly logger: Logger;
  /** Batches spooled at least this long ago are re-sent when the proxy (re)connects; default 30 s. */
  readonly orphanAgeMs?: number;
}

export class UsageDelivery {
  private send: ((batch: UsageBatchMessage) => void) | null = null;
  /** Sent before the stream existed; handed over once it does. */
  private early: UsageBatchMessage[] = [];
  /** Not yet in the spool (Redis was away): retried at the next batch. Removed when acknowledged. */
  private readonly unspooled = new Map<string, UsageBatchMessage>();
  private readonly writes = new Set<Promise<void>>();
  /** Spool writes in flight, by batch id: a removal waits for its write, or the batch would linger. */
  private readonly putting = new Map<string, Promise<void>>();
  private adopting = false;

  constructor(private readonly options: UsageDeliveryOptions) {}

  /** Connects the delivery to the config stream (which keeps each batch until it is acknowledged). */
  attach(send: (batch: UsageBatchMessage) => void): void {
    this.send = send;
    const early = this.early;
    this.early = [];
    for (const batch of early) send(batch);
  }

  deliver(batch: UsageBatchMessage): void {
    this.spool(batch);
    // Batches Redis did not take before, oldest first, a bounded number per delivery.
    let retries = 0;
    for (const waiting of this.unspooled.values()) {
      if (waiting === batch) continue;
      if ((retries += 1) > SPOOL_RETRIES_PER_DELIVERY) break;
      this.spool(waiting);
    }
    if (this.send === null) {
      this.early.push(batch);
      if (this.early.length > MAX_BATCHES_IN_MEMORY) this.drop(this.early.shift()!.batch_id, 'the config stream never started');
    } else {
      this.send(batch);
    }
  }

  acknowledged(batchId: string): void {
    this.unspooled.delete(batchId);
    const spool = this.options.spool;
    if (spool === null) return;
    const written = this.putting.get(batchId) ?? Promise.resolve();
    this.track(written.then(() => spool.remove(batchId)).catch((error: unknown) => {
      // Left in the spool: re-sent later and answered from the control plane's record of applied ids.
      this.options.logger.debug({ batchId, err: (error as Error).message }, 'acknowledged usage batch not removed from the spool');
    }));
  }

  /** Re-sends the spooled batches old enough to be orphans; call it when the control plane is reachable. */
  adoptOrphans(): void {
    const spool = this.options.spool;
    if (spool === null || this.adopting || this.send === null) return;
    this.adopting = true;
    const send = this.send;
    this.track(
      spool
        .unacknowledged(this.options.orphanAgeMs ?? 30_000)
        .then((batches) => {
          if (batches.length > 0) this.options.logger.info({ batches: batches.length }, 're-sending spooled usage batches');
          for (const batch of batches) send(batch);
        })
        .catch((error: unknown) => this.options.logger.warn({ err: (error as Error).message }, 'reading the usage spool failed'))
        .finally(() => {
          this.adopting = false;
        }),
    );
  }

  /** Resolves once every spool write started so far has finished (call after the last deliver()). */
  async settled(): Promise<void> {
    while (this.writes.size > 0) await Promise.all([...this.writes]);
  }

  private spool(batch: UsageBatchMessage): void {
    const spool = this.options.spool;
    if (spool === null) return;
    if (this.putting.has(batch.batch_id)) return;
    this.unspooled.set(batch.batch_id, batch);
    if (this.unspooled.size > MAX_BATCHES_IN_MEMORY) {
      const oldest = this.unspooled.keys().next().value as string;
      this.unspooled.delete(oldest);
      this.drop(oldest, 'Redis has been unavailable too long');
    }
    const write = spool.put(batch).then(
      () => {
        this.unspooled.delete(batch.batch_id);
      },
      (error: unknown) => {
        this.options.logger.warn({ batchId: batch.batch_id, err: (error as Error).message }, 'usage batch not spooled (Redis unavailable): kept in memory until acknowledged');
      },
    );
    this.putting.set(batch.batch_id, write);
    void write.finally(() => this.putting.delete(batch.batch_id));
    this.track(write);
  }

  /** Stops retrying the spool write of a batch (the config stream client may still hold it). */
  private drop(batchId: string, why: string): void {
    this.options.logger.warn({ batchId, why }, 'usage batch no longer kept for the spool: too many waiting in memory');
  }

  private track(work: Promise<void>): void {
    this.writes.add(work);
    void work.finally(() => this.writes.delete(work));
  }
}
