import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Registry } from 'prom-client';
import { registerHeapAfterGcMetric } from './heap-after-gc';

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

async function gaugeValue(registry: Registry): Promise<number> {
  const metric = await registry.getSingleMetric('test_heap_used_after_major_gc_bytes')!.get();
  return metric.values[0].value;
}

describe('heap after major GC gauge', () => {
  it('reads what survives a major collection: held memory raises it, released memory lowers it', async () => {
    const registry = new Registry();
    const stop = registerHeapAfterGcMetric(registry, 'test_');
    try {
      const settled = async () => {
        collect();
        // The gc entry is delivered in a later task.
        await new Promise((resolve) => setTimeout(resolve, 50));
        return gaugeValue(registry);
      };
      const before = await settled();
      // ~64 MB of small live objects (on the V8 heap, unlike Buffers).
      let held: string[][] | null = Array.from({ length: 64 }, (_, i) => Array.from({ length: 16_384 }, (_, j) => `${i}:${j}:${'x'.repeat(32)}`));
      const holding = await settled();
      expect(holding - before).toBeGreaterThan(32 * 1024 * 1024);
      expect(held.length).toBe(64);
      held = null;
      const released = await settled();
      expect(holding - released).toBeGreaterThan(32 * 1024 * 1024);
    } finally {
      stop();
    }
  });
});
