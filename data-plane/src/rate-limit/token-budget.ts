// Token budgets per (environment, service, window) — and per connection under its service — shared by
// every proxy of the environment in Redis or a Redis Cluster. Every budget that applies to a request
// is checked and reserved in one atomic script (budget-scripts.ts), and settled together.
//
// When Redis cannot answer within a short timeout the proxy keeps serving in a degraded mode:
// - `lease` (default): each proxy spends only its lease — tokens of each enforced budget that Redis
//   set aside for it while it answered — so what all proxies admit meanwhile never exceeds a budget;
//   a proxy without a lease for a budget's window admits nothing against that budget.
// - `fail-open`: each proxy admits up to its configured share of each budget on local counters
//   (bound: proxies × share × budget).
// Once Redis answers again, each proxy reconciles its own contribution (and lease) in every live
// window, so nothing is lost or counted twice — whatever a timed-out command did or did not do.
// ADR 003 and ADR 011.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { createRedisClient, type RedisClient } from '../redis/redis-connection';
import { FLUSH_SCRIPT, RECONCILE_SCRIPT, RESERVE_SCRIPT } from './budget-scripts';
import { type TimeUnit, type Window, secondsUntilReset, windowAt, windowLengthMs } from './windows';

export type Dimension = 'prompt' | 'completion' | 'total';
/** Which budget: the service's (shared by all its connections) or one connection's quota. */
export type BudgetScope = 'service' | 'connection';

export interface BudgetPolicy {
  /** Default 'service'. */
  readonly scope?: BudgetScope;
  /** Service id: every budget is per environment (this proxy's) and service. */
  readonly serviceId: string;
  /** Required for scope 'connection'. */
  readonly connectionId?: string;
  readonly timeUnit: TimeUnit;
  /** null = unlimited in that dimension. */
  readonly maxPromptTokens: number | null;
  readonly maxCompletionTokens: number | null;
  readonly maxTotalTokens: number | null;
  /** Shadow mode: counted, never refuses; an admission says when it would have. */
  readonly shadow?: boolean;
}

export interface Counters {
  prompt: number;
  completion: number;
  total: number;
}

/** One budget's window as the admission saw it, for the x-ratelimit-* headers and the cut-off. */
export interface BudgetView {
  readonly policy: BudgetPolicy;
  readonly window: Window;
  /** Used after this request's reservation (or as it stood when refused). */
  readonly used: Counters;
}

export interface ReservedWindow {
  readonly policy: BudgetPolicy;
  readonly windowKey: string;
  readonly window: Window;
}

export interface Reservation {
  /** Every budget the tokens were reserved in (settle() corrects them all). */
  readonly windows: readonly ReservedWindow[];
  readonly prompt: number;
  readonly completion: number;
  /**
   * Where the reservation was taken: in Redis, out of this proxy's lease while Redis answers (Redis
   * hears of it in the window's next flush), or on local counters while it does not. settle()
   * corrects it in the same place.
   */
  readonly where: 'redis' | 'lease' | 'local';
}

/** The budget and dimension that refused a request (or, in shadow mode, would have). */
export interface BudgetVerdict {
  readonly scope: BudgetScope;
  readonly dimension: Dimension;
}

export type Admission =
  | {
      readonly admitted: true;
      readonly reservation: Reservation;
      /** One per budget, in the order given. */
      readonly views: readonly BudgetView[];
      /** The first shadow budget that would have refused the request, else null. */
      readonly wouldHaveRefused: BudgetVerdict | null;
    }
  | {
      readonly admitted: false;
      readonly refusedBy: BudgetScope;
      readonly refused: Dimension;
      readonly retryAfterSeconds: number;
      /** The budget that refused. */
      readonly view: BudgetView;
      readonly views: readonly BudgetView[];
      /** True when the proxy could not ask Redis and holds no lease for this budget's window. */
      readonly unavailable: boolean;
    };

export type DegradedMode = 'lease' | 'fail-open';

export interface TokenBudgetOptions {
  /** One Redis (redis://…) or a cluster (redis+cluster://host:port,…); see redis/redis-connection.ts. */
  readonly redisUrl: string;
  /** Prefix of every key (TOKENGATE_REDIS_NAMESPACE), so installations can share one Redis. Default `tokengate`. */
  readonly keyPrefix?: string;
  readonly environment: string;
  /** Names this proxy in its ledger fields (a random suffix makes each process's ledger its own). */
  readonly proxyId: string;
  /** Longest wait for Redis on the request path before falling back to the degraded mode. Default 50 ms. */
  readonly commandTimeoutMs?: number;
  /** What the proxy admits while Redis is away. Default 'lease'. */
  readonly degradedMode?: DegradedMode;
  /** `lease`: the share of each enforced budget one proxy holds as its lease. Default 0.05. */
  readonly leaseShare?: number;
  /** `lease`: the most of each enforced budget all proxies' leases together may hold. Default 0.2. */
  readonly leaseCap?: number;
  /** `fail-open`: the share of each budget this proxy may use on its own while Redis is away. Default 0.5. */
  readonly localShare?: number;
  readonly logger: Logger;
  /** Told when the degraded mode starts or ends (metrics). */
  readonly onDegradedChange?: (degraded: boolean) => void;
  readonly now?: () => number;
}

