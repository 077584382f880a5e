import type { Queue } from 'bullmq';
import { Gauge, type Registry } from 'prom-client';

/** Queue health on /metrics: jobs by state, read from Redis at scrape time. */
export function registerQueueMetrics(registry: Registry, queue: Pick<Queue, 'getJobCounts'>): void {
  new Gauge({
    name: 'tokengate_rollout_jobs',
    help: 'Rollout jobs in the BullMQ queue, by state (-1 when Redis cannot be read).',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const states = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;
      try {
        const counts = await queue.getJobCounts(...states);
        for (const state of states) this.set({ state }, counts[state] ?? 0);
      } catch {
        for (const state of states) this.set({ state }, -1);
      }
    },
  });
}
