// x-ratelimit-* response headers for each configured dimension (OpenAI's names; the prompt and
// completion budgets get their own variants), computed from the admission's view of the window.
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

export function rateLimitHeaders(view: BudgetView, nowMs: number): Record<string, string> {
  const headers: Record<string, string> = {};
  const reset = formatResetDuration((view.window.end - nowMs) / 1000);
  const limits: Array<[Dimension, number | null, number]> = [
    ['total', view.policy.maxTotalTokens, view.used.total],
    ['prompt', view.policy.maxPromptTokens, view.used.prompt],
    ['completion', view.policy.maxCompletionTokens, view.used.completion],
  ];
  for (const [dimension, limit, used] of limits) {
    if (limit === null) continue;
    const suffix = SUFFIX[dimension];
    headers[`x-ratelimit-limit-${suffix}`] = String(limit);
    headers[`x-ratelimit-remaining-${suffix}`] = String(Math.max(0, limit - used));
    headers[`x-ratelimit-reset-${suffix}`] = reset;
  }
  return headers;
}
