// Token budgets per (environment, service, window), shared by every proxy of the environment in
// Redis. When Redis cannot answer within a short timeout the proxy keeps serving on local counters
// (its configured share of each budget) and pushes what it counted once Redis is back — exactly
// once, thanks to idempotency markers.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { APPLY_SCRIPT, RESERVE_SCRIPT } from './budget-scripts';
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
  readonly redisUrl: string;
  readonly environment: string;
  /** Names this proxy in idempotency markers. */
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

interface WindowLedger extends Counters {
  /** Seconds the Redis key lives (window length + margin). */
  ttl: number;
  /** Epoch ms after which the window is over and the entry can go. */
  end: number;
}

const PROBE_INTERVAL_MS = 500;

export class TokenBudget {
  /** Request path: short command timeout, fail fast when disconnected (no offline queue). */
  private readonly redis: Redis;
  /** Corrections after responses: off the request path, so no command timeout (a timeout would hide whether it landed). */
  private readonly settleRedis: Redis;
  private readonly now: () => number;
  private readonly localShare: number;
  private degradedSince: number | null = null;
  private probe: NodeJS.Timeout | null = null;
  /** Identifies the Redis data set: a Redis restarted without persistence gets a new epoch. */
  private epoch: string | null = null;
  /** Local counters per window key while degraded (seeded from the last Redis view of the window). */
  private readonly local = new Map<string, Counters>();
  /** Last counters Redis reported per window key. */
  private readonly lastSeen = new Map<string, Counters>();
  /** Everything this proxy means to have added to each live window in Redis. */
  private readonly contributed = new Map<string, WindowLedger>();
  /** The part of `contributed` Redis has not confirmed yet. */
  private readonly pending = new Map<string, WindowLedger>();
  /** A push in flight keeps its marker until it is known to have landed, so a retry cannot double it. */
  private readonly pushes = new Map<string, { marker: string; amounts: WindowLedger }>();
  private flushing: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly options: TokenBudgetOptions) {
    this.now = options.now ?? Date.now;
    this.localShare = options.localShare ?? 0.5;
    const common = { maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: 1000, retryStrategy: (attempt: number) => Math.min(50 * attempt, 1000) };
    this.redis = new Redis(options.redisUrl, { ...common, commandTimeout: options.commandTimeoutMs ?? 50 });
    this.settleRedis = new Redis(options.redisUrl, common);
    for (const client of [this.redis, this.settleRedis]) {
      client.defineCommand('tokengateReserve', { numberOfKeys: 1, lua: RESERVE_SCRIPT });
      client.defineCommand('tokengateApply', { numberOfKeys: 2, lua: APPLY_SCRIPT });
      client.on('error', () => undefined); // failures surface per command
    }
    this.redis.on('ready', () => void this.flushPending());
  }

  get degraded(): boolean {
    return this.degradedSince !== null;
  }

  /** Reserves `prompt` and `completion` tokens in the policy's current window, or refuses. */
  async admit(policy: BudgetPolicy, prompt: number, completion: number): Promise<Admission> {
    const now = this.now();
    const window = windowAt(policy.timeUnit, now);
    const windowKey = this.keyOf(policy, window);
    if (this.degradedSince === null) {
      try {
        const reply = (await (this.redis as unknown as RedisScripts).tokengateReserve(
          windowKey,
          prompt,
          completion,
          policy.maxPromptTokens ?? 0,
          policy.maxCompletionTokens ?? 0,
          policy.maxTotalTokens ?? 0,
          this.ttlSeconds(policy.timeUnit),
        )) as [number, number, number, number, string];
        const used = { prompt: Number(reply[1]), completion: Number(reply[2]), total: Number(reply[3]) };
        this.lastSeen.set(windowKey, used);
        const view = { policy, window, used };
        if (reply[0] !== 1) return { admitted: false, refused: reply[4] as Dimension, retryAfterSeconds: secondsUntilReset(window, now), view };
        this.record(this.contributed, windowKey, window, { prompt, completion, total: prompt + completion });
        return { admitted: true, reservation: { windowKey, window, prompt, completion, where: 'redis' }, view };
      } catch (error) {
        this.enterDegraded(error);
      }
    }
    return this.admitLocally(policy, window, windowKey, prompt, completion, now);
  }

  /**
   * Replaces a reservation by the usage the provider reported (or the proxy counted). Resolves once
   * Redis has applied it, or it is queued for when Redis is back. Never rejects.
   */
  settle(reservation: Reservation, actual: { prompt: number; completion: number }): Promise<void> {
    const delta = { prompt: actual.prompt - reservation.prompt, completion: actual.completion - reservation.completion, total: 0 };
    delta.total = delta.prompt + delta.completion;
    if (reservation.where === 'local') {
      const counters = this.local.get(reservation.windowKey);
      if (counters) addTo(counters, delta);
    }
    if (delta.prompt === 0 && delta.completion === 0) return Promise.resolve();
    this.record(this.contributed, reservation.windowKey, reservation.window, delta);
    if (reservation.where === 'local' || this.degradedSince !== null) {
      this.record(this.pending, reservation.windowKey, reservation.window, delta);
      return Promise.resolve();
    }
    return (this.settleRedis as unknown as RedisScripts)
      .tokengateApply(reservation.windowKey, '', delta.prompt, delta.completion, delta.total, this.ttlOf(reservation.window))
      .then(
        () => undefined,
        (error: unknown) => {
          this.record(this.pending, reservation.windowKey, reservation.window, delta);
          this.enterDegraded(error);
        },
      );
  }

  async close(): Promise<void> {
    await this.flushPending().catch(() => undefined);
    this.closed = true;
    if (this.probe) clearInterval(this.probe);
    this.redis.disconnect();
    this.settleRedis.disconnect();
  }

  private admitLocally(policy: BudgetPolicy, window: Window, windowKey: string, prompt: number, completion: number, now: number): Admission {
    let counters = this.local.get(windowKey);
    if (counters === undefined) {
      const seen = this.lastSeen.get(windowKey);
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
      this.record(this.contributed, windowKey, window, reserved);
      this.record(this.pending, windowKey, window, reserved);
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
    // A slow (not disconnected) Redis emits no new 'ready': probe until pending usage lands.
    this.probe ??= setInterval(() => {
      if (this.redis.status === 'ready') void this.flushPending();
    }, PROBE_INTERVAL_MS);
    this.probe.unref();
  }

  /**
   * Pushes pending usage to Redis; leaves the degraded mode once everything landed. A Redis that lost
   * its data (a restart without persistence: new epoch) gets everything this proxy contributed to
   * the live windows again, so no count is lost; otherwise only what it has not confirmed.
   */
  private flushPending(): Promise<void> {
    this.flushing ??= (async () => {
      try {
        await this.checkEpoch();
        this.forgetEndedWindows();
        for (const [windowKey, amounts] of [...this.pending]) {
          if (!this.pushes.has(windowKey)) {
            this.pushes.set(windowKey, { marker: `tg:rl:push:${this.options.proxyId}:${randomBytes(8).toString('hex')}`, amounts });
            this.pending.delete(windowKey);
          }
        }
        for (const [windowKey, push] of [...this.pushes]) {
          await (this.redis as unknown as RedisScripts).tokengateApply(windowKey, push.marker, push.amounts.prompt, push.amounts.completion, push.amounts.total, push.amounts.ttl);
          this.pushes.delete(windowKey);
        }
        if (this.pending.size === 0 && this.degradedSince !== null) {
          this.options.logger.info({ degradedForMs: this.now() - this.degradedSince }, 'Redis is back: rate limiting on shared counters again');
          this.degradedSince = null;
          this.local.clear();
          if (this.probe) clearInterval(this.probe);
          this.probe = null;
          this.options.onDegradedChange?.(false);
        }
      } catch (error) {
        this.enterDegraded(error);
      } finally {
        this.flushing = null;
      }
    })();
    return this.flushing;
  }

  private async checkEpoch(): Promise<void> {
    const key = `tg:rl:epoch:{${this.options.environment}}`;
    await this.redis.set(key, randomBytes(8).toString('hex'), 'NX');
    const current = await this.redis.get(key);
    if (this.epoch !== null && current !== this.epoch) {
      this.options.logger.warn('Redis lost its rate-limit counters (restarted without persistence): pushing this proxy’s share of the live windows again');
      this.pushes.clear();
      this.pending.clear();
      for (const [windowKey, amounts] of this.contributed) this.pending.set(windowKey, { ...amounts });
    }
    this.epoch = current;
  }

  private forgetEndedWindows(): void {
    const now = this.now();
    const ended = [...this.contributed].filter(([, entry]) => entry.end + 60_000 < now).map(([key]) => key);
    for (const key of ended) {
      for (const map of [this.contributed, this.pending, this.lastSeen, this.local] as Array<Map<string, unknown>>) map.delete(key);
    }
  }

  private record(ledger: Map<string, WindowLedger>, windowKey: string, window: Window, delta: Counters): void {
    let entry = ledger.get(windowKey);
    if (entry === undefined) {
      entry = { prompt: 0, completion: 0, total: 0, ttl: this.ttlOf(window), end: window.end };
      ledger.set(windowKey, entry);
    }
    addTo(entry, delta);
  }

  private keyOf(policy: BudgetPolicy, window: Window): string {
    // The braces make a Redis Cluster hash tag: all windows of one service and environment share a slot.
    return `tg:rl:{${this.options.environment}:${policy.serviceId}}:${window.unit}:${window.start}`;
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
  tokengateApply(key: string, marker: string, ...args: Array<string | number>): Promise<unknown>;
}

function addTo(target: Counters, delta: Counters): void {
  target.prompt += delta.prompt;
  target.completion += delta.completion;
  target.total += delta.total;
}
