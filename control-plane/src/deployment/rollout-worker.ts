// Runs rollouts: PENDING → IN_PROGRESS → DEPLOYED | FAILED. A rollout waits (the change was announced
// once, after its commit: config-change/config-change.ts) until every connected proxy of the environment has applied it
// (DEPLOYED), one refused it (FAILED, with its reason), or the timeout passed (FAILED, naming the
// proxies that did not answer). It wakes on proxy reports (Redis) and polls as a safety net.
// Every report of an environment wakes every rollout waiting there: they share one read of the
// proxies' states started after that report, and check whether they were superseded only when the
// poll wakes them (the status updates are conditional on the revision anyway), so a revision that
// N proxies apply costs at most N reads, not N × the rollouts in flight. Under a steady rate of
// change the reads of an environment start at least PROXY_READ_SPACING_MS apart, each covering every
// report heard before it started: reports come in bursts (every proxy ACKs each change), and each
// one used to cost a read. The statuses it then moves leave together (deployment-store.ts).
import { performance } from 'node:perf_hooks';
import { type Job, Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { ProxyState } from '../data-plane-registry/data-plane-store';
import type { DeploymentEvents } from './deployment-events';
import { DeploymentStatus } from './deployment-status';
import type { DeploymentStore } from './deployment-store';
import { BULLMQ_CLIENT_OPTIONS, OwnedRedisClients, settlesWithin } from './owned-redis-clients';
import { type RolloutJob, ROLLOUT_QUEUE, rolloutQueuePrefix } from './rollout-queue';

/**
 * Least time between the starts of two reads of an environment's proxies; the first read after a
 * quiet spell starts at once. Delays a rollout's end by at most this much.
 */
const PROXY_READ_SPACING_MS = 10;

/** A read of an environment's proxies: started (covering the reports heard before it), or due to start. */
interface ProxyRead {
  /** Reports heard when it started; Infinity while it waits to start (it covers every report heard so far). */
  after: number;
  readonly states: Promise<ProxyState[]>;
}

/** How long a forced close (Redis away) waits for BullMQ before ending the Redis clients itself. */
const FORCED_CLOSE_TIMEOUT_MS = 2_000;

export interface RolloutWorkerOptions {
  redisUrl: string;
  /** Same as the scheduler's (the queue's key prefix is rolloutQueuePrefix(namespace)). */
  namespace: string;
  /** How long a rollout waits for the proxies. Default 30 s. */
  timeoutMs?: number;
  /** Rollouts handled at once (mostly waiting). Default 20. */
  concurrency?: number;
  /** How long a job stays locked without renewal before another worker takes it over. Default 30 s. */
  lockDurationMs?: number;
  /** Safety-net polling of proxy state. Default 250 ms. */
  pollIntervalMs?: number;
  /** How long close() lets rollouts in flight finish while Redis is reachable. Default: the timeout plus 5 s. */
  shutdownGraceMs?: number;
}

export type RolloutOutcome = 'deployed' | 'failed' | 'superseded';

/**
 * How long close() lets rollouts in flight finish by default: the rollout timeout plus 5 s. A
 * supervisor stopping a worker should wait at least this long before killing it.
 */
export function rolloutShutdownGraceMs(timeoutMs = 30_000): number {
  return timeoutMs + 5_000;
}

/** How close() went: `graceful` when rollouts in flight were allowed to finish and BullMQ closed in time. */
export type RolloutWorkerShutdown = 'graceful' | 'redis-unreachable' | 'grace-period-exceeded';

export class RolloutWorker {
  private readonly worker: Worker<RolloutJob, RolloutOutcome>;
  private readonly connections: OwnedRedisClients;
  private readonly waiters = new Map<string, Set<(reported: boolean) => void>>();
  /** Per environment handle: proxy reports heard so far. */
  private readonly reports = new Map<string, number>();
  /** Per environment handle: the latest read of its proxies, while it is in flight or due to start. */
  private readonly proxyReads = new Map<string, ProxyRead>();
  /** Per environment handle: when (performance.now()) its latest read started. */
  private readonly proxyReadStarts = new Map<string, number>();
  /** Set once close() gave up on the rollouts in flight: they stop at their next step. */
  private abandoned = false;

  constructor(
    private readonly store: DeploymentStore,
    private readonly events: DeploymentEvents,
    private readonly logger: Logger,
    private readonly options: RolloutWorkerOptions,
  ) {
    void events.proxyReports.subscribe(({ environment }) => this.wake(environment));
    this.connections = new OwnedRedisClients(options.redisUrl);
    this.worker = new Worker<RolloutJob, RolloutOutcome>(ROLLOUT_QUEUE, (job) => this.run(job), {
      // Offline queue on: a worker's commands wait for Redis to return rather than fail.
      connection: this.connections.create({ ...BULLMQ_CLIENT_OPTIONS, enableOfflineQueue: true }),
      prefix: rolloutQueuePrefix(options.namespace),
      concurrency: options.concurrency ?? 20,
      lockDuration: options.lockDurationMs ?? 30_000,
      stalledInterval: Math.max(500, Math.floor((options.lockDurationMs ?? 30_000) / 2)),
      maxStalledCount: 5,
    });
    this.worker.on('error', (error: Error) => this.logger.debug({ err: error.message }, 'rollout worker error'));
    this.worker.on('failed', (job, error) => this.logger.warn({ jobId: job?.id, err: error.message }, 'rollout job attempt failed'));
  }

  /**
   * Stops taking jobs and never hangs. With Redis reachable, the rollouts in flight may finish within
   * the grace period; with Redis away (at the start or during the grace period), or past it, they are
   * abandoned: their jobs stay active in Redis, and BullMQ's stalled-job check hands them to another
   * worker once their locks expire. Either way the Redis clients are ended, so nothing reconnects.
   */
  async close(): Promise<RolloutWorkerShutdown> {
    let closed: boolean;
    if (this.connections.allReady) {
      const graceMs = this.options.shutdownGraceMs ?? rolloutShutdownGraceMs(this.options.timeoutMs);
      closed = await settlesWithin(this.worker.close(), graceMs, this.connections.connectionLost());
    } else {
      // Nothing in flight could be completed, and BullMQ's graceful close would wait for a
      // reconnecting client that never ends (taskforcesh/bullmq#4656): force it at once.
      closed = false;
      await settlesWithin(this.worker.close(true), FORCED_CLOSE_TIMEOUT_MS);
    }
    this.abandoned = true;
    for (const set of this.waiters.values()) for (const wake of set) wake(false);
    const reachable = this.connections.allReady;
    await this.connections.close();
    if (closed) return 'graceful';
    return reachable ? 'grace-period-exceeded' : 'redis-unreachable';
  }

  private wake(environment: string): void {
    this.reports.set(environment, (this.reports.get(environment) ?? 0) + 1);
    for (const wake of this.waiters.get(environment) ?? []) wake(true);
  }

  /**
   * Waits for a proxy report of the environment after the `heard`-th (true; at once when one came
   * meanwhile) or for `ms` (false).
   */
  private waitForReport(environment: string, ms: number, heard: number): Promise<boolean> {
    if ((this.reports.get(environment) ?? 0) > heard) return Promise.resolve(true);
    return new Promise((resolve) => {
      const set = this.waiters.get(environment) ?? new Set();
      this.waiters.set(environment, set);
      const done = (reported: boolean) => {
        clearTimeout(timer);
        set.delete(done);
        resolve(reported);
      };
      const timer = setTimeout(() => done(false), ms);
      set.add(done);
    });
  }

  /**
   * The environment's connected proxies, read after the reports heard so far: rollouts woken by the
   * same reports share one read (a read in flight that started before a later report is not reused).
   * A read starts at least PROXY_READ_SPACING_MS after the previous one; until then it is shared by
   * every rollout that asks.
   */
  private proxiesOf(environment: string, environmentId: string, heard: number): Promise<ProxyState[]> {
    const read = this.proxyReads.get(environment);
    if (read !== undefined && read.after >= heard) return read.states;
    const wait = (this.proxyReadStarts.get(environment) ?? -Infinity) + PROXY_READ_SPACING_MS - performance.now();
    const due = wait > 0 ? new Promise<void>((resolve) => setTimeout(resolve, wait)) : Promise.resolve();
    const entry: ProxyRead = {
      after: Infinity,
      states: due.then(() => {
        entry.after = this.reports.get(environment) ?? 0;
        this.proxyReadStarts.set(environment, performance.now());
        return this.store.connectedProxiesOf(environmentId);
      }),
    };
    this.proxyReads.set(environment, entry);
    const forget = () => {
      if (this.proxyReads.get(environment) === entry) this.proxyReads.delete(environment);
    };
    entry.states.then(forget, forget);
    return entry.states;
  }

  /**
   * Moves the deployment to its final status and returns `outcome`, or 'superseded' when a newer
   * revision replaced the deployment meanwhile (the update, conditional on the revision, then changed
   * nothing): between two polls a rollout does not re-read its deployment.
   */
  private async end(job: RolloutJob, status: DeploymentStatus, message: string, outcome: RolloutOutcome): Promise<RolloutOutcome> {
    const row = await this.store.transition(job.serviceId, job.environmentId, job.revision, status, message);
    if (row) {
      await this.events.statusChanges.publish(row);
      return outcome;
    }
    const latest = await this.store.current(job.serviceId, job.environmentId);
    return !latest || latest.revision !== job.revision ? 'superseded' : outcome;
  }

  private async run(job: Job<RolloutJob, RolloutOutcome>): Promise<RolloutOutcome> {
    const data = job.data;
    const { before, started } = await this.store.begin(data.serviceId, data.environmentId, data.revision, `rolling out revision ${data.revision} to ${data.environment}`);
    if (!before || before.revision !== data.revision) return 'superseded';
    if (before.status === DeploymentStatus.DEPLOYED || before.status === DeploymentStatus.FAILED) return before.status === DeploymentStatus.DEPLOYED ? 'deployed' : 'failed';
    if (started) await this.events.statusChanges.publish(started);

    const deadline = Date.now() + (this.options.timeoutMs ?? 30_000);
    let reported = true; // the deployment was just read
    for (;;) {
      if (this.abandoned) throw new Error(`the worker stopped during the rollout of revision ${data.revision}; it is retried`);
      if (!reported) {
        const latest = await this.store.current(data.serviceId, data.environmentId);
        if (!latest || latest.revision !== data.revision) return 'superseded';
      }
      const heard = this.reports.get(data.environment) ?? 0;
      const proxies = await this.proxiesOf(data.environment, data.environmentId, heard);
      const refusal = proxies.find((p) => p.appliedRevision < data.revision && p.lastNackRevision !== null && p.lastNackRevision >= data.revision);
      if (refusal) {
        return this.end(data, DeploymentStatus.FAILED, `proxy ${refusal.id} refused revision ${refusal.lastNackRevision}: ${refusal.lastNackReason ?? 'no reason given'}`, 'failed');
      }
      if (proxies.length === 0) {
        return this.end(data, DeploymentStatus.DEPLOYED, `no proxy of ${data.environment} is connected; proxies receive revision ${data.revision} when they connect`, 'deployed');
      }
      const behind = proxies.filter((p) => p.appliedRevision < data.revision);
      if (behind.length === 0) {
        return this.end(data, DeploymentStatus.DEPLOYED, `revision ${data.revision} applied by ${proxies.length} ${proxies.length === 1 ? 'proxy' : 'proxies'} of ${data.environment}`, 'deployed');
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        return this.end(data, DeploymentStatus.FAILED, `timed out waiting for ${behind.length === 1 ? 'proxy' : 'proxies'} ${behind.map((p) => p.id).join(', ')} to apply revision ${data.revision}`, 'failed');
      }
      reported = await this.waitForReport(data.environment, Math.min(left, this.options.pollIntervalMs ?? 250), heard);
    }
  }
}
