// BullMQ queue of rollouts: one job per (service, environment, revision). A job whose revision has
// been superseded by a newer change finishes at once, so a burst of changes ends in one rollout of
// the newest revision. Job ids make enqueueing idempotent (the sweeper may enqueue twice).
import { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { ChangeFeed } from '../config-change/change-feed';
import type { DeploymentEvents } from './deployment-events';
import type { DeploymentStore } from './deployment-store';
import { BULLMQ_CLIENT_OPTIONS, OwnedRedisClients, settlesWithin } from './owned-redis-clients';
import type { BumpedEnvironment } from '../config-change/revision-ledger';

export const ROLLOUT_QUEUE = 'tokengate-rollouts';

/**
 * BullMQ's key prefix: `{<namespace>}:bull`. The braces are a Redis Cluster hash tag, so every key of
 * the queue lands in one slot, as BullMQ's scripts require on a cluster; on one Redis they are just
 * characters of the name (ADR 008: the prefix was `<namespace>:bull` before).
 */
export function rolloutQueuePrefix(namespace: string): string {
  return `{${namespace}}:bull`;
}

export interface RolloutJob {
  serviceId: string;
  environmentId: string;
  environment: string;
  revision: number;
}

export function rolloutJobId(job: RolloutJob): string {
  return `${job.serviceId}.${job.environmentId}.${job.revision}`;
}

/** How long close() waits for BullMQ before ending the Redis clients itself. */
export const QUEUE_CLOSE_TIMEOUT_MS = 2_000;

/**
 * A queue for adding jobs and reading counts, on a client of `connections` (so closing it never
 * waits on Redis). Commands fail at once while Redis is away rather than queueing.
 */
export function rolloutQueue(connections: OwnedRedisClients, namespace: string): Queue<RolloutJob> {
  return new Queue<RolloutJob>(ROLLOUT_QUEUE, {
    connection: connections.create({ ...BULLMQ_CLIENT_OPTIONS, enableOfflineQueue: false }),
    prefix: rolloutQueuePrefix(namespace),
    defaultJobOptions: { attempts: 5, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: 1000, removeOnFail: 5000 },
  });
}

/** Stops `queue`, then ends its clients, whether or not Redis answers. */
export async function closeRolloutQueue(queue: Queue<RolloutJob>, connections: OwnedRedisClients): Promise<void> {
  // The queue does not own the client it was given, so this only marks it closed; bounded anyway.
  await settlesWithin(queue.close(), QUEUE_CLOSE_TIMEOUT_MS);
  await connections.close();
}

/** The sweeper's minimum age of a PENDING deployment: half its interval, at most 5 s. */
export function sweepMinAgeMs(intervalMs: number): number {
  return Math.min(5_000, Math.floor(intervalMs / 2));
}

export class RolloutScheduler implements ChangeFeed {
  readonly queue: Queue<RolloutJob>;
  private readonly connections: OwnedRedisClients;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    redisUrl: string,
    namespace: string,
    private readonly store: DeploymentStore,
    private readonly events: DeploymentEvents,
    private readonly logger: Logger,
  ) {
    this.connections = new OwnedRedisClients(redisUrl);
    this.queue = rolloutQueue(this.connections, namespace);
    this.queue.on('error', (error: Error) => this.logger.debug({ err: error.message }, 'rollout queue error'));
  }

  /** After a commit: tell subscribers the deployments are PENDING, and enqueue their rollouts. */
  async environmentsChanged(changes: BumpedEnvironment[], serviceId: string): Promise<void> {
    // All at once: the mutation answers after these, and each is a Redis round trip of its own.
    await Promise.all(
      changes.flatMap((change) => [
        this.events.statusChanges.publish(change.deployment),
        this.enqueue({ serviceId, environmentId: change.environmentId, environment: change.handle, revision: change.revision }),
      ]),
    );
  }

  async enqueue(job: RolloutJob): Promise<void> {
    try {
      await this.queue.add('rollout', job, { jobId: rolloutJobId(job) });
    } catch (error) {
      // The change is committed and PENDING: the sweeper enqueues it once Redis is back.
      this.logger.warn({ err: error instanceof Error ? error.message : String(error), serviceId: job.serviceId, environment: job.environment }, 'could not enqueue a rollout; it will be retried');
    }
  }

  /**
   * The sweeper's enqueue. Adding a job id that BullMQ still keeps is a no-op, so a job that ran out
   * of attempts (PostgreSQL away longer than its back-off: about 8 s) would keep its deployment
   * IN_PROGRESS or PENDING for ever: such a job is retried from scratch instead.
   */
  private async enqueueAgain(job: RolloutJob): Promise<void> {
    try {
      const existing = await this.queue.getJob(rolloutJobId(job));
      if (existing !== undefined && (await existing.getState()) === 'failed') {
        this.logger.info({ serviceId: job.serviceId, environment: job.environment, revision: job.revision, err: existing.failedReason }, 'retrying a rollout whose job ran out of attempts');
        await existing.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
        return;
      }
    } catch (error) {
      this.logger.warn({ err: error instanceof Error ? error.message : String(error), serviceId: job.serviceId, environment: job.environment }, 'could not look up or retry a rollout job (another replica may have retried it); the sweeper tries again');
      return;
    }
    await this.enqueue(job);
  }

  /**
   * Every `intervalMs`, enqueues the deployments whose job may be missing (enqueueing is idempotent
   * per revision: a job that still exists is left alone): PENDING ones, e.g. committed while Redis was
   * away, and IN_PROGRESS ones older than `inProgressAfterMs` (the rollout timeout plus BullMQ's lock
   * duration), whose job a Redis restart lost or whose attempts all failed (enqueueAgain).
   */
  startSweeper(intervalMs = 10_000, inProgressAfterMs = 70_000): void {
    const minAgeMs = sweepMinAgeMs(intervalMs);
    this.sweeper = setInterval(() => {
      this.store
        .unfinished(minAgeMs, inProgressAfterMs)
        .then(async (stale) => {
          for (const d of stale) await this.enqueueAgain({ serviceId: d.serviceId, environmentId: d.environmentId, environment: d.environment, revision: d.revision });
        })
        .catch(() => undefined);
    }, intervalMs);
    this.sweeper.unref();
  }

  /** Never hangs: with Redis away, the queue's client is disconnected instead of reconnecting forever. */
  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    await closeRolloutQueue(this.queue, this.connections);
  }
}
