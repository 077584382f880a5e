import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { Gauge, type Registry } from 'prom-client';

interface GcDetail {
  kind?: number;
}

/**
 * `<prefix>heap_used_after_major_gc_bytes`: the V8 heap in use as the latest major (mark-compact)
 * collection left it — what survived, so a leak raises it. `nodejs_heap_size_used_bytes` is a
 * sawtooth under steady load (young garbage piles up for tens of seconds between major
 * collections), which tells where the tooth stands when scraped, not whether memory grows. Set to
 * the heap in use at registration until the first major collection. Returns the observer's stop.
 */
export function registerHeapAfterGcMetric(registry: Registry, prefix: string): () => void {
  const gauge = new Gauge({
    name: `${prefix}heap_used_after_major_gc_bytes`,
    help: 'V8 heap in use right after the latest major garbage collection (at start: the heap in use then).',
    registers: [registry],
  });
  gauge.set(getHeapStatistics().used_heap_size);
  const observer = new PerformanceObserver((list) => {
    // Entries are delivered after the collection, in a later task: the reading is the surviving heap
    // plus what was allocated since, a few KB to a few MB against the tens of MB it measures.
    if (list.getEntries().some((entry) => (entry as PerformanceEntry & { detail?: GcDetail }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)) {
      gauge.set(getHeapStatistics().used_heap_size);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => observer.disconnect();
}
