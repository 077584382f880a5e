// An append-only list of things that happened, awaitable without sleeping: tests wait for the event
// itself, never for a duration.

export class RecordLog<T> {
  private readonly records: T[] = [];
  private waiters: Array<{ readonly from: number; readonly matches: (record: T) => boolean; readonly resolve: (record: T) => void }> = [];

  get all(): readonly T[] {
    return this.records;
  }

  get length(): number {
    return this.records.length;
  }

  push(record: T): void {
    this.records.push(record);
    const index = this.records.length - 1;
    const pending = this.waiters;
    this.waiters = [];
    for (const waiter of pending) {
      if (index >= waiter.from && waiter.matches(record)) waiter.resolve(record);
      else this.waiters.push(waiter);
    }
  }

  /** The first record at index >= `from` that matches, already logged or yet to come. */
  waitFor(matches: (record: T) => boolean = () => true, from = 0): Promise<T> {
    for (let i = from; i < this.records.length; i++) if (matches(this.records[i])) return Promise.resolve(this.records[i]);
    return new Promise((resolve) => this.waiters.push({ from, matches, resolve }));
  }

  /** The next record logged after this call. */
  next(matches: (record: T) => boolean = () => true): Promise<T> {
    return this.waitFor(matches, this.records.length);
  }
}
