// Token accounting of one proxied request, for every service: the request body is read for its model,
// operation and limits; a rate-limited service admits it against its budget (reserve a cheap upper
// bound of the prompt, count exactly only when that does not fit); the response is observed (decoded
// for observation when compressed); and the usage the provider reported (or, failing that, the
// proxy's count) settles the reservation and is reported with the request's dimensions.
import type { Logger } from 'pino';
import type { TokengateErrorCode } from '../providers/provider-adapter';
import { type ObservedUsage, type PreparedRequest, RequestBodyError, type ResponseHeaders, type ResponseObserver, type TokenUsage, addUsage, tokenUsage } from '../providers/usage-accounting';
import { NOTHING_TO_COUNT, PassThroughObserver } from '../providers/shared/usage-tally';
import { canDecode, contentCodings } from '../proxy/content-encoding';
import type { ConsumerKeyGrant } from '../snapshot/consumer-key-index';
import type { CompiledService, RateLimitPolicy } from '../snapshot/compiled-snapshot';
import { promptUpperBound, promptUpperBoundHolds } from '../tokens/prompt-tokens';
import type { TokenCounter } from '../tokens/token-counter';
import { rateLimitHeaders } from '../rate-limit/rate-limit-headers';
import type { Admission, BudgetPolicy, BudgetScope, BudgetVerdict, BudgetView, Dimension, Reservation, TokenBudget } from '../rate-limit/token-budget';
import { DecodingObserver } from './decoding-observer';
import { type ResponseEnding, recordedStatus } from './recorded-status';
import type { ResponseCharges } from './response-charges';
import type { UsageReporter } from './usage-reporter';

/** What a settled request was charged, for metrics. */
export interface SettledRequest {
  readonly responseModel: string | null;
  readonly usage: TokenUsage;
}

export interface MeterDependencies {
  /** Shared token budgets; null: this proxy enforces no limits (usage is still observed and reported). */
  readonly budget: TokenBudget | null;
  readonly counter: TokenCounter;
  readonly reporter: UsageReporter;
  /** What each background Response was charged, across proxies; absent: each answer is charged what it shows. */
  readonly responseCharges?: ResponseCharges | null;
  /** Completion tokens reserved when the request sets no limit of its own. */
  readonly defaultCompletionTokens: number;
  readonly logger: Logger;
  readonly onRefusal?: (serviceId: string, budget: BudgetScope, dimension: string) => void;
  readonly onWouldHaveRefused?: (serviceId: string, budget: BudgetScope, dimension: string) => void;
  readonly now?: () => number;
}

/** A request the proxy answers itself, in the provider's error format. */
export interface MeterRefusal {
  readonly status: number;
  readonly code: TokengateErrorCode;
  readonly message: string;
  readonly headers: Record<string, string>;
}

function budgetPolicy(scope: BudgetScope, serviceId: string, connectionId: string, policy: RateLimitPolicy): BudgetPolicy {
  const num = (value: bigint | null) => (value === null ? null : Number(value));
  return {
    scope,
    serviceId,
    connectionId: scope === 'connection' ? connectionId : undefined,
    timeUnit: policy.timeUnit,
    maxPromptTokens: num(policy.maxPromptTokens),
    maxCompletionTokens: num(policy.maxCompletionTokens),
    maxTotalTokens: num(policy.maxTotalTokens),
    shadow: policy.shadow,
  };
}

/** budgetsOf() per service and grant (both live as long as the snapshot that holds them). */
const budgetsMemo = new WeakMap<CompiledService, WeakMap<ConsumerKeyGrant, readonly BudgetPolicy[]>>();

/**
 * The budgets of a request: the service's, then the connection's quota (its override, else the
 * service default). The same array and policy objects for every request of a service and grant: the
 * token budget keeps each policy's current window (and its Redis key) by policy object.
 */
export function budgetsOf(service: CompiledService, grant: ConsumerKeyGrant): readonly BudgetPolicy[] {
  if (service.rateLimit === null && service.connectionQuota === null && grant.quotaOverride === undefined) return NO_BUDGETS;
  let byGrant = budgetsMemo.get(service);
  if (byGrant === undefined) {
    byGrant = new WeakMap();
    budgetsMemo.set(service, byGrant);
  }
  let budgets = byGrant.get(grant);
  if (budgets === undefined) {
    budgets = Object.freeze(compileBudgets(service, grant));
    byGrant.set(grant, budgets);
  }
  return budgets;
}

