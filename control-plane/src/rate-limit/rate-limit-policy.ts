// One token budget (a service's, a service's default connection quota, or a connection's override)
// in the shapes it takes: as validated from GraphQL input and stored, as GraphQL output, as the proto
// RateLimitPolicy the proxies compile.
import { badUserInput } from '../common/errors';
import { validatePositiveTokens } from '../common/validation';
import type { SnapshotRateLimit } from '../config-stream/snapshot.types';
import type { RateLimitInput, RateLimitType } from '../genai-service/genai-service.types';
import { TimeUnit } from '../genai-service/provider';

export interface StoredRateLimit {
  readonly timeUnit: TimeUnit;
  /** null: unlimited in that dimension; all three null: unlimited. */
  readonly maxPromptTokens: number | null;
  readonly maxCompletionTokens: number | null;
  readonly maxTotalTokens: number | null;
  /** Shadow mode: counted, never refuses (GraphQL `enforce: false`). */
  readonly shadow: boolean;
}

/** Validates a RateLimitInput given at `field` (maxes positive integers when given). @throws BAD_USER_INPUT naming the field */
export function rateLimitFromInput(field: string, input: RateLimitInput): StoredRateLimit {
  if (!Object.values(TimeUnit).includes(input.timeUnit)) throw badUserInput(`${field}.timeUnit`, 'is required: MINUTE, HOUR or DAY');
  return {
    timeUnit: input.timeUnit,
    maxPromptTokens: validatePositiveTokens(`${field}.maxPromptTokens`, input.maxPromptTokens),
    maxCompletionTokens: validatePositiveTokens(`${field}.maxCompletionTokens`, input.maxCompletionTokens),
    maxTotalTokens: validatePositiveTokens(`${field}.maxTotalTokens`, input.maxTotalTokens),
    // enforce defaults to true; an explicit null is the default too.
    shadow: input.enforce === false,
  };
}

/** As GraphQL shows it (and as audit details record it). */
export function rateLimitType(limit: StoredRateLimit): RateLimitType;
export function rateLimitType(limit: StoredRateLimit | null): RateLimitType | null;
export function rateLimitType(limit: StoredRateLimit | null): RateLimitType | null {
  if (limit === null) return null;
  return { timeUnit: limit.timeUnit, maxPromptTokens: limit.maxPromptTokens, maxCompletionTokens: limit.maxCompletionTokens, maxTotalTokens: limit.maxTotalTokens, enforce: !limit.shadow };
}

/** The proto policy: a max of 0 is unlimited in that dimension (so every max 0 is an unlimited quota). */
export function rateLimitPolicy(limit: StoredRateLimit): SnapshotRateLimit {
  return {
    time_unit: limit.timeUnit,
    max_prompt_tokens: limit.maxPromptTokens ?? 0,
    max_completion_tokens: limit.maxCompletionTokens ?? 0,
    max_total_tokens: limit.maxTotalTokens ?? 0,
    shadow: limit.shadow,
  };
}

/** The budget whose unit is `timeUnit` (null: none) and whose other fields are these columns. */
export function storedRateLimit(
  timeUnit: TimeUnit | null,
  maxPromptTokens: number | null,
  maxCompletionTokens: number | null,
  maxTotalTokens: number | null,
  shadow: boolean | null,
): StoredRateLimit | null {
  return timeUnit === null ? null : { timeUnit, maxPromptTokens, maxCompletionTokens, maxTotalTokens, shadow: shadow === true };
}
