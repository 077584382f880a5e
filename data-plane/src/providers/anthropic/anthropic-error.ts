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