const NO_BUDGETS: readonly BudgetPolicy[] = Object.freeze([]);

function compileBudgets(service: CompiledService, grant: ConsumerKeyGrant): BudgetPolicy[] {
  const budgets: BudgetPolicy[] = [];
  if (service.rateLimit !== null) budgets.push(budgetPolicy('service', service.id, grant.connectionId, service.rateLimit));
  const quota = grant.quotaOverride ?? service.connectionQuota;
  // A quota without any max (an "unlimited" override) limits nothing.
  if (quota !== null && (quota.maxPromptTokens !== null || quota.maxCompletionTokens !== null || quota.maxTotalTokens !== null)) {
    budgets.push(budgetPolicy('connection', service.id, grant.connectionId, quota));
  }
  return budgets;
}

/**
 * The first shadow budget that would have refused the request had its prompt been reserved `excess`
 * tokens smaller (views hold the window after the reservation), else null.
 */
function shadowVerdict(views: readonly BudgetView[], excess: number): BudgetVerdict | null {
  for (const { policy, used } of views) {
    if (policy.shadow !== true) continue;
    const over = (limit: number | null, value: number) => limit !== null && value > limit;
    const dimension = over(policy.maxPromptTokens, used.prompt - excess) ? 'prompt'
      : over(policy.maxCompletionTokens, used.completion) ? 'completion'
      : over(policy.maxTotalTokens, used.total - excess) ? 'total'
      : null;
    if (dimension !== null) return { scope: policy.scope ?? 'service', dimension };
  }
  return null;
}

/** How a refusal names a budget: "this service's whole budget", "this connection's whole quota". */
function budgetName(policy: BudgetPolicy): string {
  return policy.scope === 'connection' ? "this connection's whole quota" : "this service's whole budget";
}

/** The 429 for an admission a budget refused (reported through `onRefusal`), with the budgets' x-ratelimit-* headers. */
export function budgetRefusal(admission: Extract<Admission, { admitted: false }>, serviceId: string, deps: MeterDependencies): MeterRefusal {
  const { refusedBy, refused, retryAfterSeconds } = admission;
  deps.onRefusal?.(serviceId, refusedBy, refused);
  const headers = rateLimitHeaders(admission.views, (deps.now ?? Date.now)());
  headers['retry-after'] = String(retryAfterSeconds);
  headers['x-tokengate-budget'] = refusedBy;
  headers['x-tokengate-budget-dimension'] = refused;
  const policy = admission.view.policy;
  const what = refusedBy === 'connection' ? 'connection' : 'service';
  const message = admission.unavailable
    ? `Token rate limit of this ${what} cannot be checked right now: the shared counters are unreachable and this proxy holds no part of ${policy.scope === 'connection' ? 'its quota' : 'its budget'} for this ${policy.timeUnit.toLowerCase()}. Retry after ${retryAfterSeconds} s.`
    : `Token rate limit reached for this ${what}: the ${refused} token ${refusedBy === 'connection' ? 'quota' : 'budget'} of this ${policy.timeUnit.toLowerCase()} is used up. Retry after ${retryAfterSeconds} s.`;
  return { status: 429, code: 'rate_limited', message, headers };
}

/** Settlement's estimate when the tokenizer cannot count (the usual ~4 bytes of English text per token). */
const ESTIMATED_BYTES_PER_TOKEN = 4;
const ZERO: TokenUsage = Object.freeze({ promptTokens: 0, completionTokens: 0 });
/** The result for a response in a coding the proxy cannot decode: estimated from the prompt. */
const UNREADABLE: ReturnType<ResponseObserver['result']> = Object.freeze({ usage: null, completionText: '', complete: false, unreadable: true });

/** Created per exchange and owned by it; not shared. */
export class RequestMeter {
  /** Set by prepare(). */
  prepared: PreparedRequest | null = null;
  private reservation: Reservation | null = null;
  private views: readonly BudgetView[] | null = null;
  /** Set when a shadow budget would have refused the admitted request. */
  private wouldHaveRefused: BudgetVerdict | null = null;
  private readonly budgets: readonly BudgetPolicy[];
  private exactPrompt: number | null = null;
  private observer: ResponseObserver | null = null;
  private finished: Promise<SettledRequest | null> | null = null;
  private settledNow: SettledRequest | undefined = undefined;
  /** How the upstream response ended, given to finish(). */
  private ending: ResponseEnding = 'other';
  private recorded: number | null = null;

