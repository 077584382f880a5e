// How a provider's requests and responses are read for token accounting (every request of every
// service: budgets charge it, usage reports and metrics record it). One implementation per provider
// folder, wired in provider-registry.ts next to its ProviderAdapter. Usage always comes out in one
// normalized shape; the per-provider rule of what counts as prompt is written once, here.

/** Tokens as the provider counts them. */
export interface TokenUsage {
  /**
   * Every input token the provider processed, cached ones included: OpenAI `prompt_tokens` (cached
   * tokens are a part of it), Anthropic `input_tokens + cache_creation_input_tokens +
   * cache_read_input_tokens`, Bedrock `inputTokens + cacheReadInputTokens + cacheWriteInputTokens`.
   * This is what a prompt count taken before forwarding (the whole prompt) estimates.
   */
  readonly promptTokens: number;
  /** Every output token billed, reasoning tokens included (OpenAI, Anthropic and Bedrock bill them as output). */
  readonly completionTokens: number;
  /**
   * The part of promptTokens read from the provider's prompt cache: OpenAI/Azure
   * `prompt_tokens_details.cached_tokens` (Responses: `input_tokens_details.cached_tokens`), Anthropic
   * `cache_read_input_tokens`, Bedrock `cacheReadInputTokens`. Absent when none was reported.
   */
  readonly cachedReadTokens?: number;
  /** The part of promptTokens written to the cache: Anthropic `cache_creation_input_tokens`, Bedrock `cacheWriteInputTokens`. */
  readonly cachedWriteTokens?: number;
  /** The part of completionTokens spent reasoning: OpenAI `completion_tokens_details.reasoning_tokens` / `output_tokens_details.reasoning_tokens`. */
  readonly reasoningTokens?: number;
}

/** Builds a TokenUsage, leaving out the details that are absent or zero (so plain usages stay plain). */
export function tokenUsage(promptTokens: number, completionTokens: number, details: { cachedRead?: number | null; cachedWrite?: number | null; reasoning?: number | null } = {}): TokenUsage {
  const usage: { -readonly [K in keyof TokenUsage]: TokenUsage[K] } = { promptTokens, completionTokens };
  if (details.cachedRead) usage.cachedReadTokens = details.cachedRead;
  if (details.cachedWrite) usage.cachedWriteTokens = details.cachedWrite;
  if (details.reasoning) usage.reasoningTokens = details.reasoning;
  return usage;
}

/** The sum of two usages, detail by detail (the usage of several jobs, or of a job's requests). */
export function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  return tokenUsage(a.promptTokens + b.promptTokens, a.completionTokens + b.completionTokens, {
    cachedRead: (a.cachedReadTokens ?? 0) + (b.cachedReadTokens ?? 0),
    cachedWrite: (a.cachedWriteTokens ?? 0) + (b.cachedWriteTokens ?? 0),
    reasoning: (a.reasoningTokens ?? 0) + (b.reasoningTokens ?? 0),
  });
}

/** What kind of call a request is, for usage reports and metrics (`gen_ai.operation.name`-like, provider-neutral). */
export type UsageOperation =
  | 'chat_completions'
  | 'completions'
  | 'responses'
  | 'embeddings'
  /** Content classification (OpenAI and Mistral moderations): no completion; billed or free per provider. */
  | 'moderations'
  | 'messages'
  | 'count_tokens'
  | 'converse'
  | 'converse_stream'
  | 'invoke'
  | 'invoke_stream'
  /** Bedrock ApplyGuardrail: billed in policy text units, never in tokens. */
  | 'apply_guardrail'
  /** Mistral OCR (`POST /v1/ocr`): billed per page processed (`usage_info.pages_processed`), never in tokens. */
  | 'ocr'
  /** One response of a Realtime WebSocket session (OpenAI, Azure OpenAI): its `response.done` usage. */
  | 'realtime'
  | 'other';

/** What the proxy learned from a request body before forwarding it. */
export interface PreparedRequest {
  /** Body to send upstream: the client's bytes when unchanged, rewritten bytes when a field was added. */
  readonly body: Buffer;
  /** The parsed JSON body (as sent upstream, for prompt counting), or null when the request has no JSON body. */
  readonly json: unknown;
  /** The model named by the request (body `model`, Azure deployment or Bedrock model id from the path). */
  readonly model: string | null;
  /** What the request does, from its path. */
  readonly operation: UsageOperation;
  /** True when the response will be a stream (SSE or AWS event stream). */
  readonly stream: boolean;
  /**
   * The most completion tokens the request can produce, or null when the client set no limit:
   * max_completion_tokens / max_tokens / max_output_tokens / inferenceConfig.maxTokens (and the
   * model-native Bedrock invoke fields), times `n` when the client asked for n > 1 choices.
   */
  readonly maxCompletionTokens: number | null;
  /**
   * OpenAI-style streams: the proxy injected `stream_options.include_usage` the client did not ask
   * for, so the usage-only chunk must be removed from what the client receives.
   */
  readonly stripUsageChunk: boolean;
  /**
   * The job whose results this request reads, when the provider bills the job's tokens only through
   * them (Anthropic `GET …/messages/batches/{id}/results`; Mistral `GET /v1/files/{id}/content`, a
   * batch's output file, by file id): its usage is summed from the results and charged once by this
   * id (usage/response-charges.ts).
   */
  readonly resultsOf?: string;
  /**
   * The request reads a batch job with its results inline (Mistral `GET /v1/batch/jobs/{id}?inline=true`):
   * an answer too large to parse whole still has its results' usage summed as it streams past.
   */
  readonly readsInlineResults?: boolean;
  /**
   * The request may upload a file (OpenAI-style `POST /v1/files`, `POST /v1/uploads/{id}/complete`):
   * the file its answer names is marked charged before the client sees the answer
   * (a job charged 0/0 under its id, ObservedUsage.jobs), so a download of the client's own lines
   * never charges them.
   */
  readonly uploadsFile?: boolean;
}