/**
 * The Redis hash of one service's window. The braces make a Redis Cluster hash tag: every key of a
 * service's budgets in an environment (each window, each unit, each connection's quota) lives in one
 * slot, so one script touches them all.
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

/** One budget of an admission, resolved to its window. */
type BudgetWindow = ReservedWindow;

/**
 * What this proxy did in one window that Redis has not heard yet (pending) or not answered yet (in
 * flight, oldest first): used-token changes, and tokens drawn from its lease. Replies to one window's
 * commands arrive in the order they were sent, so Redis's word on the lease, less what is still
 * pending or in flight, is what the proxy may spend.
 */
interface WindowFlow {
  /** The window with its latest policy (its limits and lease targets go with the flush). */
  budget: BudgetWindow;
  pendingUsed: Counters;
  pendingDrawn: Counters;
  /** Settlements waiting for the next flush to be applied. */
  readonly waiters: Array<() => void>;
  readonly inFlight: Array<{ readonly used: Counters; readonly drawn: Counters }>;
}

const PROBE_INTERVAL_MS = 500;
/**
 * How long lease admissions and give-backs may wait to be told to Redis, so that one flush carries
 * many: neither changes what other proxies see as free for the worse. A settlement someone waits for,
 * or a lease running low, is flushed at the next turn.
 */
const FLUSH_DELAY_MS = 5;
/**
 * Under steady load, timed flushes leave at least this far apart (the first change after a quiet
 * spell still leaves within FLUSH_DELAY_MS): one flush then carries every request of 20 ms instead of
 * 5, so Redis and the proxy handle a quarter of the commands. Each costs the proxy a socket write that
 * wakes Redis, far dearer than the admissions it carries (bench/README.md, "What a flush costs").
 */
const FLUSH_SPACING_MS = 20;
/**
 * How long a request the degraded mode would refuse for want of a lease still waits for Redis's own
 * answer, when Redis was merely slow (not disconnected): a latency spike at the start of a window
 * costs that request time, not a refusal.
 */
const SLOW_ANSWER_WAIT_MS = 1000;