  constructor(
    private readonly deps: MeterDependencies,
    private readonly service: CompiledService,
    private readonly grant: ConsumerKeyGrant,
    private readonly providerPath: string,
  ) {
    this.budgets = deps.budget === null ? NO_BUDGETS : budgetsOf(service, grant);
  }

  /** True when a budget (the service's or the connection's quota, enforced or in shadow mode) counts this request. */
  get limited(): boolean {
    return this.budgets.length > 0;
  }

  /**
   * Whether the exchange settles before the client sees the end of the answer: a limited request (its
   * next request meets the true counters), and an upload (its file is marked charged before the
   * client can download it: PreparedRequest.uploadsFile).
   */
  get settlesBeforeEnd(): boolean {
    return this.budgets.length > 0 || this.prepared?.uploadsFile === true;
  }

  /**
   * Reads the request body (decoded when it arrived compressed). A body the API cannot take is refused
   * (400) on a rate-limited service, which cannot admit what it cannot count; elsewhere it is forwarded
   * for the provider to answer, and accounted without a model.
   */
  prepare(body: Buffer, contentType: string | undefined, query: string): MeterRefusal | null {
    const usage = this.service.provider.usage;
    try {
      this.prepared = usage.prepareRequest(this.providerPath, body, contentType, query);
    } catch (error) {
      if (!(error instanceof RequestBodyError)) throw error;
      if (this.limited) return { status: 400, code: 'bad_request', message: error.message, headers: {} };
      this.prepared = { ...usage.prepareRequest(this.providerPath, Buffer.alloc(0), undefined, query), body };
    }
    return null;
  }

  /**
   * Reserves the request's tokens in every budget that applies; a refusal when they do not fit one of
   * them. Decided on return (no promise) when nothing is limited or this proxy decides alone (its
   * leases cover the request, or it is degraded) — most requests; a promise when Redis or the token
   * counter must be asked.
   */
  admit(): MeterRefusal | null | Promise<MeterRefusal | null> {
    const budget = this.deps.budget;
    const prepared = this.prepared;
    const budgets = this.budgets;
    if (budget === null || prepared === null || budgets.length === 0) return null;
    const enforced = budgets.filter((policy) => policy.shadow !== true);
    const explicit = prepared.maxCompletionTokens;
    for (const policy of enforced) {
      if (explicit !== null && policy.maxCompletionTokens !== null && explicit > policy.maxCompletionTokens) {
        return this.tooLarge(budget, policy, 'completion', `The request allows ${explicit} completion tokens, more than ${budgetName(policy)} of ${policy.maxCompletionTokens} completion tokens per ${policy.timeUnit.toLowerCase()}.`);
      }
    }
    // Far from the boundary the upper bound fits and nothing is tokenized; close to it the exact count decides.
    const upperBound = promptUpperBound(prepared.body.length);
    // A body with parts that cost tokens rather than bytes (images by URL, Claude's tool-use system
    // prompt...) is not bounded by its length: it is counted before it is admitted.
    if (!promptUpperBoundHolds(this.service.provider.id, prepared.body)) return this.admitAfter(null, budget, prepared, enforced, upperBound, true);
    const first = budget.admitNow(budgets, upperBound, this.completionFor(enforced, explicit, upperBound));
    if (first !== null && first.admitted && first.wouldHaveRefused === null) {
      this.reservation = first.reservation;
      this.views = first.views;
      return null;
    }
    return this.admitAfter(first, budget, prepared, enforced, upperBound);
  }

  /** Without max_tokens & co. the default is reserved, trimmed so that prompt and completion fit every enforced budget. */
  private completionFor(enforced: readonly BudgetPolicy[], explicit: number | null, prompt: number): number {
    if (explicit !== null) return explicit;
    let completion = this.deps.defaultCompletionTokens;
    for (const p of enforced) completion = Math.min(completion, p.maxCompletionTokens ?? Infinity, (p.maxTotalTokens ?? Infinity) - prompt);
    return Math.max(0, completion);
  }

