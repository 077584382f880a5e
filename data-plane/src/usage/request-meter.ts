// Token accounting of one proxied request, for every service: the request body is read for its model,
// operation and limits; a rate-limited service admits it against its budget (reserve a cheap upper
// bound of the prompt, count exactly only when that does not fit); the response is observed (decoded
// for observation when compressed); and the usage the provider reported (or, failing that, the
// proxy's count) settles the reservation and is reported with the request's dimensions.
import type { Logger } from 'pino';
import type { TokengateErrorCode } from '../providers/provider-adapter';
import { type PreparedRequest, RequestBodyError, type ResponseHeaders, type ResponseObserver, type TokenUsage } from '../providers/usage-accounting';
import { NOTHING_TO_COUNT, PassThroughObserver } from '../providers/shared/usage-tally';
import { canDecode, contentCodings } from '../proxy/content-encoding';
import type { ConsumerKeyGrant } from '../snapshot/consumer-key-index';
import type { CompiledService, RateLimitPolicy } from '../snapshot/compiled-snapshot';
import { promptUpperBound } from '../tokens/prompt-tokens';
import type { TokenCounter } from '../tokens/token-counter';
import { rateLimitHeaders } from '../rate-limit/rate-limit-headers';
import type { BudgetPolicy, BudgetView, Reservation, TokenBudget } from '../rate-limit/token-budget';
import { DecodingObserver } from './decoding-observer';
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
  /** Completion tokens reserved when the request sets no limit of its own. */
  readonly defaultCompletionTokens: number;
  readonly logger: Logger;
  readonly onRefusal?: (serviceId: string, dimension: string) => void;
  readonly now?: () => number;
}

/** A request the proxy answers itself, in the provider's error format. */
export interface MeterRefusal {
  readonly status: number;
  readonly code: TokengateErrorCode;
  readonly message: string;
  readonly headers: Record<string, string>;
}

function budgetPolicy(serviceId: string, policy: RateLimitPolicy): BudgetPolicy {
  const num = (value: bigint | null) => (value === null ? null : Number(value));
  return { serviceId, timeUnit: policy.timeUnit, maxPromptTokens: num(policy.maxPromptTokens), maxCompletionTokens: num(policy.maxCompletionTokens), maxTotalTokens: num(policy.maxTotalTokens), shadow: policy.shadow };
}

const ZERO: TokenUsage = Object.freeze({ promptTokens: 0, completionTokens: 0 });
/** The result for a response in a coding the proxy cannot decode: estimated from the prompt. */
const UNREADABLE: ReturnType<ResponseObserver['result']> = Object.freeze({ usage: null, completionText: '', complete: false });

/** Created per exchange and owned by it; not shared. */
export class RequestMeter {
  /** Set by prepare(). */
  prepared: PreparedRequest | null = null;
  private reservation: Reservation | null = null;
  private view: BudgetView | null = null;
  private exactPrompt: number | null = null;
  private observer: ResponseObserver | null = null;
  private finished: Promise<SettledRequest | null> | null = null;

  constructor(
    private readonly deps: MeterDependencies,
    private readonly service: CompiledService,
    private readonly grant: ConsumerKeyGrant,
    private readonly providerPath: string,
  ) {}

