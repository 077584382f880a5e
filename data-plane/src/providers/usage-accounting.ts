// How a provider's requests and responses are read for token accounting (rate-limited services only;
// unlimited services stream through untouched). One implementation per provider folder, wired in
// provider-registry.ts next to its ProviderAdapter. Usage always comes out in one normalized shape.

/** Tokens as the provider counts them. */
export interface TokenUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/** What the proxy learned from a request body before forwarding it. */
export interface PreparedRequest {
  /** Body to send upstream: the client's bytes when unchanged, re-serialized JSON when rewritten. */
  readonly body: Buffer;
  /** The parsed JSON body (for prompt counting), or null when the request has no JSON body. */
  readonly json: unknown;
  /** The model named by the request (body `model`, Azure deployment or Bedrock model id from the path). */
  readonly model: string | null;
  /** True when the response will be a stream (SSE or AWS event stream). */
  readonly stream: boolean;
  /** The completion limit the client set (max_tokens, max_completion_tokens, max_output_tokens, inferenceConfig.maxTokens), or null. */
  readonly maxCompletionTokens: number | null;
  /**
   * OpenAI-style streams: the proxy injected `stream_options.include_usage` the client did not ask
   * for, so the usage-only chunk must be removed from what the client receives.
   */
  readonly stripUsageChunk: boolean;
}

/** Raised for a request body the provider API cannot accept (e.g. not JSON): the proxy answers 400. */
export class RequestBodyError extends Error {
  override readonly name = 'RequestBodyError';
}

/** Follows one upstream response as it streams through, without buffering it for the client. */
export interface ResponseObserver {
  /**
   * Sees each upstream body chunk in order and returns the bytes to forward now (usually the chunk
   * itself; a rewritten buffer when a chunk must be hidden from the client; an empty buffer to hold).
   */
  write(chunk: Buffer): Buffer;
  /** Bytes still held back at the end of the response, to forward before ending. */
  flush(): Buffer;
  /**
   * What was learned, at the end (after a complete response, or after the stream broke / the client
   * left): the provider-reported usage if it arrived, the completion text seen so far (for counting
   * when no usage arrived), and whether the response was complete (stream terminator seen).
   */
  result(): { usage: TokenUsage | null; completionText: string; complete: boolean };
}

export interface UsageAccounting {
  /**
   * Parses (and, for streams that need it, rewrites) a request body.
   * @param providerPath the path after the context path, e.g. `/v1/chat/completions` or `/model/x/converse-stream`
   * @throws RequestBodyError
   */
  prepareRequest(providerPath: string, body: Buffer, contentType: string | undefined): PreparedRequest;
  /** A fresh observer for the response to `prepared`, given the upstream status and content type. */
  observeResponse(prepared: PreparedRequest, status: number, contentType: string | undefined): ResponseObserver;
}