  /**
   * The rest of admit() when the proxy could not admit alone: `first` is what the budget decided
   * without Redis (a refusal, or an admission a shadow budget would have refused), or null to ask Redis.
   */
  private async admitAfter(first: Admission | null, budget: TokenBudget, prepared: PreparedRequest, enforced: readonly BudgetPolicy[], upperBound: number, exactFirst = false): Promise<MeterRefusal | null> {
    const budgets = this.budgets;
    const explicit = prepared.maxCompletionTokens;
    let admission = exactFirst ? null : (first ?? (await budget.admit(budgets, upperBound, this.completionFor(enforced, explicit, upperBound))));
    if (admission === null || (!admission.admitted && !admission.unavailable && (admission.refused !== 'completion' || explicit === null))) {
      const exact = await this.deps.counter.countPrompt(this.service.provider.id, this.providerPath, prepared.json, prepared.model, prepared.body);
      this.exactPrompt = exact;
      for (const policy of enforced) {
        if (policy.maxPromptTokens !== null && exact > policy.maxPromptTokens) {
          return this.tooLarge(budget, policy, 'prompt', `The prompt has ${exact} tokens, more than ${budgetName(policy)} of ${policy.maxPromptTokens} prompt tokens per ${policy.timeUnit.toLowerCase()}.`);
        }
        if (policy.maxTotalTokens !== null && exact + (explicit ?? 0) > policy.maxTotalTokens) {
          const allows = explicit === null ? '' : ` and allows ${explicit} completion tokens`;
          return this.tooLarge(budget, policy, 'total', `The prompt has ${exact} tokens${allows}, more than ${budgetName(policy)} of ${policy.maxTotalTokens} total tokens per ${policy.timeUnit.toLowerCase()}.`);
        }
      }
      admission = await budget.admit(budgets, exact, this.completionFor(enforced, explicit, exact));
    }
    if (!admission.admitted) return budgetRefusal(admission, this.service.id, this.deps);
    if (this.finished !== null) {
      // The exchange ended (the client left) while the admission was being decided: finish() found no
      // reservation to settle, and nothing will be forwarded. Give every token back.
      void budget.settle(admission.reservation, { prompt: 0, completion: 0 });
      return null;
    }
    this.reservation = admission.reservation;
    this.views = admission.views;
    let would = admission.wouldHaveRefused;
    if (would !== null && this.exactPrompt === null) {
      // Judged on the prompt's upper bound: an enforced budget would have counted exactly before refusing.
      const exact = await this.deps.counter.countPrompt(this.service.provider.id, this.providerPath, prepared.json, prepared.model, prepared.body);
      this.exactPrompt = exact;
      would = shadowVerdict(admission.views, upperBound - exact);
    }
    this.wouldHaveRefused = would;
    if (would !== null) this.deps.onWouldHaveRefused?.(this.service.id, would.scope, would.dimension);
    return null;
  }

  /**
   * Stream cut-off (opt-in per service environment): the completion tokens this streamed request may
   * produce before an enforced completion or total budget runs out, as its admission saw the window
   * (its own reservation included). null: no cut-off applies (the service has it off, the request is
   * not streamed, the client set its own max tokens, or no enforced budget limits completions).
   */
  get cutoffAllowance(): number | null {
    const { prepared, views, reservation } = this;
    if (!this.service.streamCutoff || prepared === null || !prepared.stream || prepared.maxCompletionTokens !== null) return null;
    if (views === null || reservation === null) return null;
    let allowance = Infinity;
    for (const { policy, used } of views) {
      if (policy.shadow === true) continue;
      if (policy.maxCompletionTokens !== null) allowance = Math.min(allowance, reservation.completion + policy.maxCompletionTokens - used.completion);
      if (policy.maxTotalTokens !== null) allowance = Math.min(allowance, reservation.completion + policy.maxTotalTokens - used.total);
    }
    return allowance === Infinity ? null : Math.max(0, allowance);
  }

  /** Sets the x-ratelimit-* headers of an admitted request to a rate-limited service on `headers` (none otherwise). */
  addResponseHeaders(headers: Record<string, unknown>): void {
    if (this.views !== null) rateLimitHeaders(this.views, (this.deps.now ?? Date.now)(), headers);
  }

