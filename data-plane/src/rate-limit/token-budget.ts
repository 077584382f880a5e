// Token budgets per (environment, service, window), shared by every proxy of the environment in
// Redis or a Redis Cluster. When Redis cannot answer within a short timeout the proxy keeps serving on local counters
// (its configured share of each budget); once Redis answers again, each proxy reconciles its own
// contribution to every live window (see budget-scripts.ts), so nothing is lost or counted twice —
// whatever a timed-out command did or did not do.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { createRedisClient, type RedisClient } from '../redis/redis-connection';
import { APPLY_SCRIPT, RECONCILE_SCRIPT, RESERVE_SCRIPT } from './budget-scripts';
import { type TimeUnit, type Window, secondsUntilReset, windowAt, windowLengthMs } from './windows';

export type Dimension = 'prompt' | 'completion' | 'total';

export interface BudgetPolicy {
  /** Service id: the budget is per environment (this proxy's) and service. */
  readonly serviceId: string;
  readonly timeUnit: TimeUnit;
  /** null = unlimited in that dimension. */
  readonly maxPromptTokens: number | null;
  readonly maxCompletionTokens: number | null;
  readonly maxTotalTokens: number | null;
  /** Shadow mode: counted, never refuses. */
  readonly shadow?: boolean;
}

export interface Counters {
  prompt: number;
  completion: number;
  total: number;
}

/** The window's state as the admission saw it, for the x-ratelimit-* headers. */
export interface BudgetView {
  readonly policy: BudgetPolicy;
  readonly window: Window;
  /** Used after this request's reservation (or as it stood when refused). */
  readonly used: Counters;
}

export interface Reservation {
  readonly windowKey: string;
  readonly window: Window;
  readonly prompt: number;
  readonly completion: number;
  /** Where the reservation was taken: settle() corrects it in the same place. */
  readonly where: 'redis' | 'local';
}

export type Admission =
  | { readonly admitted: true; readonly reservation: Reservation; readonly view: BudgetView }
  | { readonly admitted: false; readonly refused: Dimension; readonly retryAfterSeconds: number; readonly view: BudgetView };

export interface TokenBudgetOptions {
  /** One Redis (redis://…) or a cluster (redis+cluster://host:port,…); see redis/redis-connection.ts. */
  readonly redisUrl: string;
  /** Prefix of every key (TOKENGATE_REDIS_NAMESPACE), so installations can share one Redis. Default `tokengate`. */
  readonly keyPrefix?: string;
  readonly environment: string;
  /** Names this proxy in its ledger fields (a random suffix makes each process's ledger its own). */
  readonly proxyId: string;
  /** Longest wait for Redis on the request path before falling back to local counters. Default 50 ms. */
  readonly commandTimeoutMs?: number;
  /** Share of each budget this proxy may use on its own while Redis is away. Default 0.5. */
  readonly localShare?: number;
  readonly logger: Logger;
  /** Told when the degraded mode starts or ends (metrics). */
  readonly onDegradedChange?: (degraded: boolean) => void;
  readonly now?: () => number;
}

/**
 * The Redis hash of one service's window. The braces make a Redis Cluster hash tag: every key of a
 * service's budgets in an environment (each window, each unit) lives in one slot, so a script may
 * touch several of them in one call (e.g. a connection's quota beside the service's budget).
 */
export function budgetWindowKey(keyPrefix: string, environment: string, serviceId: string, window: Pick<Window, 'unit' | 'start'>): string {
  return `${keyPrefix}:rl:{${environment}:${serviceId}}:${window.unit}:${window.start}`;
}

/**
 * The Redis hash of one connection's quota window: in the slot of its service's budget (same hash
 * tag), so one script reserves against both.
 */
export function connectionWindowKey(keyPrefix: string, environment: string, serviceId: string, connectionId: string, window: Pick<Window, 'unit' | 'start'>): string {
  return `${keyPrefix}:rl:{${environment}:${serviceId}}:c:${connectionId}:${window.unit}:${window.start}`;
}

interface WindowLedger extends Counters {
  /** Seconds the Redis key lives (window length + margin). */
  ttl: number;
  /** Epoch ms after which the window is over and the entry can go. */
  end: number;
}

const PROBE_INTERVAL_MS = 500;

