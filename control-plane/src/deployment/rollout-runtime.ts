// The rollout worker as a process of its own (`tokengate worker`) or inside a control plane.
import { registerHeapAfterGcMetric } from '../common/heap-after-gc';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { ControlPlaneConfig } from '../config';
import { DeploymentEvents } from './deployment-events';
import { DeploymentStore } from './deployment-store';
import { RolloutWorker } from './rollout-worker';
import { createServer } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { OwnedRedisClients } from './owned-redis-clients';
import { registerQueueMetrics } from './queue-metrics';
import { closeRolloutQueue, rolloutQueue } from './rollout-queue';

export interface RolloutRuntime {
  worker: RolloutWorker;
  stop(): Promise<void>;
}

export async function startRolloutWorker(config: Pick<ControlPlaneConfig, 'redisUrl' | 'redisNamespace' | 'rollout'>, db: DataSource, logger: Logger): Promise<RolloutRuntime> {
  const events = new DeploymentEvents(config.redisUrl, config.redisNamespace, logger);
  const worker = new RolloutWorker(new DeploymentStore(db), events, logger, {
    redisUrl: config.redisUrl,
    namespace: config.redisNamespace,
    timeoutMs: config.rollout.timeoutMs,
    lockDurationMs: config.rollout.lockDurationMs,
  });
  logger.info('rollout worker started');
  return {
    worker,
    async stop() {
      const shutdown = await worker.close();
      if (shutdown === 'redis-unreachable') logger.warn('Redis is unreachable: rollouts in flight were not waited for; another worker retries them once their locks expire');
      if (shutdown === 'grace-period-exceeded') logger.warn('rollouts in flight did not finish within the grace period; another worker retries them once their locks expire');
      events.close();
      logger.info({ shutdown }, 'rollout worker stopped');
    },
  };
}

/** `tokengate worker`'s own /healthz and /metrics (queue health and process metrics). */
export async function startWorkerMetrics(config: Pick<ControlPlaneConfig, 'redisUrl' | 'redisNamespace' | 'host'>, port: number, logger: Logger): Promise<{ port: number; stop(): Promise<void> }> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tokengate_worker_' });
  const stopHeapMetric = registerHeapAfterGcMetric(registry, 'tokengate_worker_');
  const connections = new OwnedRedisClients(config.redisUrl);
  const queue = rolloutQueue(connections, config.redisNamespace);
  queue.on('error', () => undefined);
  registerQueueMetrics(registry, queue);
  const server = createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else if (req.url === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, config.host, () => resolve());
  });
  const bound = (server.address() as { port: number }).port;
  logger.info({ port: bound }, 'worker metrics listening');
  return {
    port: bound,
    async stop() {
      stopHeapMetric();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await closeRolloutQueue(queue, connections);
    },
  };
}