  /**
   * The observer for the upstream response. A compressed body is decoded for observation only; one in
   * a coding the proxy cannot decode is forwarded and its usage estimated.
   */
  observe(status: number, headers: ResponseHeaders): ResponseObserver {
    const prepared = this.prepared;
    if (prepared === null) return new PassThroughObserver(NOTHING_TO_COUNT);
    const codings = contentCodings(headers['content-encoding']);
    // Bytes cannot be cut out of a compressed stream: an upstream that compressed despite being asked
    // for identity gets its usage chunk passed on rather than mangled.
    const readable = codings.length > 0 && prepared.stripUsageChunk ? { ...prepared, stripUsageChunk: false } : prepared;
    const inner = this.service.provider.usage.observeResponse(readable, status, headerValue(headers['content-type']), headers);
    let observer = inner;
    if (codings.length > 0 && !(inner instanceof PassThroughObserver)) {
      if (canDecode(codings)) {
        observer = new DecodingObserver(inner, codings);
      } else {
        this.deps.logger.warn({ service: this.service.id, contentEncoding: codings.join(', ') }, 'response in a content coding the proxy cannot decode; its usage is estimated');
        observer = new PassThroughObserver(UNREADABLE);
      }
    }
    this.observer = observer;
    return observer;
  }

  /**
   * Settles and reports the request once, however the exchange ended. `upstreamStatus` is what the
   * provider answered (0 when it never did), `clientStatus` what the client was answered, `ending` how
   * the upstream response ended (with the observer's result, it decides the status recorded: see
   * `recordedStatus`). Resolves when the budget reflects the usage (or it is queued), with what was
   * charged (null when settling failed); never rejects. When nothing had to be waited for, it is
   * settled on return: see `settled`.
   */
  finish(upstreamStatus: number, clientStatus: number, ending: ResponseEnding = 'other'): Promise<SettledRequest | null> {
    if (this.finished === null) {
      this.ending = ending;
      let outcome: SettledRequest | Promise<SettledRequest>;
      try {
        outcome = this.settle(upstreamStatus, clientStatus);
      } catch (error) {
        outcome = Promise.reject(error);
      }
      if (outcome instanceof Promise) {
        this.finished = outcome.catch((error: unknown) => this.settlementFailed(error));
      } else {
        this.settledNow = outcome;
        this.finished = Promise.resolve(outcome);
      }
    }
    return this.finished;
  }

  /**
   * What finish() settled on return: the usage was read already (no decoding in flight), needed no
   * count, and the budgets need no wait (the correction only gave tokens back to a lease). Undefined
   * until then, and for a settlement that waits (its promise then carries the result).
   */
  get settled(): SettledRequest | undefined {
    return this.settledNow;
  }

  /**
   * The status the request was recorded with (its usage report): what the client was answered, or
   * what a 2xx response that failed afterwards stands for (ADR 021). Null until it is reported.
   */
  get recordedStatus(): number | null {
    return this.recorded;
  }

  private settle(upstreamStatus: number, clientStatus: number): SettledRequest | Promise<SettledRequest> {
    const drained = this.observer?.drained?.() ?? null;
    if (drained !== null) return drained.then(() => this.settleObserved(upstreamStatus, clientStatus));
    return this.settleObserved(upstreamStatus, clientStatus);
  }

  private settleObserved(upstreamStatus: number, clientStatus: number): SettledRequest | Promise<SettledRequest> {
    const seen = this.observer?.result() ?? null;
    const prepared = this.prepared;
    const charges = this.deps.responseCharges;
    if (seen?.jobs !== undefined && seen.jobs.length > 0 && charges !== undefined && charges !== null) return this.chargeJobs(charges, seen.jobs, seen, clientStatus);
    if (seen?.usage) return this.chargeResponse(seen.usage, seen, clientStatus, true);
    // The provider never answered, or refused: it processed (and bills) nothing.
    if (seen === null || prepared === null || upstreamStatus < 200 || upstreamStatus >= 300) return this.charge(ZERO, seen, clientStatus);
    // Answered without reporting usage (a stream cut short, the client gone, a provider that omits it): count.
    // The provider billed this request: a count that fails (the tokenizer worker crashed, or closed)
    // falls back to an estimate rather than leave it unrecorded and its reservation standing.
    return this.count(seen, prepared)
      .catch((error: unknown) => {
        this.deps.logger.warn({ service: this.service.id, err: error instanceof Error ? error.message : String(error) }, 'counting an answered request failed; its usage is estimated');
        return this.estimate(seen, prepared);
      })
      .then((usage) => this.chargeResponse(usage, seen, clientStatus, false));
  }

  /**
   * charge(), for usage that a job may show to other requests too (ObservedUsage.jobId: its final
   * usage, or the count of a stream of it cut before that): charged what the shared record leaves.
   */
  private chargeResponse(usage: TokenUsage, seen: ObservedUsage, clientStatus: number, final: boolean): SettledRequest | Promise<SettledRequest> {
    const { jobId } = seen;
    const charges = this.deps.responseCharges;
    if (jobId === undefined || charges === undefined || charges === null) return this.charge(usage, seen, clientStatus);
    return charges.charge(this.service.id, jobId, usage, final).then((left) => this.charge(left, seen, clientStatus));
  }