/** Raised for a request body the provider API cannot accept (e.g. not JSON): the proxy answers 400. */
export class RequestBodyError extends Error {
  override readonly name = 'RequestBodyError';
}

/** What an observer learned from one response. */
export interface ObservedUsage {
  /**
   * The provider's final usage, or null when it did not arrive (non-2xx responses, streams cut before
   * it, APIs that report none). Non-null means final, even when `complete` is false (an OpenAI stream
   * cut between its usage chunk and `[DONE]`): partial counts (Anthropic's message_start says 1
   * output token) are never reported here.
   */
  readonly usage: TokenUsage | null;
  /**
   * When `usage` is null but the provider already reported the prompt tokens (Anthropic
   * message_start, on a stream cut before message_delta): use them instead of counting the prompt.
   */
  readonly reportedPromptTokens?: number;
  /** The cached parts of reportedPromptTokens, when the provider reported them with it (message_start's cache reads and writes). */
  readonly reportedPromptCache?: { readonly cachedRead: number; readonly cachedWrite: number };
  /** The model the response names (OpenAI/Mistral `model`, Anthropic `message.model`), when it names one. */
  readonly responseModel?: string;
  /**
   * The id of a job the provider bills once whose usage this answer shows: an OpenAI background
   * Response (`background: true`; also a stream of it cut before its usage), an OpenAI Batch or an
   * Anthropic Message Batch (its results). Other requests may show that usage too (resumed streams,
   * retrievals), so it is charged once, by this id (usage/response-charges.ts).
   */
  readonly jobId?: string;
  /**
   * Finished jobs an answer shows with their final usage — the Batches and eval runs of a list
   * (`GET /v1/batches`), or a file just uploaded, as a job of 0/0 that marks its id charged (see
   * PreparedRequest.uploadsFile): each is charged once by its id, as a background Response is
   * (usage/response-charges.ts); what is left to charge of them is this request's usage. Only with
   * that shared record: without it a list, read again and again, would charge its jobs every time.
   */
  readonly jobs?: ReadonlyArray<{ readonly id: string; readonly usage: TokenUsage }>;
  /**
   * The completion text seen (message text, refusals, reasoning text, tool-call names and
   * arguments), for counting when no usage arrived. Empty for non-2xx responses.
   */
  readonly completionText: string;
  /**
   * Streams: the terminator was seen (`data: [DONE]`, Anthropic message_stop, Responses API
   * response.completed, Bedrock metadata). JSON: the whole body parsed. False means the response was
   * cut short or could not be read. Responses the observer does not follow (non-2xx, binary
   * content) report true: there is nothing to count.
   */
  readonly complete: boolean;
  /**
   * Streams the provider ended with its own error after answering 2xx (Anthropic `event: error`, an
   * OpenAI-style `error` event or chunk, a Responses `response.failed`, a Bedrock exception frame):
   * the status the provider answers that error with when it can still answer with a status
   * (overloaded_error 529, throttlingException 429...). What is recorded for the request (ADR 021);
   * the client's 200 stands. The first such error wins.
   */
  readonly streamError?: number;
  /**
   * True when `complete` is false because the observer could not read the response (an oversized
   * event, a corrupt frame, a body it could not decode), not because the response stopped short.
   */
  readonly unreadable?: boolean;
}

/** Follows one upstream response as it streams through, without buffering it for the client. */
export interface ResponseObserver {
  /**
   * Sees each upstream body chunk in order and returns the bytes to forward now (usually the chunk
   * itself; a rewritten buffer when a chunk must be hidden from the client; an empty buffer to hold).
   * Never throws: a response it cannot read is forwarded unchanged and reported incomplete.
   */
  write(chunk: Buffer): Buffer;
  /** Bytes still held back at the end of the response, to forward before ending. */
  flush(): Buffer;
  /**
   * Resolves once every byte written so far has been read (observers that decode a compressed body
   * may read it asynchronously); null when it is read already. Absent: everything is read
   * synchronously in write()/flush().
   */
  drained?(): Promise<void> | null;
  /**
   * What was learned, at the end (after flush() for a complete response, or after the stream broke /
   * the client left). Call it once: for JSON bodies it parses the body.
   */
  result(): ObservedUsage;
}

/** Upstream response headers as node:http gives them (lower-case names). */
export type ResponseHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

export interface UsageAccounting {
  /**
   * Parses (and, for streams that need it, rewrites) a request body.
   * @param providerPath the path after the context path, e.g. `/v1/chat/completions` or `/model/x/converse-stream`
   * @param query the query string sent upstream ('' or starting with '?'), when known: Azure OpenAI
   *   only injects `stream_options` for api-versions that accept it
   * @throws RequestBodyError
   */
  prepareRequest(providerPath: string, body: Buffer, contentType: string | undefined, query?: string): PreparedRequest;
  /**
   * A fresh observer for the response to `prepared`, given the upstream status and content type.
   * @param headers the upstream response headers, when available: Bedrock InvokeModel reports its
   *   token counts in `x-amzn-bedrock-input-token-count` / `x-amzn-bedrock-output-token-count`
   */
  observeResponse(prepared: PreparedRequest, status: number, contentType: string | undefined, headers?: ResponseHeaders): ResponseObserver;
}
