// Bounds the bytes of config messages handed to gRPC and not yet flushed, across every stream of a
// control plane. A snapshot is encoded once and shared, but grpc-js frames a copy of it for each
// stream it is written to: 40 proxies sent a 100,000-key snapshot at once held ~500 MB (bench:scale,
// external memory). Writes past the budget wait, in order, until earlier ones are flushed; one write
// is always let through, however large.

interface Waiting {
  bytes: number;
  start: (release: () => void) => void;
}

export class WriteBudget {
  private inFlight = 0;
  private readonly waiting: Waiting[] = [];

  constructor(readonly maxBytes: number) {}

  /** Bytes handed out and not yet released. */
  get bytesInFlight(): number {
    return this.inFlight;
  }

  /** Writes waiting for room. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Calls `start` once `bytes` fit (at once when they do and nobody waits before them). `start` gets a
   * `release` to call when the write is flushed or abandoned; calling it again does nothing.
   */
  acquire(bytes: number, start: (release: () => void) => void): void {
    if (this.waiting.length === 0 && this.fits(bytes)) this.begin(bytes, start);
    else this.waiting.push({ bytes, start });
  }

  private fits(bytes: number): boolean {
    return this.inFlight === 0 || this.inFlight + bytes <= this.maxBytes;
  }

  private begin(bytes: number, start: (release: () => void) => void): void {
    this.inFlight += bytes;
    let released = false;
    start(() => {
      if (released) return;
      released = true;
      this.inFlight -= bytes;
      this.admitWaiting();
    });
  }

  private admitWaiting(): void {
    while (this.waiting.length > 0 && this.fits(this.waiting[0].bytes)) {
      const next = this.waiting.shift()!;
      this.begin(next.bytes, next.start);
    }
  }
}
