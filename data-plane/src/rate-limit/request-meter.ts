// Token accounting of one request to a rate-limited service: admission before forwarding (reserve a
// cheap upper bound of the prompt, count exactly only when that does not fit), response observation,
// and settlement with the usage the provider reported (or the proxy counted).
import type { Logger } from 'pino';
import type { TokengateErrorCode } from '../providers/provider-adapter';
import { type PreparedRequest, RequestBodyError, type ResponseHeaders, type ResponseObserver, type TokenUsage } from '../providers/usage-accounting';
import type { CompiledService, RateLimitPolicy } from '../snapshot/compiled-snapshot';
import { promptUpperBound } from '../tokens/prompt-tokens';
import type { TokenCounter } from '../tokens/token-counter';
import { rateLimitHeaders } from './rate-limit-headers';
import type { BudgetPolicy, BudgetView, Reservation, TokenBudget } from './token-budget';
import type { UsageReporter } from './usage-reporter';

export interface MeterDependencies {
  readonly budget: TokenBudget;
  readonly counter: TokenCounter;
  readonly reporter: UsageReporter;
  /** Completion tokens reserved when the request sets no limit of its own. */
  readonly defaultCompletionTokens: number;
  readonly logger: Logger;
  readonly onRefusal?: (serviceId: string, dimension: string) => void;
  readonly onUsage?: (service: CompiledService, usage: TokenUsage) => void;
  readonly now?: () => number;
}

export type MeterDecision =
  | { readonly kind: 'admitted'; readonly meter: RequestMeter }
  | { readonly kind: 'refused'; readonly status: number; readonly code: TokengateErrorCode; readonly message: string; readonly headers: Record<string, string> };

function budgetPolicy(serviceId: string, policy: RateLimitPolicy): BudgetPolicy {
  const num = (value: bigint | null) => (value === null ? null : Number(value));
  return { serviceId, timeUnit: policy.timeUnit, maxPromptTokens: num(policy.maxPromptTokens), maxCompletionTokens: num(policy.maxCompletionTokens), maxTotalTokens: num(policy.maxTotalTokens) };
}

/** Decides whether a request to a rate-limited service may go upstream, and reserves its tokens. */
export async function meterRequest(
  deps: MeterDependencies,
  service: CompiledService,
  connectionId: string,
  providerPath: string,
  body: Buffer,
  contentType: string | undefined,
  query: string,
): Promise<MeterDecision> {
  const now = deps.now ?? Date.now;
  const policy = budgetPolicy(service.id, service.rateLimit!);
  let prepared: PreparedRequest;
  try {
    prepared = service.provider.usage.prepareRequest(providerPath, body, contentType, query);
  } catch (error) {
    if (error instanceof RequestBodyError) return { kind: 'refused', status: 400, code: 'bad_request', message: error.message, headers: {} };
    throw error;
  }
  const explicit = prepared.maxCompletionTokens;
  // Without max_tokens & co. the default is reserved, trimmed so that prompt and completion can fit the total budget.
  const completionFor = (prompt: number) =>
    explicit ?? Math.max(0, Math.min(deps.defaultCompletionTokens, policy.maxCompletionTokens ?? Infinity, (policy.maxTotalTokens ?? Infinity) - prompt));
  if (explicit !== null && policy.maxCompletionTokens !== null && explicit > policy.maxCompletionTokens) {
    return tooLarge(`The request allows ${explicit} completion tokens, more than this service's whole budget of ${policy.maxCompletionTokens} completion tokens per ${policy.timeUnit.toLowerCase()}.`);
  }

  // Far from the boundary the upper bound fits and nothing is tokenized; close to it the exact count decides.
  const upperBound = promptUpperBound(prepared.body.length);
  let admission = await deps.budget.admit(policy, upperBound, completionFor(upperBound));
  let exactPrompt: number | null = null;
  if (!admission.admitted && (admission.refused !== 'completion' || explicit === null)) {
    const exact = await deps.counter.countPrompt(service.provider.id, providerPath, prepared.json, prepared.model);
    exactPrompt = exact;
    if (policy.maxPromptTokens !== null && exact > policy.maxPromptTokens) {
      return tooLarge(`The prompt has ${exact} tokens, more than this service's whole budget of ${policy.maxPromptTokens} prompt tokens per ${policy.timeUnit.toLowerCase()}.`);
    }
    if (policy.maxTotalTokens !== null && exact + (explicit ?? 0) > policy.maxTotalTokens) {
      return tooLarge(`The prompt has ${exact} tokens${explicit === null ? '' : ` and allows ${explicit} completion tokens`}, more than this service's whole budget of ${policy.maxTotalTokens} total tokens per ${policy.timeUnit.toLowerCase()}.`);
    }
    admission = await deps.budget.admit(policy, exact, completionFor(exact));
  }
  if (!admission.admitted) {
    deps.onRefusal?.(service.id, admission.refused);
    const headers = rateLimitHeaders(admission.view, now());
    headers['retry-after'] = String(admission.retryAfterSeconds);
    return {
      kind: 'refused',
      status: 429,
      code: 'rate_limited',
      message: `Token rate limit reached for this service: the ${admission.refused} token budget of this ${policy.timeUnit.toLowerCase()} is used up. Retry after ${admission.retryAfterSeconds} s.`,
      headers,
    };
  }
  return { kind: 'admitted', meter: new RequestMeter(deps, service, policy, connectionId, providerPath, prepared, admission.reservation, admission.view, exactPrompt) };

  function tooLarge(message: string): MeterDecision {
    deps.onRefusal?.(service.id, 'request_too_large');
    // Waiting cannot help: tell the SDKs not to retry.
    return { kind: 'refused', status: 429, code: 'request_exceeds_budget', message, headers: { 'x-should-retry': 'false' } };
  }
}