  /** charge(), for a list of finished jobs (ObservedUsage.jobs): each charged once by its id, what is left of them summed. */
  private chargeJobs(charges: ResponseCharges, jobs: NonNullable<ObservedUsage['jobs']>, seen: ObservedUsage, clientStatus: number): Promise<SettledRequest> {
    return Promise.all(jobs.map((job) => charges.charge(this.service.id, job.id, job.usage, true))).then((left) => this.charge(left.reduce(addUsage, ZERO), seen, clientStatus));
  }

  /** Without the tokenizer: what was reported or counted already, else ~4 UTF-8 bytes a token (prompt: the whole body). */
  private estimate(seen: ObservedUsage, prepared: PreparedRequest): TokenUsage {
    const promptTokens = seen.reportedPromptTokens ?? this.exactPrompt ?? Math.ceil(prepared.body.length / ESTIMATED_BYTES_PER_TOKEN);
    return tokenUsage(promptTokens, Math.ceil(Buffer.byteLength(seen.completionText, 'utf8') / ESTIMATED_BYTES_PER_TOKEN), reportedCache(seen));
  }

  private async count(seen: ObservedUsage, prepared: PreparedRequest): Promise<TokenUsage> {
    const { counter } = this.deps;
    const prompt = seen.reportedPromptTokens ?? this.exactPrompt ?? (await counter.countPrompt(this.service.provider.id, this.providerPath, prepared.json, prepared.model, prepared.body));
    const completion = seen.completionText === '' ? 0 : await counter.countText(this.service.provider.id, prepared.model, seen.completionText);
    return tokenUsage(prompt, completion, reportedCache(seen));
  }

  /** Settles the reservation (if any) with `usage` and reports it; waits only for what the budget needs waited for. */
  private charge(usage: TokenUsage, seen: ObservedUsage | null, clientStatus: number): SettledRequest | Promise<SettledRequest> {
    const prepared = this.prepared;
    // Tokens are charged as the provider reported or the proxy counted them, whatever the outcome.
    const status = recordedStatus(clientStatus, this.ending, seen, prepared?.stream === true);
    this.recorded = status;
    const applied = this.reservation === null ? null : (this.deps.budget?.settle(this.reservation, { prompt: usage.promptTokens, completion: usage.completionTokens }) ?? null);
    const responseModel = seen?.responseModel ?? null;
    this.deps.reporter.record({
      serviceId: this.service.id,
      organizationId: this.service.organizationId,
      projectId: this.grant.projectId,
      connectionId: this.grant.connectionId,
      operation: prepared?.operation ?? 'other',
      requestModel: prepared?.model ?? '',
      responseModel: responseModel ?? '',
      usage,
      status,
      wouldHaveRefused: this.wouldHaveRefused !== null,
    });
    const settled: SettledRequest = { responseModel, usage };
    return applied === null ? settled : applied.then(() => settled);
  }

  private settlementFailed(error: unknown): null {
    this.deps.logger.error({ service: this.service.id, err: error instanceof Error ? error.message : String(error) }, 'token settlement failed; the reservation stands');
    return null;
  }

  private tooLarge(budget: TokenBudget, policy: BudgetPolicy, dimension: Dimension, message: string): MeterRefusal {
    const scope = policy.scope ?? 'service';
    this.deps.onRefusal?.(this.service.id, scope, 'request_too_large');
    // The budgets as this proxy last heard of them (the request reserved nothing), like every other answer.
    const headers = rateLimitHeaders(budget.lastKnown(this.budgets), (this.deps.now ?? Date.now)());
    // Waiting cannot help: tell the SDKs not to retry.
    headers['x-should-retry'] = 'false';
    headers['x-tokengate-budget'] = scope;
    headers['x-tokengate-budget-dimension'] = dimension;
    return { status: 429, code: 'request_exceeds_budget', message, headers };
  }
}

/** The cache parts of a prompt the provider reported ahead of its final usage (a stream that ended before it). */
function reportedCache(seen: ObservedUsage): { cachedRead?: number; cachedWrite?: number } {
  if (seen.reportedPromptTokens === undefined || seen.reportedPromptCache === undefined) return {};
  return seen.reportedPromptCache;
}

function headerValue(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.[0];
}
