// A RateLimitPolicy message (a service budget, a connection quota or a key's override) in its runtime form.
import type { RateLimitPolicyMessage } from '../config-stream/wire-types';
import type { RateLimitPolicy } from './compiled-snapshot';

/** Throws (with the field named) on a unit or a max the proxy cannot use; the caller NACKs. */
export function compileRateLimit(policy: RateLimitPolicyMessage): RateLimitPolicy {
  const unit = policy.time_unit;
  if (unit !== 'MINUTE' && unit !== 'HOUR' && unit !== 'DAY') throw new Error(`time_unit ${String(unit)} is not MINUTE, HOUR or DAY`);
  const limit = (value: string, field: string): bigint | null => {
    if (!/^\d+$/.test(value)) throw new Error(`${field} "${value}" is not an unsigned integer`);
    const parsed = BigInt(value);
    return parsed === 0n ? null : parsed;
  };
  return Object.freeze({
    timeUnit: unit,
    maxPromptTokens: limit(policy.max_prompt_tokens, 'max_prompt_tokens'),
    maxCompletionTokens: limit(policy.max_completion_tokens, 'max_completion_tokens'),
    maxTotalTokens: limit(policy.max_total_tokens, 'max_total_tokens'),
    shadow: policy.shadow,
  });
}