/** Redis did not answer in time (the command may still run); other failures mean it was not sent or failed. */
class RedisDeadlineError extends Error {
  override readonly name = 'RedisDeadlineError';
}
/** Retry-After of a refusal for want of a lease: Redis is probed twice a second. */
const UNAVAILABLE_RETRY_SECONDS = 1;
const ZERO: Readonly<Counters> = Object.freeze({ prompt: 0, completion: 0, total: 0 });

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
  private readonly mode: DegradedMode;
  private readonly leaseShare: number;
  private readonly leaseCap: number;
  private readonly localShare: number;
  private readonly keyPrefix: string;
  private readonly timeoutMs: number;
  /** This process's fields in each window hash. */
  private readonly ledgerId: string;
  private degradedSince: number | null = null;
  private probe: NodeJS.Timeout | null = null;
  /** fail-open: local counters per window key while degraded (seeded from the last Redis view of the window). */
  private readonly local = new Map<string, Counters>();
  /** Last counters Redis reported per window key (plus what was admitted locally since, while degraded). */
  private readonly lastSeen = new Map<string, { used: Counters; end: number }>();
  /** This proxy's lease per window key: Redis's last word while it answers, then what is left of it. */
  private readonly leases = new Map<string, Counters>();
  /** The current window of each budget policy object (RequestMeter keeps one per service and grant). */
  private readonly currentWindows = new WeakMap<BudgetPolicy, BudgetWindow>();
  /** Per window key, the window with the policy this proxy last used it with (a snapshot may change the limits mid-window). */
  private readonly latestWindows = new Map<string, BudgetWindow>();
  /** Per window: what Redis has not heard or confirmed yet. */
  private readonly flows = new Map<string, WindowFlow>();
  /** A flush is due: at the next turn (`immediate`) or after FLUSH_DELAY_MS. */
  private flushDue: { readonly immediate: boolean; readonly cancel: () => void } | null = null;
  /** performance.now() of the last flush that sent something (monotonic: the spacing ignores clock jumps). */
  private lastFlushAt = -Infinity;
  /** What this proxy has contributed to each live window: what a reconciliation makes Redis hold for it. */
  private readonly contributed = new Map<string, WindowLedger>();
  /** Reservations sent to Redis whose outcome (answer or timeout) is not decided yet. */
  private undecided = 0;
  private whenDecided: Array<() => void> = [];
  /** Bumped by every change of `contributed` or a lease: tells sync() whether anything changed during a reconciliation. */
  private contributions = 0;
  private syncing: Promise<void> | null = null;
  private probing = false;
  private closed = false;

  constructor(private readonly options: TokenBudgetOptions) {
    this.now = options.now ?? Date.now;
    this.mode = options.degradedMode ?? 'lease';
    this.leaseShare = this.mode === 'lease' ? (options.leaseShare ?? 0.05) : 0;
    this.leaseCap = Math.max(this.leaseShare, options.leaseCap ?? 0.2);
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
    // One command per number of budgets (a service budget, and a connection quota beside it): with a
    // fixed number of keys the first argument is a key, which is what routes an auto-pipelined
    // command to its node on a cluster.
    for (const keys of [1, 2]) this.redis.defineCommand(`tokengateReserve${keys}`, { numberOfKeys: keys, lua: RESERVE_SCRIPT });
    this.redis.defineCommand('tokengateFlush', { numberOfKeys: 1, lua: FLUSH_SCRIPT });
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

  /** What the proxy admits while Redis is away. */
  get degradedMode(): DegradedMode {
    return this.mode;
  }

  /**
   * Resolves true once the connection is ready, or false after `timeoutMs` — a proxy then starts in
   * the degraded mode and joins the shared counters when Redis answers. Waiting at start-up keeps the
   * first requests from meeting a connection that is merely not open yet.
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

  /**
   * Reserves `prompt` and `completion` tokens in the current window of every budget given (a service
   * budget and a connection quota), or refuses — then nothing is taken from any of them.
   */
  async admit(policies: BudgetPolicy | readonly BudgetPolicy[], prompt: number, completion: number): Promise<Admission> {
    const now = this.now();
    const budgets = this.windowsOf(policies, now);
    return this.decideHere(budgets, prompt, completion, now) ?? this.reserve(budgets, prompt, completion, now);
  }

  /**
   * admit() when this proxy can decide alone, without a Redis round trip: out of its leases, or on
   * its own while degraded. Null when Redis must decide (then call admit()).
   */
  admitNow(policies: BudgetPolicy | readonly BudgetPolicy[], prompt: number, completion: number): Admission | null {
    const now = this.now();
    return this.decideHere(this.windowsOf(policies, now), prompt, completion, now);
  }

  /**
   * The budgets' current windows as this proxy last heard of them (no Redis round trip, nothing
   * reserved): for the x-ratelimit-* headers of a request refused before any admission.
   */
  lastKnown(policies: BudgetPolicy | readonly BudgetPolicy[]): BudgetView[] {
    return this.windowsOf(policies, this.now()).map((budget) => ({ policy: budget.policy, window: budget.window, used: { ...this.seen(budget.windowKey) } }));
  }

  private windowsOf(policies: BudgetPolicy | readonly BudgetPolicy[], now: number): BudgetWindow[] {
    const list = Array.isArray(policies) ? (policies as readonly BudgetPolicy[]) : [policies as BudgetPolicy];
    if (list.length === 0 || list.length > 2) throw new Error(`a request counts against one or two budgets, not ${list.length}`);
    return list.map((policy) => this.windowOf(policy, now));
  }

  private decideHere(budgets: readonly BudgetWindow[], prompt: number, completion: number, now: number): Admission | null {
    if (this.degradedSince !== null) return this.admitLocally(budgets, prompt, completion, now);
    return this.admitFromLeases(budgets, prompt, completion);
  }

  /** The Redis reservation: the script takes the tokens (and tops up this proxy's lease) or refuses. */
  private async reserve(budgets: readonly BudgetWindow[], prompt: number, completion: number, now: number): Promise<Admission> {
    this.undecided++;
    try {
      const args: Array<string | number> = [prompt, completion, this.ledgerId];
      for (const { policy } of budgets) {
        const enforced = policy.shadow !== true;
        args.push(
          policy.maxPromptTokens ?? 0,
          policy.maxCompletionTokens ?? 0,
          policy.maxTotalTokens ?? 0,
          enforced ? 0 : 1,
          this.ttlSeconds(policy.timeUnit),
          ...this.leaseTargets(policy),
        );
      }
      const keys = budgets.map((b) => b.windowKey);
      const command = keys.length === 1 ? this.scripts.tokengateReserve1(keys[0], ...args) : this.scripts.tokengateReserve2(keys[0], keys[1], ...args);
      let reply: Array<number | string>;
      try {
        reply = (await this.deadline(command)) as Array<number | string>;
      } catch (error) {
        // Timed out or failed: the reservation may or may not have landed. The local decision is what
        // counts; the reconciliation makes Redis agree with it.
        this.enterDegraded(error);
        const local = this.admitLocally(budgets, prompt, completion, now);
        if (local.admitted || !local.unavailable || !(error instanceof RedisDeadlineError)) return local;
        // No lease to decide on, and Redis may only be slow: its answer, if it comes, decides.
        try {
          reply = (await this.deadline(command, SLOW_ANSWER_WAIT_MS)) as Array<number | string>;
        } catch {
          return local;
        }
      }
      const late = this.degradedSince !== null;
      /** Windows whose lease was taken from this late answer (it is after the draw). */
      const adopted = new Set<string>();
      const views = budgets.map((budget, i): BudgetView => {
        const at = 3 + i * 6;
        const used = { prompt: Number(reply[at]), completion: Number(reply[at + 1]), total: Number(reply[at + 2]) };
        if (!this.lastSeen.has(budget.windowKey)) this.forgetEndedWindows();
        if (late) {
          // A proxy that held no lease of the window drew from none: the lease the answer carries is
          // its whole lease there (the reconciliation keeps it). Without it, the proxy would hold no
          // lease until its next command reached Redis, and admit nothing through an outage meanwhile.
          if (this.leaseShare > 0 && budget.policy.shadow !== true && !this.leases.has(budget.windowKey)) {
            this.setLease(budget.windowKey, { prompt: Number(reply[at + 3]), completion: Number(reply[at + 4]), total: Number(reply[at + 5]) });
            adopted.add(budget.windowKey);
          }
          return { policy: budget.policy, window: budget.window, used };
        }
        this.heard(budget, used, { prompt: Number(reply[at + 3]), completion: Number(reply[at + 4]), total: Number(reply[at + 5]) });
        return { policy: budget.policy, window: budget.window, used: { ...this.seen(budget.windowKey) } };
      });
      const index = Number(reply[1]) - 1;
      const verdict = index >= 0 ? { scope: scopeOf(budgets[index].policy), dimension: reply[2] as Dimension } : null;
      if (Number(reply[0]) !== 1) {
        if (verdict === null) throw new Error('the reservation script refused without naming a budget');
        return { admitted: false, refusedBy: verdict.scope, refused: verdict.dimension, retryAfterSeconds: secondsUntilReset(budgets[index].window, now), view: views[index], views, unavailable: false };
      }
      const reserved = { prompt, completion, total: prompt + completion };
      for (const budget of budgets) {
        this.record(budget.windowKey, budget.window, reserved);
        // Answered after the degraded mode began: its lease draw is unknown here, so assume the worst.
        if (late && !adopted.has(budget.windowKey)) this.spendLease(budget.windowKey, reserved);
      }
      return { admitted: true, reservation: { windows: budgets, prompt, completion, where: 'redis' }, views, wouldHaveRefused: verdict };
    } finally {
      if (--this.undecided === 0) for (const resolve of this.whenDecided.splice(0)) resolve();
    }
  }

  /**
   * Replaces a reservation by the usage the provider reported (or the proxy counted), in every budget
   * it was taken from. Resolves once Redis has applied it, or it is left to the reconciliation when
   * Redis is back; null when there is nothing to wait for (no correction, or one that only gives
   * tokens back to a lease, or the proxy is degraded). Never rejects.
   */
  settle(reservation: Reservation, actual: { prompt: number; completion: number }): Promise<void> | null {
    const delta = { prompt: actual.prompt - reservation.prompt, completion: actual.completion - reservation.completion, total: 0 };
    delta.total = delta.prompt + delta.completion;
    if (delta.prompt === 0 && delta.completion === 0) return null;
    for (const { windowKey, window } of reservation.windows) {
      this.record(windowKey, window, delta);
      if (this.degradedSince === null) continue;
      const seen = this.lastSeen.get(windowKey);
      if (seen) addTo(seen.used, delta);
      const counters = this.local.get(windowKey);
      if (counters) addTo(counters, delta);
      // Usage beyond the reservation is paid from the lease, so used + leases stay within the budget.
      this.spendLease(windowKey, { prompt: Math.max(0, delta.prompt), completion: Math.max(0, delta.completion), total: Math.max(0, delta.total) });
    }
    if (this.degradedSince !== null) return null;
    // Corrections go out with the window's next flush (one command per window, however many requests).
    // One that only gives tokens back to a lease-admitted request is not waited for: until it lands,
    // other proxies see fewer free tokens, never more.
    const wait = reservation.where !== 'lease' || delta.prompt > 0 || delta.completion > 0;
    const applied: Array<Promise<void>> = [];
    for (const budget of reservation.windows) {
      const flow = this.flowOf(budget);
      addTo(flow.pendingUsed, delta);
      const seen = this.lastSeen.get(budget.windowKey);
      if (seen) addTo(seen.used, delta);
      if (wait) applied.push(new Promise<void>((resolve) => flow.waiters.push(resolve)));
    }
    this.scheduleFlush(wait);
    if (applied.length === 0) return null;
    return applied.length === 1 ? applied[0] : Promise.all(applied).then(() => undefined);
  }

  /**
   * Charges usage that nobody reserved — a Realtime session's responses, known only when each ends —
   * to the current window of every budget given, as settle() corrects a reservation (the same flush,
   * the same degraded-mode bookkeeping). Never refuses: the provider has spent the tokens already.
   */
  charge(policies: BudgetPolicy | readonly BudgetPolicy[], actual: { prompt: number; completion: number }): Promise<void> | null {
    const windows = this.windowsOf(policies, this.now());
    return this.settle({ windows, prompt: 0, completion: 0, where: this.degradedSince === null ? 'redis' : 'local' }, actual);
  }

  /**
   * Admits a request out of this proxy's leases, without asking Redis, when every budget is enforced
   * and its lease covers the request: the tokens move from the lease to used, which leaves every other
   * proxy's view of what is free unchanged, and Redis hears of it in the window's next flush. Else null.
   */
  private admitFromLeases(budgets: readonly BudgetWindow[], prompt: number, completion: number): Admission | null {
    if (this.leaseShare === 0) return null;
    const need = { prompt, completion, total: prompt + completion };
    for (const { policy, windowKey } of budgets) {
      const lease = this.leases.get(windowKey);
      if (policy.shadow === true || lease === undefined || leaseShortfall(policy, lease, need) !== null) return null;
    }
    let low = false;
    for (const budget of budgets) {
      const drawn = limitedPart(budget.policy, need);
      this.record(budget.windowKey, budget.window, need);
      this.spendLease(budget.windowKey, drawn);
      low ||= this.leaseLow(budget);
      const seen = this.lastSeen.get(budget.windowKey);
      if (seen) addTo(seen.used, need);
      const flow = this.flowOf(budget);
      addTo(flow.pendingUsed, need);
      addTo(flow.pendingDrawn, drawn);
    }
    this.scheduleFlush(low);
    const views = budgets.map(({ policy, window, windowKey }): BudgetView => ({ policy, window, used: { ...this.seen(windowKey) } }));
    return { admitted: true, reservation: { windows: budgets, prompt, completion, where: 'lease' }, views, wouldHaveRefused: null };
  }

  private flowOf(budget: BudgetWindow): WindowFlow {
    let flow = this.flows.get(budget.windowKey);
    if (flow === undefined) {
      flow = { budget: this.latestWindows.get(budget.windowKey) ?? budget, pendingUsed: { ...ZERO }, pendingDrawn: { ...ZERO }, waiters: [], inFlight: [] };
      this.flows.set(budget.windowKey, flow);
    }
    return flow;
  }

  /** Whether this proxy's lease of a budget's window is below half its target in a limited dimension (per request: no allocation). */
  private leaseLow({ policy, windowKey }: BudgetWindow): boolean {
    const lease = this.leases.get(windowKey);
    if (lease === undefined) return false;
    return (
      lease.prompt * 2 < this.leaseTarget(policy, policy.maxPromptTokens) ||
      lease.completion * 2 < this.leaseTarget(policy, policy.maxCompletionTokens) ||
      lease.total * 2 < this.leaseTarget(policy, policy.maxTotalTokens)
    );
  }

  private scheduleFlush(immediate: boolean): void {
    if (this.flushDue !== null && (this.flushDue.immediate || !immediate)) return;
    this.flushDue?.cancel();
    if (immediate) {
      const handle = setImmediate(() => this.flush());
      this.flushDue = { immediate, cancel: () => clearImmediate(handle) };
    } else {
      const spacing = this.lastFlushAt + FLUSH_SPACING_MS - performance.now();
      const handle = setTimeout(() => this.flush(), Math.max(FLUSH_DELAY_MS, spacing)).unref();
      this.flushDue = { immediate, cancel: () => clearTimeout(handle) };
    }
  }

  /** Sends every window's pending changes: one command per window, however many requests they cover. */
  private flush(): void {
    this.flushDue?.cancel();
    this.flushDue = null;
    if (this.degradedSince !== null) return;
    for (const [windowKey, flow] of this.flows) {
      const waiters = flow.waiters.splice(0);
      const sent = { used: flow.pendingUsed, drawn: flow.pendingDrawn };
      if (isZero(sent.used) && isZero(sent.drawn)) {
        for (const resolve of waiters) resolve();
        if (flow.inFlight.length === 0) this.flows.delete(windowKey);
        continue;
      }
      flow.pendingUsed = { ...ZERO };
      flow.pendingDrawn = { ...ZERO };
      flow.inFlight.push(sent);
      this.lastFlushAt = performance.now();
      const { policy, window } = flow.budget;
      const enforced = policy.shadow !== true;
      const command = this.scripts.tokengateFlush(
        windowKey,
        this.ledgerId,
        sent.used.prompt,
        sent.used.completion,
        sent.drawn.prompt,
        sent.drawn.completion,
        sent.drawn.total,
        this.ttlOf(window),
        enforced ? 1 : 0,
        policy.maxPromptTokens ?? 0,
        policy.maxCompletionTokens ?? 0,
        policy.maxTotalTokens ?? 0,
        ...this.leaseTargets(policy),
      );
      // Nothing waits on a flush but settlements: only a Redis that does not answer for a second (or
      // fails) puts the proxy in the degraded mode through one.
      this.deadline(command, SLOW_ANSWER_WAIT_MS).then(
        (reply) => {
          const values = (reply as Array<number | string>).map(Number);
          const index = flow.inFlight.indexOf(sent);
          if (index >= 0) flow.inFlight.splice(index, 1);
          if (this.degradedSince === null) this.heard(flow.budget, { prompt: values[0], completion: values[1], total: values[2] }, { prompt: values[3], completion: values[4], total: values[5] });
          if (flow.inFlight.length === 0 && flow.waiters.length === 0 && isZero(flow.pendingUsed) && isZero(flow.pendingDrawn) && this.flows.get(windowKey) === flow) this.flows.delete(windowKey);
          for (const resolve of waiters) resolve();
        },
        (error: unknown) => {
          // The reconciliation makes Redis agree with what this proxy counted, whether or not this landed.
          this.enterDegraded(error);
          for (const resolve of waiters) resolve();
        },
      );
    }
  }

  /**
   * Redis's word on a window (used, and this proxy's lease) as of a command this proxy sent: what is
   * still in flight or pending is added to it (used) or taken from it (lease).
   */
  private heard(budget: BudgetWindow, used: Counters, lease: Counters): void {
    const flow = this.flows.get(budget.windowKey);
    const view = { ...used };
    const own = { ...lease };
    if (flow !== undefined) {
      for (const sent of flow.inFlight) {
        addTo(view, sent.used);
        subtractFrom(own, sent.drawn);
      }
      addTo(view, flow.pendingUsed);
      subtractFrom(own, flow.pendingDrawn);
    }
    this.lastSeen.set(budget.windowKey, { used: view, end: budget.window.end });
    if (this.leaseShare > 0 && budget.policy.shadow !== true) this.setLease(budget.windowKey, own);
  }

  /** Gives this proxy's leases back (while Redis answers), then disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const lease of this.leases.values()) Object.assign(lease, ZERO);
    this.contributions++;
    if (this.degradedSince !== null) await this.sync().catch(() => undefined);
    else {
      this.dropPendingFlows();
      await Promise.all(this.reconcileAll()).catch(() => undefined);
    }
    this.closed = true;
    this.flushDue?.cancel();
    if (this.probe) clearInterval(this.probe);
    this.redis.disconnect();
  }

  /** A budget's current window; the same object for every request of the window (its key is built once). */
  private windowOf(policy: BudgetPolicy, now: number): BudgetWindow {
    const last = this.currentWindows.get(policy);
    if (last !== undefined && now >= last.window.start && now < last.window.end) return last;
    const window = windowAt(policy.timeUnit, now);
    const windowKey =
      policy.scope === 'connection'
        ? connectionWindowKey(this.keyPrefix, this.options.environment, policy.serviceId, policy.connectionId ?? '', window)
        : budgetWindowKey(this.keyPrefix, this.options.environment, policy.serviceId, window);
    const current = { policy, window, windowKey };
    this.currentWindows.set(policy, current);
    const previous = this.latestWindows.get(windowKey);
    if (previous === undefined || previous.policy !== policy) {
      if (previous === undefined) this.forgetEndedWindows();
      this.latestWindows.set(windowKey, current);
      if (previous !== undefined && !sameLimits(previous.policy, policy)) this.limitsChanged(current);
    }
    return current;
  }

  /**
   * The limits of a window changed mid-window (a new snapshot): this proxy's lease of it, handed out
   * under the old limits, is cut to its target under the new ones before anything is spent from it
   * (a lowered budget would otherwise be overspent by what the old lease held), and flushes carry the
   * new limits. Redis cuts the lease the same way at this proxy's next command (budget-scripts.ts), and
   * other proxies' commands cut it there when all leases together exceed the new cap.
   */
  private limitsChanged(current: BudgetWindow): void {
    const flow = this.flows.get(current.windowKey);
    if (flow !== undefined) flow.budget = current;
    const lease = this.leases.get(current.windowKey);
    if (lease === undefined) return;
    const { policy } = current;
    lease.prompt = Math.min(lease.prompt, this.leaseTarget(policy, policy.maxPromptTokens));
    lease.completion = Math.min(lease.completion, this.leaseTarget(policy, policy.maxCompletionTokens));
    lease.total = Math.min(lease.total, this.leaseTarget(policy, policy.maxTotalTokens));
    this.contributions++;
  }

  /** This proxy's lease target of one limit (`share` = the lease cap: what all leases together may hold). */
  private leaseTarget(policy: BudgetPolicy, limit: number | null, share = this.leaseShare): number {
    return policy.shadow !== true && this.leaseShare > 0 && limit !== null ? Math.floor(limit * share) : 0;
  }

  /** This proxy's lease targets for prompt, completion, total, then the caps of all leases together. */
  private leaseTargets(policy: BudgetPolicy): number[] {
    const limits = [policy.maxPromptTokens, policy.maxCompletionTokens, policy.maxTotalTokens];
    return [this.leaseShare, this.leaseCap].flatMap((share) => limits.map((limit) => this.leaseTarget(policy, limit, share)));
  }

  /** While Redis is away: every enforced budget must admit the request on what this proxy may spend alone. */
  private admitLocally(budgets: readonly BudgetWindow[], prompt: number, completion: number, now: number): Admission {
    const need = { prompt, completion, total: prompt + completion };
    let verdict: { index: number; dimension: Dimension; unavailable: boolean } | null = null;
    let would: BudgetVerdict | null = null;
    for (let i = 0; i < budgets.length && verdict === null; i++) {
      const { policy, windowKey } = budgets[i];
      if (policy.shadow === true) {
        const dimension = exceeded(policy, this.seen(windowKey), need, 1);
        if (dimension !== null && would === null) would = { scope: scopeOf(policy), dimension };
      } else if (this.mode === 'fail-open') {
        const dimension = exceeded(policy, this.localCounters(windowKey), need, this.localShare);
        if (dimension !== null) verdict = { index: i, dimension, unavailable: false };
      } else {
        const dimension = leaseShortfall(policy, this.leases.get(windowKey), need);
        if (dimension !== null) verdict = { index: i, dimension, unavailable: true };
      }
    }
    if (verdict === null) {
      for (const { policy, windowKey, window } of budgets) {
        this.record(windowKey, window, need);
        const seen = this.lastSeen.get(windowKey);
        if (seen) addTo(seen.used, need);
        else this.lastSeen.set(windowKey, { used: { ...need }, end: window.end });
        if (this.mode === 'fail-open') addTo(this.localCounters(windowKey), need);
        else if (policy.shadow !== true) this.spendLease(windowKey, need);
      }
    }
    const views = budgets.map(({ policy, window, windowKey }): BudgetView => ({ policy, window, used: { ...this.seen(windowKey) } }));
    if (verdict !== null) {
      const refusing = budgets[verdict.index];
      const retryAfterSeconds = verdict.unavailable ? UNAVAILABLE_RETRY_SECONDS : secondsUntilReset(refusing.window, now);
      return { admitted: false, refusedBy: scopeOf(refusing.policy), refused: verdict.dimension, retryAfterSeconds, view: views[verdict.index], views, unavailable: verdict.unavailable };
    }
    return { admitted: true, reservation: { windows: budgets, prompt, completion, where: 'local' }, views, wouldHaveRefused: would };
  }

  /** What the window had used as this proxy last knew it (Redis's word plus what it admitted since). */
  private seen(windowKey: string): Counters {
    return this.lastSeen.get(windowKey)?.used ?? ZERO;
  }

  /** fail-open: this proxy's local counters of a window, seeded with its share of what Redis last reported. */
  private localCounters(windowKey: string): Counters {
    let counters = this.local.get(windowKey);
    if (counters === undefined) {
      const seen = this.lastSeen.get(windowKey)?.used;
      const share = (value: number) => Math.ceil(value * this.localShare);
      counters = seen ? { prompt: share(seen.prompt), completion: share(seen.completion), total: share(seen.total) } : { prompt: 0, completion: 0, total: 0 };
      this.local.set(windowKey, counters);
    }
    return counters;
  }

  private setLease(windowKey: string, lease: Counters): void {
    const current = this.leases.get(windowKey);
    if (current === undefined) this.leases.set(windowKey, lease);
    else Object.assign(current, lease);
  }

  /** Takes what was spent out of this proxy's lease of a window (it may go below 0: nothing more is admitted). */
  private spendLease(windowKey: string, spent: Counters): void {
    const lease = this.leases.get(windowKey);
    if (lease === undefined) return;
    lease.prompt -= spent.prompt;
    lease.completion -= spent.completion;
    lease.total -= spent.total;
    this.contributions++;
  }

  /**
   * Before a reconciliation: it sets absolute values that include whatever is pending (and in flight:
   * those commands land before it, on the same connection), so no flush may add the pending part after it.
   */
  private dropPendingFlows(): void {
    this.flushDue?.cancel();
    this.flushDue = null;
    for (const flow of this.flows.values()) for (const resolve of flow.waiters.splice(0)) resolve();
    this.flows.clear();
  }

  private enterDegraded(error: unknown): void {
    if (this.degradedSince !== null || this.closed) return;
    this.degradedSince = this.now();
    this.dropPendingFlows();
    this.options.logger.warn(
      { err: error instanceof Error ? error.message : String(error), degradedMode: this.mode, ...(this.mode === 'fail-open' ? { localShare: this.localShare } : { leaseShare: this.leaseShare }) },
      this.mode === 'lease' ? 'Redis unavailable: rate limiting on this proxy’s leases (degraded mode)' : 'Redis unavailable: rate limiting on local counters, fail-open (degraded mode)',
    );
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
   * contribution and lease in every live window, still degraded — so the mode is left only once every
   * node holding one of its windows has answered (on a cluster a PING reaches one node, which says
   * nothing of the others). Then leave the degraded mode, and in the same tick reconcile again what
   * was counted locally meanwhile: commands sent from then on run after it on each window's
   * connection. A failure (re-)enters it.
   */
  private sync(): Promise<void> {
    // Only while degraded, where nothing is pending in a flow (enterDegraded dropped it): outside it a
    // reconciliation would set absolute values that a pending or in-flight flush then adds to again
    // (a probe's PING answered after the mode was left asked for one: counted twice).
    if (this.degradedSince === null) return this.syncing ?? Promise.resolve();
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

  /** Sets this proxy's ledger and lease in every live window to what it knows (idempotent). */
  private reconcileAll(): Array<Promise<unknown>> {
    return [...this.contributed].map(([windowKey, entry]) => {
      const lease = this.leases.get(windowKey) ?? ZERO;
      const held = (value: number) => Math.max(0, value);
      return this.deadline(this.scripts.tokengateReconcile(windowKey, this.ledgerId, entry.prompt, entry.completion, held(lease.prompt), held(lease.completion), held(lease.total), entry.ttl));
    });
  }

  /**
   * Rejects when Redis has not answered within the timeout — decided one event-loop turn after the
   * timer fires, so an answer already waiting on the socket is read first: a busy event loop (a GC
   * pause, a burst of requests) is not mistaken for a slow Redis. The command itself stays queued on
   * the connection; whatever it does is settled by the next reconciliation.
   */
  private deadline<T>(command: Promise<T>, timeoutMs = this.timeoutMs): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => setImmediate(() => reject(new RedisDeadlineError(`Redis did not answer within ${timeoutMs} ms`))), timeoutMs);
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
        this.leases.delete(key);
      }
    }
    for (const [key, { window }] of this.latestWindows) if (window.end < cutoff) this.latestWindows.delete(key);
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
  /** The scripts take one key per budget: 1 (the service's or the connection's) or 2 (both). */
  tokengateReserve1(key: string, ...args: Array<string | number>): Promise<unknown>;
  tokengateReserve2(key1: string, key2: string, ...args: Array<string | number>): Promise<unknown>;
  tokengateFlush(key: string, ...args: Array<string | number>): Promise<unknown>;
  tokengateReconcile(key: string, ...args: Array<string | number>): Promise<unknown>;
}

