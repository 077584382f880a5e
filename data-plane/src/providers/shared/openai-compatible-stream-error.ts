// The status an error inside an OpenAI-style stream stands for, once the stream was answered 200:
// Chat Completions (OpenAI, Azure OpenAI, Mistral) send a chunk `{"error": {message, type, code}}`,
// the Responses API an `error` event `{type: "error", code, message}` or `response.failed` with
// `response.error: {code, message}`. The request is recorded with that status (ADR 021).

/** Statuses of the error codes and types the OpenAI-style APIs use, matched before the patterns below. */
const STATUS_OF_ERROR: ReadonlyMap<string, number> = new Map([
  ['invalid_api_key', 401],
  ['authentication_error', 401],
  ['insufficient_quota', 429],
  ['permission_error', 403],
  ['permission_denied', 403],
  ['not_found_error', 404],
  ['model_not_found', 404],
  ['rate_limit_exceeded', 429],
  ['rate_limit_error', 429],
  ['tokens', 429],
  ['requests', 429],
  ['server_error', 500],
  ['api_error', 500],
  ['internal_error', 500],
  ['server_is_overloaded', 503],
  ['engine_overloaded', 503],
  ['overloaded_error', 503],
  ['service_unavailable', 503],
  ['timeout', 504],
  ['timeout_error', 504],
]);

function statusOf(value: unknown): number | null {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 400 && value <= 599 ? value : null;
  if (typeof value !== 'string' || value === '') return null;
  if (/^[45]\d\d$/.test(value)) return Number(value);
  const known = STATUS_OF_ERROR.get(value);
  if (known !== undefined) return known;
  // invalid_request_error, invalid_prompt, invalid_image_url, context_length_exceeded, content filters...
  if (value.startsWith('invalid_') || value.startsWith('image_') || value === 'context_length_exceeded' || value.includes('content_policy') || value.includes('content_filter')) return 400;
  return null;
}

/**
 * The status an OpenAI-style in-stream error stands for: its `code`, else its `type` (or a numeric
 * `status`), read as the API answers them with a status; 500 when none says.
 */
export function openAiStreamErrorStatus(error: unknown): number {
  if (typeof error !== 'object' || error === null) return 500;
  const { code, type, status } = error as Record<string, unknown>;
  return statusOf(code) ?? statusOf(status) ?? (type === 'error' ? null : statusOf(type)) ?? 500;
}
