// BullMQ queue of rollouts: one job per (service, environment, revision). A job whose revision has
// been superseded by a newer change finishes at once, so a burst of changes ends in one rollout of
// the newest revision. Job ids make enqueueing idempotent (the sweeper may enqueue twice).
import { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { ChangeFeed } from './change-feed';
import type { DeploymentEvents } from './deployment-events';
import type { DeploymentStore } from './deployment-store';
import type { BumpedEnvironment } from './revision-ledger';

export const ROLLOUT_QUEUE = 'tokengate-rollouts';

export interface RolloutJob {
  serviceId: string;
  environmentId: string;
  environment: string;
  revision: number;
}

export function rolloutJobId(job: RolloutJob): string {
  return `${job.serviceId}.${job.environmentId}.${job.revision}`;
}

export function redisConnection(redisUrl: string): { url: string; maxRetriesPerRequest: null; enableOfflineQueue: boolean } {
  // BullMQ requires maxRetriesPerRequest: null on its blocking connections.
  return { url: redisUrl, maxRetriesPerRequest: null, enableOfflineQueue: true };
}

export class RolloutScheduler implements ChangeFeed {
  readonly queue: Queue<RolloutJob>;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    redisUrl: string,
    namespace: string,
    private readonly store: DeploymentStore,
    private readonly events: DeploymentEvents,
    private readonly logger: Logger,
  ) {
    this.queue = new Queue<RolloutJob>(ROLLOUT_QUEUE, {
      connection: { ...redisConnection(redisUrl), enableOfflineQueue: false },
      prefix: `${namespace}:bull`,
      defaultJobOptions: { attempts: 5, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: 1000, removeOnFail: 5000 },
    });
    this.queue.on('error', (error: Error) => this.logger.debug({ err: error.message }, 'rollout queue error'));
  }

  /** After a commit: tell subscribers the deployments are PENDING, and enqueue their rollouts. */
  async environmentsChanged(changes: BumpedEnvironment[], serviceId: string): Promise<void> {
    for (const change of changes) {
      const deployment = await this.store.current(serviceId, change.environmentId);
      if (deployment) await this.events.statusChanges.publish(deployment);
      await this.enqueue({ serviceId, environmentId: change.environmentId, environment: change.handle, revision: change.revision });
    }
  }

  async enqueue(job: RolloutJob): Promise<void> {
    try {
      await this.queue.add('rollout', job, { jobId: rolloutJobId(job) });
    } catch (error) {
      // The change is committed and PENDING: the sweeper enqueues it once Redis is back.
      this.logger.warn({ err: error instanceof Error ? error.message : String(error), serviceId: job.serviceId, environment: job.environment }, 'could not enqueue a rollout; it will be retried');
    }
  }

  /** Periodically enqueues deployments left PENDING (enqueueing is idempotent per revision). */
  startSweeper(intervalMs = 10_000, minAgeMs = 5_000): void {
    this.sweeper = setInterval(() => {
      this.store
        .stalePending(minAgeMs)
        .then(async (stale) => {
          for (const d of stale) await this.enqueue({ serviceId: d.serviceId, environmentId: d.environmentId, environment: d.environment, revision: d.revision });
        })
        .catch(() => undefined);
    }, intervalMs);
    this.sweeper.unref();
  }

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    await this.queue.close().catch(() => undefined);
  }
}
