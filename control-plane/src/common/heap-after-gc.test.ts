import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Registry } from 'prom-client';
import { registerHeapAfterGcMetric } from './heap-after-gc';

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;
const MB = 1024 * 1024;

async function gaugeValue(registry: Registry): Promise<number> {
  const metric = await registry.getSingleMetric('test_heap_used_after_major_gc_bytes')!.get();
  return metric.values[0].value;
}

function isMajor(entry: PerformanceEntry): boolean {
  return (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR;
}

/**
 * A forced major collection; resolves once its gc entry has reached the observers (a later task),
 * with the heap in use as this test's own observer saw it in that same delivery.
 */
function majorCollection(): Promise<number> {
  const delivered = new Promise<number>((resolve) => {
    const observer = new PerformanceObserver((list) => {
      if (!list.getEntries().some(isMajor)) return;
      observer.disconnect();
      const heap = getHeapStatistics().used_heap_size;
      setImmediate(() => resolve(heap));
    });
    observer.observe({ entryTypes: ['gc'] });
  });
  collect();
  return delivered;
}

describe('heap after major GC gauge', () => {
  // Jest's worker shares its heap with the test files it ran before, whose modules it may free at
  // any time: only a fall the test itself causes is asserted, never a rise.
  it('reads the heap as each major collection left it: releasing 64 MB lowers it by as much', async () => {
    const registry = new Registry();
    const stop = registerHeapAfterGcMetric(registry, 'test_');
    try {
      // ~64 MB of small live objects (on the V8 heap, unlike Buffers).
      let held: string[][] | null = Array.from({ length: 64 }, (_, i) => Array.from({ length: 16_384 }, (_, j) => `${i}:${j}:${'x'.repeat(32)}`));
      const heldHeap = await majorCollection();
      const holding = await gaugeValue(registry);
      expect(Math.abs(holding - heldHeap)).toBeLessThan(2 * MB);
      expect(held.length).toBe(64);
      held = null;
      const releasedHeap = await majorCollection();
      const released = await gaugeValue(registry);
      expect(Math.abs(released - releasedHeap)).toBeLessThan(2 * MB);
      expect(holding - released).toBeGreaterThan(32 * MB);
    } finally {
      stop();
    }
  });
});
