// Anthropic's error envelope; the SDK raises AuthenticationError, PermissionDeniedError, ... by status.
import type { ErrorResponse, TokengateErrorCode } from '../provider-adapter';

/** Anthropic `error.type` by status, as its API documents them. */
export function anthropicErrorType(status: number): string {
  switch (status) {
    case 401: return 'authentication_error';
    case 403: return 'permission_error';
    case 404: return 'not_found_error';
    case 413: return 'request_too_large';
    case 429: return 'rate_limit_error';
    case 504: return 'timeout_error';
    case 529: return 'overloaded_error';
    default: return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

/** Statuses of Anthropic's documented `error.type`s. */
const STATUS_OF_ERROR_TYPE: ReadonlyMap<string, number> = new Map([
  ['invalid_request_error', 400],
  ['authentication_error', 401],
  ['billing_error', 402],
  ['permission_error', 403],
  ['not_found_error', 404],
  ['request_too_large', 413],
  ['rate_limit_error', 429],
  ['api_error', 500],
  ['timeout_error', 504],
  ['overloaded_error', 529],
]);

/**
 * The status Anthropic answers an `error.type` with (an `event: error` in a stream already answered
 * 200 is recorded as it); 500 for a type it does not document.
 */
export function anthropicErrorStatus(type: unknown): number {
  return (typeof type === 'string' ? STATUS_OF_ERROR_TYPE.get(type) : undefined) ?? 500;
}

export function anthropicErrorResponse(status: number, code: TokengateErrorCode, message: string, requestId: string): ErrorResponse {
  return {
    contentType: 'application/json',
    body: JSON.stringify({
      type: 'error',
      error: { type: anthropicErrorType(status), message, tokengate_code: code },
      request_id: requestId,
    }),
  };
}
