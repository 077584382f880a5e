import { createOpenAiCompatibleUsageAccounting } from '../shared/openai-compatible-usage';

/**
 * Mistral speaks OpenAI's format with the same usage names, and its streams always carry `usage` on
 * the last chunk (the one with finish_reason, before `data: [DONE]`). Its API rejects unknown fields
 * (422 `extra_forbidden`, `stream_options` included), so nothing is ever injected or stripped. OCR
 * (`POST /v1/ocr`, billed per page: `usage_info: {pages_processed, doc_size_bytes}`) is charged no
 * tokens, as every OpenAI-style OCR endpoint (UNMETERED_OPERATIONS in the base).
 *
 * A batch job (`POST /v1/batch/jobs`) reports no usage, neither when created nor when read: its
 * requests' usage is only in its results, the lines of its output file (`GET /v1/files/{id}/content`)
 * or the `outputs` of the job read with `?inline=true`. Either charges the job once, by its output
 * file's id (ADR 007).
 */
export const mistralUsageAccounting = createOpenAiCompatibleUsageAccounting({
  acceptsStreamOptions: () => false,
});
