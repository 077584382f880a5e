// What the proxy needs to know of a provider's WebSocket sessions (OpenAI-style Realtime): which
// paths open one, where the browser form carries the key, and which server events carry usage.
import type { TokengateErrorCode } from './provider-adapter';
import type { TokenUsage } from './usage-accounting';

/** What one server message told the proxy; null fields: it did not say. */
export interface RealtimeObservation {
  /** The usage of one finished response (`response.done`), as the provider bills it. */
  readonly usage: TokenUsage | null;
  /** The model the session runs (`session.created` / `session.updated`). */
  readonly model: string | null;
  /** A response began (`response.created`) or ended (`response.done`, with or without usage). */
  readonly response?: 'started' | 'ended';
}

/** Stateless; one object per provider family, shared by every session. */
export interface RealtimeSupport {
  /** Whether a GET upgrade to this provider path opens a Realtime session. */
  isSessionPath(providerPath: string): boolean;
  /** The model (or Azure deployment) the client asked for in the query ('' for none), for usage records. */
  requestModel(query: string): string;
  /**
   * The consumer key carried by one `Sec-WebSocket-Protocol` entry (browsers cannot set headers), or
   * null when the entry is an ordinary subprotocol. Such entries are never forwarded.
   */
  keyInProtocol(protocol: string): string | null;
  /** Reads one server text message (its UTF-8 bytes); null when it carries nothing the proxy accounts (most do not). */
  observeServerMessage(message: Buffer): RealtimeObservation | null;
  /** A server event telling the client that the proxy refused something, in the provider's format. */
  errorEvent(code: TokengateErrorCode, message: string, requestId: string): string;
}
