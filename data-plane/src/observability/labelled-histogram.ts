// A Prometheus histogram for the request path: an observation is one Map lookup by a key the caller
// builds from its label values, one bucket search and three additions — no label validation, sorting
// or hashing per observation (prom-client's Histogram does all three, and the proxy observes several
// histograms per request). Rendered by the same prom-client Registry as every other metric.
import type { Registry } from 'prom-client';

interface Cell<L extends string> {
  readonly labels: Readonly<Record<L, string>>;
  /** Observations per bucket (not cumulative), the last one for +Inf. */
  readonly counts: number[];
  sum: number;
  count: number;
}

interface Sample {
  readonly metricName: string;
  readonly labels: Record<string, string | number>;
  readonly value: number;
}

export class LabelledHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly cells = new Map<string, Cell<L>>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    // The Registry renders any metric object with name, help, type, get() and reset().
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /**
   * Records `value` under `labels`. `key` must be the same string whenever the labels are the same, and
   * differ when they differ (e.g. the values joined by a character none of them holds); `labels` is
   * called only the first time a key is seen.
   */
  observe(key: string, labels: () => Readonly<Record<L, string>>, value: number): void {
    let cell = this.cells.get(key);
    if (cell === undefined) {
      cell = { labels: labels(), counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
      this.cells.set(key, cell);
    }
    let bucket = 0;
    while (bucket < this.buckets.length && value > this.buckets[bucket]) bucket += 1;
    cell.counts[bucket] += 1;
    cell.sum += value;
    cell.count += 1;
  }

  get(): { name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Sample[] } {
    const values: Sample[] = [];
    for (const cell of this.cells.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.buckets.length; i += 1) {
        cumulative += cell.counts[i];
        values.push({ metricName: `${this.name}_bucket`, labels: { ...cell.labels, le: i < this.buckets.length ? this.buckets[i] : '+Inf' }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_sum`, labels: { ...cell.labels }, value: cell.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...cell.labels }, value: cell.count });
    }
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values };
  }

  reset(): void {
    this.cells.clear();
  }
}
