import { TimeUnit } from '../genai-service/provider';
import { rateLimitFromInput, rateLimitPolicy, rateLimitType } from './rate-limit-policy';

describe('rateLimitFromInput', () => {
  it('keeps the maxes given, null for those left out, and reads enforce (default true) as the shadow flag', () => {
    expect(rateLimitFromInput('quota', { timeUnit: TimeUnit.HOUR, maxTotalTokens: 10 })).toEqual({ timeUnit: 'HOUR', maxPromptTokens: null, maxCompletionTokens: null, maxTotalTokens: 10, shadow: false });
    expect(rateLimitFromInput('quota', { timeUnit: TimeUnit.DAY, enforce: null }).shadow).toBe(false);
    expect(rateLimitFromInput('quota', { timeUnit: TimeUnit.DAY, enforce: false }).shadow).toBe(true);
  });

  it('refuses a max that is not a positive integer, naming the field', () => {
    for (const [input, field] of [
      [{ maxPromptTokens: 0 }, 'input.connectionQuota.maxPromptTokens'],
      [{ maxCompletionTokens: -1 }, 'input.connectionQuota.maxCompletionTokens'],
      [{ maxTotalTokens: 2.5 }, 'input.connectionQuota.maxTotalTokens'],
    ] as const) {
      expect(() => rateLimitFromInput('input.connectionQuota', { timeUnit: TimeUnit.MINUTE, ...input })).toThrow(expect.objectContaining({ extensions: { code: 'BAD_USER_INPUT', field } }));
    }
    expect(() => rateLimitFromInput('quota', { timeUnit: undefined as unknown as TimeUnit })).toThrow(expect.objectContaining({ extensions: { code: 'BAD_USER_INPUT', field: 'quota.timeUnit' } }));
  });
});

describe('rateLimitPolicy and rateLimitType', () => {
  const unlimited = { timeUnit: TimeUnit.MINUTE, maxPromptTokens: null, maxCompletionTokens: null, maxTotalTokens: null, shadow: true };

  it('sends a max left out as 0, so a quota without any max is unlimited to the proxy', () => {
    expect(rateLimitPolicy(unlimited)).toEqual({ time_unit: 'MINUTE', max_prompt_tokens: 0, max_completion_tokens: 0, max_total_tokens: 0, shadow: true });
  });

  it('shows shadow mode as enforce: false, and none as null', () => {
    expect(rateLimitType(unlimited)).toEqual({ timeUnit: 'MINUTE', maxPromptTokens: null, maxCompletionTokens: null, maxTotalTokens: null, enforce: false });
    expect(rateLimitType(null)).toBeNull();
  });
});
