// Token accounting of one Realtime WebSocket session: the session is admitted once (refused while a
// budget has no token left), and every response's reported usage is then accounted as one request's
// would be — a usage record, a charge to the budgets — when its `response.done` arrives. Nothing is
// reserved ahead: a session's responses are not known before they end, and the provider has spent
// the tokens by the time the proxy hears of them.
import type { TokenUsage } from '../providers/usage-accounting';
import type { Admission, BudgetPolicy, BudgetView, Dimension } from '../rate-limit/token-budget';
import { secondsUntilReset } from '../rate-limit/windows';
import type { ConsumerKeyGrant } from '../snapshot/consumer-key-index';
import type { CompiledService } from '../snapshot/compiled-snapshot';
import { type MeterDependencies, type MeterRefusal, budgetRefusal, budgetsOf } from './request-meter';

/** The first enforced budget with no token left in some dimension, as a refused admission; null when none is used up. */
function usedUp(views: readonly BudgetView[], now: number): Extract<Admission, { admitted: false }> | null {
  for (const view of views) {
    const { policy, used } = view;
    if (policy.shadow === true) continue;
    const full = (limit: number | null, value: number) => limit !== null && value >= limit;
    const dimension: Dimension | null = full(policy.maxPromptTokens, used.prompt) ? 'prompt'
      : full(policy.maxCompletionTokens, used.completion) ? 'completion'
      : full(policy.maxTotalTokens, used.total) ? 'total'
      : null;
    if (dimension !== null) {
      return { admitted: false, refusedBy: policy.scope ?? 'service', refused: dimension, retryAfterSeconds: secondsUntilReset(view.window, now), view, views, unavailable: false };
    }
  }
  return null;
}

/** Created per session and owned by it; not shared. */
export class SessionMeter {
  private readonly budgets: readonly BudgetPolicy[];

  constructor(
    private readonly deps: MeterDependencies,
    private readonly service: CompiledService,
    private readonly grant: ConsumerKeyGrant,
    private readonly requestModel: string,
  ) {
    this.budgets = deps.budget === null ? [] : budgetsOf(service, grant);
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /**
   * Before the upgrade: a 429 when an enforced budget is used up, else null. What this proxy last
   * heard decides first — a lease it still holds would otherwise admit the session into a window its
   * own sessions overdrew — then a probe of one prompt and one completion token, given back at once.
   */
  async admit(): Promise<MeterRefusal | null> {
    const budget = this.deps.budget;
    if (budget === null || this.budgets.length === 0) return null;
    const known = usedUp(budget.lastKnown(this.budgets), this.now());
    if (known !== null) return budgetRefusal(known, this.service.id, this.deps);
    const admission = budget.admitNow(this.budgets, 1, 1) ?? (await budget.admit(this.budgets, 1, 1));
    if (!admission.admitted) return budgetRefusal(admission, this.service.id, this.deps);
    void budget.settle(admission.reservation, { prompt: 0, completion: 0 });
    return null;
  }

  /**
   * Accounts one finished response: reported with the session's dimensions and charged to its
   * budgets. Resolves (never rejects) once the budgets reflect it: with the refusal a new session
   * would get when an enforced budget is used up afterwards (reported through `onRefusal`), else null.
   */
  async charge(usage: TokenUsage, responseModel: string | null): Promise<MeterRefusal | null> {
    this.deps.reporter.record({
      serviceId: this.service.id,
      organizationId: this.service.organizationId,
      projectId: this.grant.projectId,
      connectionId: this.grant.connectionId,
      operation: 'realtime',
      requestModel: this.requestModel,
      responseModel: responseModel ?? '',
      usage,
      status: 200,
      wouldHaveRefused: false,
    });
    const budget = this.deps.budget;
    if (budget === null || this.budgets.length === 0) return null;
    try {
      await budget.charge(this.budgets, { prompt: usage.promptTokens, completion: usage.completionTokens });
    } catch (error) {
      this.deps.logger.error({ service: this.service.id, err: error instanceof Error ? error.message : String(error) }, 'charging a realtime response failed');
      return null;
    }
    const full = usedUp(budget.lastKnown(this.budgets), this.now());
    return full === null ? null : budgetRefusal(full, this.service.id, this.deps);
  }
}
