// The operation an Anthropic path names, read once for usage accounting and for prompt counting.
import type { UsageOperation } from '../usage-accounting';

/** Messages (and its count_tokens sibling) or the legacy Text Completions API. */
export function anthropicOperation(providerPath: string): UsageOperation {
  if (/\/messages\/count_tokens\/?$/.test(providerPath)) return 'count_tokens';
  if (/\/messages\/?$/.test(providerPath)) return 'messages';
  if (/\/complete\/?$/.test(providerPath)) return 'completions';
  return 'other';
}