  /** True when the service's budget is enforced on this request. */
  get limited(): boolean {
    return this.service.rateLimit !== null && this.deps.budget !== null;
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

  /** Reserves the request's tokens on a rate-limited service; a refusal when they do not fit. */
  async admit(): Promise<MeterRefusal | null> {
    const budget = this.deps.budget;
    const prepared = this.prepared;
    const rateLimit = this.service.rateLimit;
    if (budget === null || prepared === null || rateLimit === null) return null;
    const now = this.deps.now ?? Date.now;
    const policy = budgetPolicy(this.service.id, rateLimit);
    const explicit = prepared.maxCompletionTokens;
    // Without max_tokens & co. the default is reserved, trimmed so that prompt and completion can fit the total budget.
    const completionFor = (prompt: number) =>
      explicit ?? Math.max(0, Math.min(this.deps.defaultCompletionTokens, policy.maxCompletionTokens ?? Infinity, (policy.maxTotalTokens ?? Infinity) - prompt));
    if (explicit !== null && policy.maxCompletionTokens !== null && explicit > policy.maxCompletionTokens) {
      return this.tooLarge(`The request allows ${explicit} completion tokens, more than this service's whole budget of ${policy.maxCompletionTokens} completion tokens per ${policy.timeUnit.toLowerCase()}.`);
    }

    // Far from the boundary the upper bound fits and nothing is tokenized; close to it the exact count decides.
    const upperBound = promptUpperBound(prepared.body.length);
    let admission = await budget.admit(policy, upperBound, completionFor(upperBound));
    if (!admission.admitted && (admission.refused !== 'completion' || explicit === null)) {
      const exact = await this.deps.counter.countPrompt(this.service.provider.id, this.providerPath, prepared.json, prepared.model);
      this.exactPrompt = exact;
      if (policy.maxPromptTokens !== null && exact > policy.maxPromptTokens) {
        return this.tooLarge(`The prompt has ${exact} tokens, more than this service's whole budget of ${policy.maxPromptTokens} prompt tokens per ${policy.timeUnit.toLowerCase()}.`);
      }
      if (policy.maxTotalTokens !== null && exact + (explicit ?? 0) > policy.maxTotalTokens) {
        return this.tooLarge(`The prompt has ${exact} tokens${explicit === null ? '' : ` and allows ${explicit} completion tokens`}, more than this service's whole budget of ${policy.maxTotalTokens} total tokens per ${policy.timeUnit.toLowerCase()}.`);
      }
      admission = await budget.admit(policy, exact, completionFor(exact));
    }
    if (!admission.admitted) {
      this.deps.onRefusal?.(this.service.id, admission.refused);
      const headers = rateLimitHeaders(admission.view, now());
      headers['retry-after'] = String(admission.retryAfterSeconds);
      return {
        status: 429,
        code: 'rate_limited',
        message: `Token rate limit reached for this service: the ${admission.refused} token budget of this ${policy.timeUnit.toLowerCase()} is used up. Retry after ${admission.retryAfterSeconds} s.`,
        headers,
      };
    }
    this.reservation = admission.reservation;
    this.view = admission.view;
    return null;
  }

  /**
   * Stream cut-off (opt-in per service environment): the completion tokens this streamed request may
   * produce before an enforced completion or total budget runs out, as its admission saw the window
   * (its own reservation included). null: no cut-off applies (the service has it off, the request is
   * not streamed, the client set its own max tokens, or no enforced budget limits completions).
   */
  get cutoffAllowance(): number | null {
    const { prepared, view, reservation } = this;
    if (!this.service.streamCutoff || prepared === null || !prepared.stream || prepared.maxCompletionTokens !== null) return null;
    if (view === null || reservation === null || view.policy.shadow === true) return null;
    const { maxCompletionTokens, maxTotalTokens } = view.policy;
    let allowance = Infinity;
    if (maxCompletionTokens !== null) allowance = Math.min(allowance, reservation.completion + maxCompletionTokens - view.used.completion);
    if (maxTotalTokens !== null) allowance = Math.min(allowance, reservation.completion + maxTotalTokens - view.used.total);
    return allowance === Infinity ? null : Math.max(0, allowance);
  }

  /** The x-ratelimit-* headers of an admitted request to a rate-limited service, else none. */
  responseHeaders(): Record<string, string> | null {
    return this.view === null ? null : rateLimitHeaders(this.view, (this.deps.now ?? Date.now)());
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
   * provider answered (0 when it never did), `clientStatus` what the client was answered. Resolves when
   * the budget reflects the usage (or it is queued), with what was charged (null when settling
   * failed); never rejects.
   */
  finish(upstreamStatus: number, clientStatus: number): Promise<SettledRequest | null> {
    this.finished ??= this.settle(upstreamStatus, clientStatus).catch((error: unknown) => {
      this.deps.logger.error({ service: this.service.id, err: error instanceof Error ? error.message : String(error) }, 'token settlement failed; the reservation stands');
      return null;
    });
    return this.finished;
  }

  private async settle(upstreamStatus: number, clientStatus: number): Promise<SettledRequest> {
    const observer = this.observer;
    if (observer?.drained !== undefined) await observer.drained();
    const seen = observer?.result() ?? null;
    const prepared = this.prepared;
    let usage: TokenUsage;
    if (seen?.usage) {
      usage = seen.usage;
    } else if (seen === null || prepared === null || upstreamStatus < 200 || upstreamStatus >= 300) {
      // The provider never answered, or refused: it processed (and bills) nothing.
      usage = ZERO;
    } else {
      // Answered without reporting usage (a stream cut short, the client gone, a provider that omits it): count.
      const { counter } = this.deps;
      const prompt = seen.reportedPromptTokens ?? this.exactPrompt ?? (await counter.countPrompt(this.service.provider.id, this.providerPath, prepared.json, prepared.model));
      const completion = seen.completionText === '' ? 0 : await counter.countText(this.service.provider.id, prepared.model, seen.completionText);
      usage = { promptTokens: prompt, completionTokens: completion };
    }
    const settled = this.reservation === null ? null : this.deps.budget?.settle(this.reservation, { prompt: usage.promptTokens, completion: usage.completionTokens });
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
      status: clientStatus,
    });
    await settled;
    return { responseModel, usage };
  }

  private tooLarge(message: string): MeterRefusal {
    this.deps.onRefusal?.(this.service.id, 'request_too_large');
    // Waiting cannot help: tell the SDKs not to retry.
    return { status: 429, code: 'request_exceeds_budget', message, headers: { 'x-should-retry': 'false' } };
  }
}

function headerValue(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.[0];
}
