// The rollout worker as a process of its own (`tokengate worker`) or inside a control plane.
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { ControlPlaneConfig } from '../config';
import { RedisChangeFeed } from '../config-stream/redis-change-feed';
import { DeploymentEvents } from './deployment-events';
import { DeploymentStore } from './deployment-store';
import { RolloutWorker } from './rollout-worker';

export interface RolloutRuntime {
  worker: RolloutWorker;
  stop(): Promise<void>;
}

export async function startRolloutWorker(config: Pick<ControlPlaneConfig, 'redisUrl' | 'redisNamespace' | 'rollout'>, db: DataSource, logger: Logger): Promise<RolloutRuntime> {
  const events = new DeploymentEvents(config.redisUrl, config.redisNamespace, logger);
  const changes = new RedisChangeFeed(config.redisUrl, config.redisNamespace, logger);
  await changes.start();
  const worker = new RolloutWorker(new DeploymentStore(db), events, logger, {
    redisUrl: config.redisUrl,
    namespace: config.redisNamespace,
    timeoutMs: config.rollout.timeoutMs,
    lockDurationMs: config.rollout.lockDurationMs,
    announce: (environment, revision, serviceId) => changes.announce(environment, revision, serviceId),
  });
  logger.info('rollout worker started');
  return {
    worker,
    async stop() {
      await worker.close();
      await changes.stop();
      events.close();
    },
  };
}
