// OpenAI's error envelope, also spoken by Azure OpenAI: the SDK picks its error class from the status
// and exposes `error.code`, which carries the Tokengate code.
import type { ErrorResponse, TokengateErrorCode } from '../provider-adapter';

/** OpenAI `error.type` values by status, as the API itself uses them. */
export function openAiErrorType(status: number): string {
  if (status === 429) return 'tokens';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

export function openAiErrorResponse(status: number, code: TokengateErrorCode, message: string): ErrorResponse {
  return {
    contentType: 'application/json',
    body: JSON.stringify({ error: { message, type: openAiErrorType(status), param: null, code: `tokengate_${code}` } }),
  };
}
