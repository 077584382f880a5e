// The one mutable reference to the snapshot being served.

import type { CompiledSnapshot } from './compiled-snapshot';

/**
 * Holds the current CompiledSnapshot. A swap replaces one reference; a request reads `current` once at
 * its start and keeps that snapshot to its end, so it never sees half of two revisions.
 */
export class SnapshotHolder {
  private snapshot: CompiledSnapshot | null = null;
  private readonly listeners = new Set<(snapshot: CompiledSnapshot) => void>();

  get current(): CompiledSnapshot | null {
    return this.snapshot;
  }

  /** The applied revision, 0n when no snapshot was applied yet. */
  get revision(): bigint {
    return this.snapshot === null ? 0n : this.snapshot.revision;
  }

  swap(next: CompiledSnapshot): void {
    this.snapshot = next;
    for (const listener of this.listeners) listener(next);
  }

  /** Called after each swap; returns an unsubscribe function. */
  onSwap(listener: (snapshot: CompiledSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