export class TokenBudget {
  /**
   * One connection for everything (on a cluster, one per node, and a window's commands all go to the
   * node of its slot), so Redis runs this proxy's commands on a window in the order they were sent:
   * a reconciliation runs after every command sent before it, whether or not their answers arrived.
   * Short command timeout, fail fast when disconnected (no offline queue).
   */
  private readonly redis: RedisClient;
  private readonly scripts: RedisScripts;
  private readonly now: () => number;
  private readonly localShare: number;
  private readonly keyPrefix: string;
  private readonly timeoutMs: number;
  /** This process's fields in each window hash. */
  private readonly ledgerId: string;
  private degradedSince: number | null = null;
  private probe: NodeJS.Timeout | null = null;
  /** Local counters per window key while degraded (seeded from the last Redis view of the window). */
  private readonly local = new Map<string, Counters>();
  /** Last counters Redis reported per window key. */
  private readonly lastSeen = new Map<string, { used: Counters; end: number }>();
  /** What this proxy has contributed to each live window: what a reconciliation makes Redis hold for it. */
  private readonly contributed = new Map<string, WindowLedger>();
  /** Reservations sent to Redis whose outcome (answer or timeout) is not decided yet. */
  private undecided = 0;
  private whenDecided: Array<() => void> = [];
  /** Bumped by every change of `contributed`: tells sync() whether usage was counted during a reconciliation. */
  private contributions = 0;
  private syncing: Promise<void> | null = null;
  private probing = false;
  private closed = false;

  constructor(private readonly options: TokenBudgetOptions) {
    this.now = options.now ?? Date.now;
    this.localShare = options.localShare ?? 0.5;
    this.keyPrefix = options.keyPrefix ?? 'tokengate';
    this.timeoutMs = options.commandTimeoutMs ?? 50;
    this.ledgerId = `${options.proxyId}:${randomBytes(4).toString('hex')}`;
    this.redis = createRedisClient(options.redisUrl, {
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      // Admissions and settlements of concurrent requests share one write (and one read) per tick.
      enableAutoPipelining: true,
      connectTimeout: 1000,
      retryStrategy: (attempt: number) => Math.min(50 * attempt, 1000),
    });
    this.redis.defineCommand('tokengateReserve', { numberOfKeys: 1, lua: RESERVE_SCRIPT });
    this.redis.defineCommand('tokengateApply', { numberOfKeys: 1, lua: APPLY_SCRIPT });
    this.redis.defineCommand('tokengateReconcile', { numberOfKeys: 1, lua: RECONCILE_SCRIPT });
    this.redis.on('error', () => undefined); // failures surface per command
    this.scripts = this.redis as unknown as RedisScripts;
    // A new connection may face a Redis that lost its data (restarted without persistence) or missed
    // commands: reconcile before trusting it again.
    this.redis.on('ready', () => {
      if (this.contributed.size === 0) return;
      this.enterDegraded(new Error('Redis connection re-established'));
      void this.sync();
    });
  }

  get degraded(): boolean {
    return this.degradedSince !== null;
  }

