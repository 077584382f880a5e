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
    // Not implemented by the proxy: a client fault for the SDK (never retried), as Bedrock answers an operation a model lacks.
    case 501: return 'ValidationException';
    default: return status >= 500 ? 'InternalServerException' : 'ValidationException';
  }
}

/**
 * Statuses of the Bedrock Runtime exceptions, as its API reference gives them, by name with a
 * lower-case initial: event-stream exception frames name them so (`:exception-type:
 * throttlingException`), error responses with an upper-case one (`x-amzn-errortype`).
 */
const STATUS_OF_EXCEPTION: ReadonlyMap<string, number> = new Map([
  ['validationException', 400],
  ['serviceQuotaExceededException', 400],
  ['accessDeniedException', 403],
  ['resourceNotFoundException', 404],
  ['modelTimeoutException', 408],
  ['modelStreamErrorException', 424],
  ['modelErrorException', 424],
  ['throttlingException', 429],
  ['modelNotReadyException', 429],
  ['internalServerException', 500],
  ['serviceUnavailableException', 503],
]);

/** The status Bedrock answers an exception with (an exception frame in a 200 stream is recorded as it); 500 when unknown. */
export function bedrockExceptionStatus(type: string | null): number {
  if (type === null || type === '') return 500;
  return STATUS_OF_EXCEPTION.get(type[0].toLowerCase() + type.slice(1)) ?? 500;
}

export function bedrockErrorResponse(status: number, code: TokengateErrorCode, message: string, requestId: string): ErrorResponse {
  return {
    contentType: 'application/json',
    body: JSON.stringify({ message, tokengate_code: code }),
    headers: { 'x-amzn-errortype': bedrockErrorType(status), 'x-amzn-requestid': requestId },
  };
}
