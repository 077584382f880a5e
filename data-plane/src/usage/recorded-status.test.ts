import type { ObservedUsage } from '../providers/usage-accounting';
import { anthropicErrorStatus } from '../providers/anthropic/anthropic-error';
import { bedrockExceptionStatus } from '../providers/aws-bedrock/bedrock-error';
import { openAiStreamErrorStatus } from '../providers/shared/openai-compatible-stream-error';
import { recordedStatus } from './recorded-status';

const whole: ObservedUsage = { usage: { promptTokens: 3, completionTokens: 2 }, completionText: '', complete: true };
const short: ObservedUsage = { usage: null, completionText: 'Hel', complete: false };

describe('recordedStatus', () => {
  it('records a non-2xx answer as answered, whatever the stream', () => {
    for (const status of [400, 429, 499, 502, 504, 0]) expect(recordedStatus(status, 'other', null, true)).toBe(status);
    expect(recordedStatus(429, 'ended', { ...short, streamError: 529 }, true)).toBe(429);
  });

  it('records a 2xx stream that carried the provider error as that error, however it ended (the SDKs hang up on it)', () => {
    for (const ending of ['ended', 'broken', 'timed-out', 'other'] as const) expect(recordedStatus(200, ending, { ...short, streamError: 529 }, true)).toBe(529);
    // response.failed ends the stream properly, and is still a failure.
    expect(recordedStatus(200, 'ended', { ...whole, streamError: 500 }, true)).toBe(500);
  });

  it('records a response the provider broke after its headers as 502, one the idle timeout cut as 504', () => {
    expect(recordedStatus(200, 'broken', short, true)).toBe(502);
    expect(recordedStatus(200, 'broken', short, false)).toBe(502);
    expect(recordedStatus(200, 'timed-out', short, true)).toBe(504);
  });

  it('records a stream that ended without its terminator as 502, unless the observer could not read it', () => {
    expect(recordedStatus(200, 'ended', short, true)).toBe(502);
    expect(recordedStatus(200, 'ended', { ...short, unreadable: true }, true)).toBe(200);
    expect(recordedStatus(200, 'ended', whole, true)).toBe(200);
    // Only streams have a terminator: a JSON body the observer could not parse is not judged.
    expect(recordedStatus(200, 'ended', short, false)).toBe(200);
  });

  it('does not blame the provider for a stream the client left or the proxy cut off at the budget', () => {
    expect(recordedStatus(200, 'other', short, true)).toBe(200);
    expect(recordedStatus(200, 'other', null, true)).toBe(200);
  });
});

describe('provider errors in a stream, as statuses', () => {
  it.each([
    ['overloaded_error', 529],
    ['api_error', 500],
    ['rate_limit_error', 429],
    ['invalid_request_error', 400],
    ['authentication_error', 401],
    ['permission_error', 403],
    ['not_found_error', 404],
    ['request_too_large', 413],
    ['timeout_error', 504],
    ['billing_error', 402],
    ['something_new', 500],
    [undefined, 500],
  ])('Anthropic %s → %i', (type, status) => {
    expect(anthropicErrorStatus(type)).toBe(status);
  });

  it.each([
    ['throttlingException', 429],
    ['ThrottlingException', 429],
    ['modelStreamErrorException', 424],
    ['internalServerException', 500],
    ['serviceUnavailableException', 503],
    ['validationException', 400],
    ['modelTimeoutException', 408],
    ['accessDeniedException', 403],
    ['unknownException', 500],
    ['', 500],
    [null, 500],
  ])('Bedrock %s → %i', (type, status) => {
    expect(bedrockExceptionStatus(type)).toBe(status);
  });

  it.each([
    [{ message: 'x', type: 'server_error', code: null }, 500],
    [{ message: 'x', type: 'tokens', code: 'rate_limit_exceeded' }, 429],
    [{ message: 'x', type: 'insufficient_quota', code: 'insufficient_quota' }, 429],
    [{ message: 'x', type: 'invalid_request_error', code: 'context_length_exceeded' }, 400],
    [{ message: 'x', type: 'invalid_request_error', code: null }, 400],
    [{ message: 'x', type: 'invalid_request_error', code: 'invalid_api_key' }, 401],
    [{ message: 'x', code: 'invalid_prompt' }, 400],
    [{ message: 'x', code: 'server_is_overloaded' }, 503],
    [{ message: 'x', code: 'invalid_image_url' }, 400],
    [{ message: 'x', code: 'vector_store_timeout' }, 500],
    [{ type: 'error', code: 'ERR_SOMETHING', message: 'x' }, 500],
    [{ message: 'x', code: 429 }, 429],
    [{ message: 'x', code: '503' }, 503],
    [{ message: 'x', code: 3051, type: 'invalid_request_error' }, 400],
    [null, 500],
    ['oops', 500],
  ])('OpenAI-style %j → %i', (error, status) => {
    expect(openAiStreamErrorStatus(error)).toBe(status);
  });
});