export class RequestMeter {
  private observer: ResponseObserver | null = null;
  private finished: Promise<void> | null = null;

  constructor(
    private readonly deps: MeterDependencies,
    private readonly service: CompiledService,
    private readonly policy: BudgetPolicy,
    private readonly connectionId: string,
    private readonly providerPath: string,
    readonly prepared: PreparedRequest,
    private readonly reservation: Reservation,
    private readonly view: BudgetView,
    private readonly exactPrompt: number | null,
  ) {}

  responseHeaders(): Record<string, string> {
    return rateLimitHeaders(this.view, (this.deps.now ?? Date.now)());
  }

  observe(status: number, contentType: string | undefined, headers: ResponseHeaders): ResponseObserver {
    const observer = this.service.provider.usage.observeResponse(this.prepared, status, contentType, headers);
    this.observer = observer;
    return observer;
  }

  /**
   * Settles the reservation once, however the exchange ended. `status` is what the provider answered
   * (0 when it never did). Resolves when the budget reflects the usage (or it is queued); never rejects.
   */
  finish(status: number): Promise<void> {
    this.finished ??= this.settle(status).catch((error: unknown) => {
      this.deps.logger.error({ service: this.service.id, err: error instanceof Error ? error.message : String(error) }, 'token settlement failed; the reservation stands');
    });
    return this.finished;
  }

  private async settle(status: number): Promise<void> {
    const seen = this.observer?.result() ?? null;
    let usage: TokenUsage;
    if (seen?.usage) {
      usage = seen.usage;
    } else if (seen === null || status < 200 || status >= 300) {
      // The provider never answered, or refused: it processed (and bills) nothing.
      usage = { promptTokens: 0, completionTokens: 0 };
    } else {
      // Answered without reporting usage (a stream cut short, the client gone, a provider that omits it): count.
      const { counter } = this.deps;
      const prompt = seen.reportedPromptTokens ?? this.exactPrompt ?? (await counter.countPrompt(this.service.provider.id, this.providerPath, this.prepared.json, this.prepared.model));
      const completion = seen.completionText === '' ? 0 : await counter.countText(this.service.provider.id, this.prepared.model, seen.completionText);
      usage = { promptTokens: prompt, completionTokens: completion };
    }
    const settled = this.deps.budget.settle(this.reservation, { prompt: usage.promptTokens, completion: usage.completionTokens });
    if (usage.promptTokens > 0 || usage.completionTokens > 0 || (status >= 200 && status < 300)) {
      this.deps.reporter.record(this.service.id, this.connectionId, this.policy.timeUnit, this.reservation.window.start, { prompt: usage.promptTokens, completion: usage.completionTokens });
    }
    this.deps.onUsage?.(this.service, usage);
    await settled;
  }
}
