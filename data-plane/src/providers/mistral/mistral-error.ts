// Mistral's error envelope: flat, with `object: "error"`; the SDK raises by status and keeps the body.
import type { ErrorResponse, TokengateErrorCode } from '../provider-adapter';
import { openAiErrorType } from '../openai/openai-error';

export function mistralErrorResponse(status: number, code: TokengateErrorCode, message: string): ErrorResponse {
  return {
    contentType: 'application/json',
    body: JSON.stringify({ object: 'error', message, type: openAiErrorType(status), param: null, code: `tokengate_${code}` }),
  };
}
