// What a finished request is recorded as — its usage error class, the status label of the request
// metrics, the access log's status: what the client was answered, unless a response that had already
// answered 2xx failed afterwards, where the client's status can no longer say so (ADR 021).
import type { ObservedUsage } from '../providers/usage-accounting';

/**
 * How the upstream response ended, as the exchange saw it: `ended` by the provider (its body came to
 * its end), `broken` (the upstream connection failed after the response headers were relayed),
 * `timed-out` (the proxy's idle timeout cut it after the headers), `other` (no response came, the
 * client left first, or the proxy ended the stream itself at the budget).
 */
export type ResponseEnding = 'ended' | 'broken' | 'timed-out' | 'other';

/** Recorded for a response the provider cut short (a gateway's "bad gateway"). */
export const CUT_BY_PROVIDER_STATUS = 502;
/** Recorded for a response the proxy cut after the idle timeout (as a response that never came is answered). */
export const UPSTREAM_TIMEOUT_STATUS = 504;

/**
 * The status to record. A non-2xx answer is recorded as answered (499 for a client that left before
 * it). A 2xx one is recorded as: the status of the provider's in-stream error, when the stream
 * carried one (even if the client left after reading it: the SDKs hang up on it); 502 when the
 * provider broke the connection mid-body, or ended a stream without its terminator (`[DONE]`,
 * message_stop, Bedrock's metadata) in a body the observer could read; 504 when the proxy's idle
 * timeout cut it; else as answered. A client that leaves mid-stream is not the provider's failure.
 * @param stream the request asked for a stream (only streams have a terminator to miss)
 */
export function recordedStatus(clientStatus: number, ending: ResponseEnding, seen: ObservedUsage | null, stream: boolean): number {
  if (clientStatus < 200 || clientStatus > 299) return clientStatus;
  if (seen?.streamError !== undefined) return seen.streamError;
  if (ending === 'broken') return CUT_BY_PROVIDER_STATUS;
  if (ending === 'timed-out') return UPSTREAM_TIMEOUT_STATUS;
  if (ending === 'ended' && stream && seen !== null && !seen.complete && seen.unreadable !== true) return CUT_BY_PROVIDER_STATUS;
  return clientStatus;
}
