// Bedrock Runtime speaks AWS restJson1: the SDK reads the error name from `x-amzn-errortype` and
// `message` from the JSON body, then raises the matching modeled exception class.
import type { ErrorResponse, TokengateErrorCode } from '../provider-adapter';

/**
 * Exception names modeled by @aws-sdk/client-bedrock-runtime, by status. 401 also maps to
 * AccessDeniedException (a modeled class; AWS's own UnrecognizedClientException is not modeled), the
 * Tokengate code telling the two cases apart.
 */
export function bedrockErrorType(status: number): string {
  switch (status) {
    case 401:
    case 403: return 'AccessDeniedException';
    case 404: return 'ResourceNotFoundException';
    case 429: return 'ThrottlingException';
    case 500: return 'InternalServerException';
    case 502:
    case 503: return 'ServiceUnavailableException';
    case 504: return 'ModelTimeoutException';
    default: return status >= 500 ? 'InternalServerException' : 'ValidationException';
  }
}

export function bedrockErrorResponse(status: number, code: TokengateErrorCode, message: string, requestId: string): ErrorResponse {
  return {
    contentType: 'application/json',
    body: JSON.stringify({ message, tokengate_code: code }),
    headers: { 'x-amzn-errortype': bedrockErrorType(status), 'x-amzn-requestid': requestId },
  };
}