  /**
   * Resolves true once the connection is ready, or false after `timeoutMs` — a proxy then starts on
   * local counters and joins the shared ones when Redis answers. Waiting at start-up keeps the first
   * requests from meeting a connection that is merely not open yet.
   */
  whenConnected(timeoutMs: number): Promise<boolean> {
    if (this.redis.status === 'ready') return Promise.resolve(true);
    return new Promise((resolve) => {
      const onReady = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.redis.off('ready', onReady);
        resolve(false);
      }, timeoutMs);
      this.redis.once('ready', onReady);
    });
  }

  /** Reserves `prompt` and `completion` tokens in the policy's current window, or refuses. */
  async admit(policy: BudgetPolicy, prompt: number, completion: number): Promise<Admission> {
    const now = this.now();
    const window = windowAt(policy.timeUnit, now);
    const windowKey = budgetWindowKey(this.keyPrefix, this.options.environment, policy.serviceId, window);
    if (this.degradedSince !== null) return this.admitLocally(policy, window, windowKey, prompt, completion, now);
    this.undecided++;
    try {
      const reply = (await this.deadline(
        this.scripts.tokengateReserve(
          windowKey,
          prompt,
          completion,
          policy.maxPromptTokens ?? 0,
          policy.maxCompletionTokens ?? 0,
          policy.maxTotalTokens ?? 0,
          this.ttlSeconds(policy.timeUnit),
          this.ledgerId,
        ),
      )) as [number, number, number, number, string];
      const used = { prompt: Number(reply[1]), completion: Number(reply[2]), total: Number(reply[3]) };
      if (!this.lastSeen.has(windowKey)) this.forgetEndedWindows();
      this.lastSeen.set(windowKey, { used, end: window.end });
      const view = { policy, window, used };
      if (reply[0] !== 1) return { admitted: false, refused: reply[4] as Dimension, retryAfterSeconds: secondsUntilReset(window, now), view };
      this.record(windowKey, window, { prompt, completion, total: prompt + completion });
      return { admitted: true, reservation: { windowKey, window, prompt, completion, where: 'redis' }, view };
    } catch (error) {
      // Timed out or failed: the reservation may or may not have landed. The local decision is what
      // counts; the reconciliation makes Redis agree with it.
      this.enterDegraded(error);
      return this.admitLocally(policy, window, windowKey, prompt, completion, now);
    } finally {
      if (--this.undecided === 0) for (const resolve of this.whenDecided.splice(0)) resolve();
    }
  }

  /**
   * Replaces a reservation by the usage the provider reported (or the proxy counted). Resolves once
   * Redis has applied it, or it is left to the reconciliation when Redis is back. Never rejects.
   */
  settle(reservation: Reservation, actual: { prompt: number; completion: number }): Promise<void> {
    const delta = { prompt: actual.prompt - reservation.prompt, completion: actual.completion - reservation.completion, total: 0 };
    delta.total = delta.prompt + delta.completion;
    if (reservation.where === 'local') {
      const counters = this.local.get(reservation.windowKey);
      if (counters) addTo(counters, delta);
    }
    if (delta.prompt === 0 && delta.completion === 0) return Promise.resolve();
    this.record(reservation.windowKey, reservation.window, delta);
    if (this.degradedSince !== null) return Promise.resolve();
    return this.deadline(this.scripts.tokengateApply(reservation.windowKey, delta.prompt, delta.completion, this.ttlOf(reservation.window), this.ledgerId)).then(
      () => undefined,
      (error: unknown) => this.enterDegraded(error),
    );
  }

  async close(): Promise<void> {
    if (this.degradedSince !== null) await this.sync().catch(() => undefined);
    this.closed = true;
    if (this.probe) clearInterval(this.probe);
    this.redis.disconnect();
  }

  private admitLocally(policy: BudgetPolicy, window: Window, windowKey: string, prompt: number, completion: number, now: number): Admission {
    let counters = this.local.get(windowKey);
    if (counters === undefined) {
      const seen = this.lastSeen.get(windowKey)?.used;
      // This proxy's share of what the window had used when Redis went away.
      counters = seen ? { prompt: Math.ceil(seen.prompt * this.localShare), completion: Math.ceil(seen.completion * this.localShare), total: Math.ceil(seen.total * this.localShare) } : { prompt: 0, completion: 0, total: 0 };
      this.local.set(windowKey, counters);
    }
    const share = (limit: number | null) => (limit === null ? null : Math.max(1, Math.floor(limit * this.localShare)));
    const limits = { prompt: share(policy.maxPromptTokens), completion: share(policy.maxCompletionTokens), total: share(policy.maxTotalTokens) };
    const refused: Dimension | null =
      limits.prompt !== null && counters.prompt + prompt > limits.prompt ? 'prompt'
      : limits.completion !== null && counters.completion + completion > limits.completion ? 'completion'
      : limits.total !== null && counters.total + prompt + completion > limits.total ? 'total'
      : null;
    const scale = (value: number) => Math.round(value / this.localShare);
    if (refused === null) {
      const reserved = { prompt, completion, total: prompt + completion };
      addTo(counters, reserved);
      this.record(windowKey, window, reserved);
    }
    const used = { prompt: scale(counters.prompt), completion: scale(counters.completion), total: scale(counters.total) };
    const view = { policy, window, used };
    if (refused !== null) return { admitted: false, refused, retryAfterSeconds: secondsUntilReset(window, now), view };
    return { admitted: true, reservation: { windowKey, window, prompt, completion, where: 'local' }, view };
  }

  private enterDegraded(error: unknown): void {
    if (this.degradedSince !== null || this.closed) return;
    this.degradedSince = this.now();
    this.options.logger.warn({ err: error instanceof Error ? error.message : String(error), localShare: this.localShare }, 'Redis unavailable: rate limiting on local counters (degraded mode)');
    this.options.onDegradedChange?.(true);
    // A slow (not disconnected) Redis emits no new 'ready': probe until a reconciliation succeeds.
    this.probe ??= setInterval(() => {
      // A cheap PING first, so a Redis that is up but still too slow does not flap the mode.
      if (this.redis.status === 'ready' && !this.probing) {
        this.probing = true;
        this.deadline(this.redis.ping())
          .then(() => this.sync(), () => undefined)
          .finally(() => (this.probing = false));
      }
    }, PROBE_INTERVAL_MS);
    this.probe.unref();
  }

  private leaveDegraded(): void {
    if (this.degradedSince === null) return;
    this.options.logger.info({ degradedForMs: this.now() - this.degradedSince }, 'Redis is back: rate limiting on shared counters again');
    this.degradedSince = null;
    this.local.clear();
    if (this.probe) clearInterval(this.probe);
    this.probe = null;
    this.options.onDegradedChange?.(false);
  }

  /**
   * While degraded: once every reservation sent earlier is decided, reconcile this proxy's
   * contribution to every live window, still degraded — so the mode is left only once every node
   * holding one of its windows has answered (on a cluster a PING reaches one node, which says nothing
   * of the others). Then leave the degraded mode, and in the same tick reconcile again what was
   * counted locally meanwhile: commands sent from then on run after it on each window's connection.
   * A failure (re-)enters it.
   */
  private sync(): Promise<void> {
    this.syncing ??= (async () => {
      try {
        if (this.undecided > 0) await new Promise<void>((resolve) => this.whenDecided.push(resolve));
        this.forgetEndedWindows();
        const before = this.contributions;
        await Promise.all(this.reconcileAll());
        const countedMeanwhile = this.contributions !== before;
        const rounds = countedMeanwhile ? this.reconcileAll() : [];
        this.leaveDegraded();
        await Promise.all(rounds);
      } catch (error) {
        this.enterDegraded(error);
      } finally {
        this.syncing = null;
      }
    })();
    return this.syncing;
  }

  /** Sets this proxy's ledger in every live window to what it knows (idempotent). */
  private reconcileAll(): Array<Promise<unknown>> {
    return [...this.contributed].map(([windowKey, entry]) => this.deadline(this.scripts.tokengateReconcile(windowKey, this.ledgerId, entry.prompt, entry.completion, entry.ttl)));
  }

  /**
   * Rejects when Redis has not answered within the timeout — decided one event-loop turn after the
   * timer fires, so an answer already waiting on the socket is read first: a busy event loop (a GC
   * pause, a burst of requests) is not mistaken for a slow Redis. The command itself stays queued on
   * the connection; whatever it does is settled by the next reconciliation.
   */
  private deadline<T>(command: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => setImmediate(() => reject(new Error(`Redis did not answer within ${this.timeoutMs} ms`))), this.timeoutMs);
      command.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  /** Windows tracked: live ones and those ended less than a minute ago. */
  get trackedWindows(): number {
    return new Set([...this.contributed.keys(), ...this.lastSeen.keys()]).size;
  }

  /** Drops windows over for a minute; run whenever a new window starts being tracked, so memory stays bounded. */
  private forgetEndedWindows(): void {
    const cutoff = this.now() - 60_000;
    for (const map of [this.contributed, this.lastSeen]) {
      for (const [key, entry] of map) {
        if (entry.end >= cutoff) continue;
        map.delete(key);
        this.local.delete(key);
      }
    }
  }

  private record(windowKey: string, window: Window, delta: Counters): void {
    let entry = this.contributed.get(windowKey);
    if (entry === undefined) {
      this.forgetEndedWindows();
      entry = { prompt: 0, completion: 0, total: 0, ttl: this.ttlOf(window), end: window.end };
      this.contributed.set(windowKey, entry);
    }
    addTo(entry, delta);
    this.contributions++;
  }

  private ttlSeconds(unit: TimeUnit): number {
    return Math.ceil(windowLengthMs(unit) / 1000) + 60;
  }

  private ttlOf(window: Window): number {
    return this.ttlSeconds(window.unit);
  }
}

interface RedisScripts {
  tokengateReserve(key: string, ...args: Array<string | number>): Promise<unknown>;
  tokengateApply(key: string, ...args: Array<string | number>): Promise<unknown>;
  tokengateReconcile(key: string, ...args: Array<string | number>): Promise<unknown>;
}

function addTo(target: Counters, delta: Counters): void {
  target.prompt += delta.prompt;
  target.completion += delta.completion;
  target.total += delta.total;
}
