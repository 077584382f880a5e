// Millions of small durations (one per chunk) in fixed memory: 0.1 ms buckets up to 10 s, the exact
// maximum kept aside. Percentiles are nearest-rank over the buckets (upper edge of the bucket).

const BUCKETS_PER_MS = 10;
const LAST_BUCKET = 10_000 * BUCKETS_PER_MS;

export interface HistogramSummary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

export class LatencyHistogram {
  private readonly buckets = new Uint32Array(LAST_BUCKET + 1);
  private count = 0;
  private max = 0;

  record(ms: number): void {
    const value = ms > 0 ? ms : 0;
    const bucket = Math.min(LAST_BUCKET, Math.floor(value * BUCKETS_PER_MS));
    this.buckets[bucket] += 1;
    this.count += 1;
    if (value > this.max) this.max = value;
  }

  summary(): HistogramSummary {
    return { count: this.count, p50: this.percentile(50), p99: this.percentile(99), p999: this.percentile(99.9), max: round(this.max) };
  }

  private percentile(p: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i <= LAST_BUCKET; i++) {
      seen += this.buckets[i];
      if (seen >= rank) return i === LAST_BUCKET ? round(this.max) : round(Math.min(this.max, (i + 1) / BUCKETS_PER_MS));
    }
    return round(this.max);
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
