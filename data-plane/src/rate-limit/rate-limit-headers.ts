// x-ratelimit-* response headers for each limited dimension (OpenAI's names; the prompt and
// completion budgets get their own variants), computed from the admission's view of each budget's window.
import type { BudgetView, Dimension } from './token-budget';

const SUFFIX: Record<Dimension, string> = { total: 'tokens', prompt: 'prompt-tokens', completion: 'completion-tokens' };

/** Seconds as OpenAI writes durations: "45s", "6m0s", "1h2m3s". */
export function formatResetDuration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (hours > 0) return `${hours}h${minutes}m${rest}s`;
  if (minutes > 0) return `${minutes}m${rest}s`;
  return `${rest}s`;
}

/**
 * For each dimension some enforced budget limits, the headers of the tightest one (least remaining;
 * on a tie the one that resets last). Shadow budgets are not reported: they limit nothing.
 */
export function rateLimitHeaders(views: readonly BudgetView[], nowMs: number): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const dimension of ['total', 'prompt', 'completion'] as const) {
    let tightest: { limit: number; remaining: number; end: number } | null = null;
    for (const view of views) {
      if (view.policy.shadow === true) continue;
      const limit = dimension === 'total' ? view.policy.maxTotalTokens : dimension === 'prompt' ? view.policy.maxPromptTokens : view.policy.maxCompletionTokens;
      if (limit === null) continue;
      const remaining = Math.max(0, limit - view.used[dimension]);
      if (tightest === null || remaining < tightest.remaining || (remaining === tightest.remaining && view.window.end > tightest.end)) {
        tightest = { limit, remaining, end: view.window.end };
      }
    }
    if (tightest === null) continue;
    const suffix = SUFFIX[dimension];
    headers[`x-ratelimit-limit-${suffix}`] = String(tightest.limit);
    headers[`x-ratelimit-remaining-${suffix}`] = String(tightest.remaining);
    headers[`x-ratelimit-reset-${suffix}`] = formatResetDuration((tightest.end - nowMs) / 1000);
  }
  return headers;
}
