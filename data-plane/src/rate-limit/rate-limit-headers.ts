// x-ratelimit-* response headers for each limited dimension (OpenAI's names; the prompt and
// completion budgets get their own variants), computed from the admission's view of each budget's window.
import type { BudgetView, Dimension } from './token-budget';

/** Header names per dimension, built once (names joined per request cost a flatten and a hash each). */
const NAMES: Readonly<Record<Dimension, { readonly limit: string; readonly remaining: string; readonly reset: string }>> = {
  total: names('tokens'),
  prompt: names('prompt-tokens'),
  completion: names('completion-tokens'),
};
const DIMENSIONS = ['total', 'prompt', 'completion'] as const;

function names(suffix: string): { limit: string; remaining: string; reset: string } {
  return { limit: `x-ratelimit-limit-${suffix}`, remaining: `x-ratelimit-remaining-${suffix}`, reset: `x-ratelimit-reset-${suffix}` };
}

/** The last duration formatted: every request of the same second (and window length) reuses it. */
let lastFormatted = { seconds: -1, text: '' };

/** Seconds as OpenAI writes durations: "45s", "6m0s", "1h2m3s". */
export function formatResetDuration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s === lastFormatted.seconds) return lastFormatted.text;
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  const text = hours > 0 ? `${hours}h${minutes}m${rest}s` : minutes > 0 ? `${minutes}m${rest}s` : `${rest}s`;
  lastFormatted = { seconds: s, text };
  return text;
}

/**
 * For each dimension some enforced budget limits, the headers of the tightest one (least remaining;
 * on a tie the one that resets last), set on `into` (a new object by default). Shadow budgets are not
 * reported: they limit nothing.
 */
export function rateLimitHeaders(views: readonly BudgetView[], nowMs: number, into: Record<string, unknown> = {}): Record<string, string> {
  const headers = into as Record<string, string>;
  for (const dimension of DIMENSIONS) {
    let tightest: BudgetView | null = null;
    let tightestLimit = 0;
    let tightestRemaining = 0;
    for (const view of views) {
      if (view.policy.shadow === true) continue;
      const limit = dimension === 'total' ? view.policy.maxTotalTokens : dimension === 'prompt' ? view.policy.maxPromptTokens : view.policy.maxCompletionTokens;
      if (limit === null) continue;
      const remaining = Math.max(0, limit - view.used[dimension]);
      if (tightest === null || remaining < tightestRemaining || (remaining === tightestRemaining && view.window.end > tightest.window.end)) {
        tightest = view;
        tightestLimit = limit;
        tightestRemaining = remaining;
      }
    }
    if (tightest === null) continue;
    const name = NAMES[dimension];
    headers[name.limit] = String(tightestLimit);
    headers[name.remaining] = String(tightestRemaining);
    headers[name.reset] = formatResetDuration((tightest.window.end - nowMs) / 1000);
  }
  return headers;
}