function sameLimits(a: BudgetPolicy, b: BudgetPolicy): boolean {
  return a.maxPromptTokens === b.maxPromptTokens && a.maxCompletionTokens === b.maxCompletionTokens && a.maxTotalTokens === b.maxTotalTokens && (a.shadow === true) === (b.shadow === true);
}

function scopeOf(policy: BudgetPolicy): BudgetScope {
  return policy.scope ?? 'service';
}

/** The first dimension whose `share` of the limit `used + need` would exceed, else null. */
function exceeded(policy: BudgetPolicy, used: Counters, need: Counters, share: number): Dimension | null {
  const over = (limit: number | null, value: number, add: number) => limit !== null && value + add > Math.max(1, Math.floor(limit * share));
  if (over(policy.maxPromptTokens, used.prompt, need.prompt)) return 'prompt';
  if (over(policy.maxCompletionTokens, used.completion, need.completion)) return 'completion';
  if (over(policy.maxTotalTokens, used.total, need.total)) return 'total';
  return null;
}

/** The first limited dimension the lease cannot cover (every one, without a lease), else null. */
function leaseShortfall(policy: BudgetPolicy, lease: Counters | undefined, need: Counters): Dimension | null {
  const short = (limit: number | null, held: number | undefined, add: number) => limit !== null && (held === undefined || add > held);
  if (short(policy.maxPromptTokens, lease?.prompt, need.prompt)) return 'prompt';
  if (short(policy.maxCompletionTokens, lease?.completion, need.completion)) return 'completion';
  if (short(policy.maxTotalTokens, lease?.total, need.total)) return 'total';
  return null;
}

/** The part of `need` in the dimensions a policy limits: an unlimited dimension has no lease to draw. */
function limitedPart(policy: BudgetPolicy, need: Counters): Counters {
  return {
    prompt: policy.maxPromptTokens === null ? 0 : need.prompt,
    completion: policy.maxCompletionTokens === null ? 0 : need.completion,
    total: policy.maxTotalTokens === null ? 0 : need.total,
  };
}

function isZero(counters: Counters): boolean {
  return counters.prompt === 0 && counters.completion === 0 && counters.total === 0;
}

function subtractFrom(target: Counters, delta: Counters): void {
  target.prompt -= delta.prompt;
  target.completion -= delta.completion;
  target.total -= delta.total;
}

function addTo(target: Counters, delta: Counters): void {
  target.prompt += delta.prompt;
  target.completion += delta.completion;
  target.total += delta.total;
}
