// Stream cut-off (opt-in per service environment): how a provider's streamed response is ended by the
// proxy, in the provider's own format, once it would run past what the budgets still allow. One
// implementation per provider folder that supports it, referenced by its ProviderAdapter; providers
// without one are never cut. The provider-neutral part (counting, holding, ending the exchange) is
// usage/stream-cutoff.ts.
import type { PreparedRequest } from './usage-accounting';

/** Splits a stream's bytes into its complete events, each exactly as the upstream sent it. */
export interface StreamFramer {
  /**
   * Calls `onFrame` for every event `chunk` completes, in order, and keeps the bytes of an incomplete
   * trailing event. False once the bytes stop making events (an oversized or corrupt frame): the
   * stream is then relayed as it comes, uncut.
   */
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): boolean;
  /**
   * The stream ended: calls `onFrame` for an event still held although complete, and returns the bytes
   * of an incomplete trailing event (forwarded as they are), forgetting them.
   */
  end(onFrame: (frame: Buffer) => void): Buffer;
}

/** Token counts the closing events report. */
export interface CutoffTokens {
  /** The completion text relayed, counted as settlement counts it. */
  readonly completionTokens: number;
  /** The prompt, as counted by the proxy; null when it could not be counted (usage is then left out). */
  readonly promptTokens: number | null;
}

/**
 * Follows one streamed response for the cut-off. Created per response, owned by it. The cutter reads
 * each event once, in order, before deciding whether it is relayed; `accept()` says it was.
 */
export interface CutoffStreamReader {
  readonly framer: StreamFramer;
  /**
   * The completion text the event carries, as the provider's usage observer reads it (message text,
   * tool-call arguments, reasoning), or '' for none. Never throws: an event it cannot read is ''.
   */
  read(frame: Buffer): string;
  /** The event last read is relayed to the client: note what the closing events depend on (ids, open blocks). */
  accept(): void;
  /** True when the closing events report prompt tokens (so the proxy counts the prompt before writing them). */
  readonly needsPromptTokens: boolean;
  /**
   * The provider's closing events for a stream the proxy ends after the events accepted so far: what the
   * provider sends when it stops at its output limit (`finish_reason: "length"`, `stop_reason:
   * "max_tokens"`, `stopReason: "max_tokens"`), so the official SDK ends normally, with the usage
   * fields where the provider reports usage in-stream.
   * @param elapsedMs time since the request was sent (Bedrock reports it as `metrics.latencyMs`)
   */
  closing(tokens: CutoffTokens, elapsedMs: number): Buffer;
}

/** A provider's stream cut-off (ProviderAdapter.streamCutoff). */
export interface StreamCutoff {
  /**
   * Whether the response to `prepared` is a stream this provider can end itself. The proxy then asks
   * the upstream for an uncompressed response, so events can be cut and written between.
   */
  canCut(prepared: PreparedRequest): boolean;
  /**
   * A reader for the 2xx, uncompressed response to a request `canCut` accepted, or null when the
   * response is not the stream expected (its content type).
   */
  open(prepared: PreparedRequest, contentType: string | undefined): CutoffStreamReader | null;
}
