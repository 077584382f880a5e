// Records the proxies' ACKs in batches. Every change is one delta to every proxy of its environment
// and one ACK back: at 50 changes/s, 40 proxies ACK ~1,200 times a second. One UPDATE (and commit)
// each took most of the database's commits, a pool connection each and a third of the control
// plane's CPU in socket writes, and mutations queued behind them (bench:scale's sustained phase).
// Here at most one UPDATE is in flight per control plane; ACKs arriving meanwhile go into the next
// one, per proxy only the highest revision.
import type { DataPlaneStore } from '../data-plane-registry/data-plane-store';

interface PendingAck {
  environment: string;
  revision: number;
  waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }>;
}

export class AppliedRevisions {
  private pending = new Map<string, PendingAck>();
  private flushing = false;

  /** `recorded`: after each batch, once per environment it touched (rollouts waiting there look again). */
  constructor(
    private readonly store: Pick<DataPlaneStore, 'applied'>,
    private readonly recorded: (environment: string) => void,
  ) {}

  /** Resolves once the ACK is stored (with others), or rejects with the batch's error. */
  record(proxyId: string, environment: string, revision: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry = this.pending.get(proxyId);
      if (entry) {
        entry.revision = Math.max(entry.revision, revision);
        entry.environment = environment;
        entry.waiters.push({ resolve, reject });
      } else {
        this.pending.set(proxyId, { environment, revision, waiters: [{ resolve, reject }] });
      }
      if (!this.flushing) {
        this.flushing = true;
        // After this turn's I/O callbacks: ACKs read from several streams at once share the first batch.
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.size > 0) {
      const batch = this.pending;
      this.pending = new Map();
      try {
        await this.store.applied([...batch].map(([proxyId, ack]) => ({ proxyId, revision: ack.revision })));
      } catch (error) {
        for (const ack of batch.values()) for (const waiter of ack.waiters) waiter.reject(error);
        continue;
      }
      for (const ack of batch.values()) for (const waiter of ack.waiters) waiter.resolve();
      for (const environment of new Set([...batch.values()].map((ack) => ack.environment))) {
        try {
          this.recorded(environment);
        } catch {
          // A listener's failure is not the ACKs'.
        }
      }
    }
    this.flushing = false;
  }
}
