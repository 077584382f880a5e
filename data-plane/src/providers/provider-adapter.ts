// The one interface every provider folder implements. Adding a provider = one folder implementing
// ProviderAdapter + one line in provider-registry.ts and one in prompt-registry.ts (+ its tests).
import type { OutgoingHttpHeaders } from 'node:http';
import type { BackendAuthMessage, ProviderName } from '../config-stream/wire-types';
import type { PromptCounting } from './prompt-counting';
import type { RealtimeSupport } from './realtime';
import type { StreamCutoff } from './stream-cutoff';
import type { UsageAccounting } from './usage-accounting';

/** Why Tokengate itself refused or failed a request; sent in bodies and in `x-tokengate-error-code`. */
export type TokengateErrorCode =
  | 'bad_request'
  | 'route_not_found'
  | 'unauthenticated'
  | 'forbidden'
  | 'request_too_large'
  | 'unsupported_content_encoding'
  | 'not_ready'
  | 'backend_not_configured'
  | 'upstream_unreachable'
  | 'upstream_timeout'
  | 'rate_limited'
  | 'request_exceeds_budget'
  /**
   * An operation of the provider's API the proxy does not carry: 501 when it cannot (Bedrock's
   * bidirectional stream), 403 when carrying it would hand the app a way around metering and budgets
   * (OpenAI Realtime client secrets and calls).
   */
  | 'unsupported_operation'
  | 'internal_error';

/** Why the proxy does not carry an operation: 501 (it cannot) or 403 (it would escape metering), and what to use instead. */
export interface UnsupportedOperation {
  readonly status: 403 | 501;
  readonly message: string;
}

/** A refusal rendered in a provider's own wire format, so its official SDK raises its usual error. */
export interface ErrorResponse {
  readonly contentType: string;
  readonly body: string;
  /** Extra response headers the provider's SDK reads (e.g. Bedrock's x-amzn-errortype). */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * The request about to be sent upstream, built per request and owned by it (never shared).
 * Invariant when an authenticator sees it: `headers` are lower-case keyed, hop-by-hop headers and every
 * consumer credential (authorization, api-key, x-api-key, x-amz-*, amz-sdk-*) are already removed,
 * and `host` is the upstream's.
 */
export interface UpstreamRequestDraft {
  method: string;
  /** Upstream path as sent on the wire (still percent-encoded): upstream base path + provider path. */
  path: string;
  /** Raw query string including its leading '?', or '' when there is none. */
  query: string;
  headers: OutgoingHttpHeaders;
}

/** Where a service's requests go; built once per snapshot. */
export interface UpstreamEndpoint {
  readonly protocol: 'http:' | 'https:';
  /** Host name as given to net/tls (IPv6 literals without brackets). */
  readonly hostname: string;
  readonly port: number;
  /** The Host header value sent (and, for SigV4, signed): host, plus the port when not the default. */
  readonly hostHeader: string;
}

/**
 * How requests to one service authenticate upstream. Built once per snapshot from BackendAuth, so the
 * per-request work is a few header assignments (or one signature).
 */
export type UpstreamAuthenticator =
  | {
      readonly kind: 'headers';
      /** Sets the provider credentials (and version header/query) on the draft. Synchronous. */
      apply(draft: UpstreamRequestDraft): void;
    }
  | {
      readonly kind: 'signed-body';
      /** Signs the final request, whole body included (SigV4 hashes it); sets the signature headers. */
      sign(draft: UpstreamRequestDraft, body: Buffer, endpoint: UpstreamEndpoint): Promise<void>;
    };

export interface ProviderAdapter {
  /** The proto enum name this adapter serves. */
  readonly id: ProviderName;
  /** Short lower-case name for metrics and logs. */
  readonly label: string;
  /**
   * Validates a service's BackendAuth and builds its authenticator.
   * @throws BackendAuthConfigError with a reason fit for a NACK (never containing the secret).
   */
  compileAuthenticator(auth: BackendAuthMessage, endpoint: UpstreamEndpoint): UpstreamAuthenticator;
  /** Renders a Tokengate refusal in this provider's error format. */
  errorResponse(status: number, code: TokengateErrorCode, message: string, requestId: string): ErrorResponse;
  /** Reads this provider's requests and responses for token accounting (every request of every service). */
  readonly usage: UsageAccounting;
  /** Counts this provider's prompts before it reports usage; the object prompt-registry.ts gives the token worker. */
  readonly prompt: PromptCounting;
  /** Ends this provider's streams in its own format when a cut-off applies; absent: its streams are never cut. */
  readonly streamCutoff?: StreamCutoff;
  /**
   * Path segments after which this provider's API takes an identifier sent percent-encoded whole,
   * slashes included (`%2F`): the only place an encoded slash may appear in its paths
   * (proxy/path-safety.ts). Absent: nowhere.
   */
  readonly encodedIdentifierAfter?: ReadonlySet<string>;
  /**
   * The `unsupported_operation` refusal when `providerPath` names an operation of this provider the
   * proxy does not carry, null otherwise. Asked after authentication, before the body is read: such a
   * request may never end its body (a bidirectional stream) and must not be waited for.
   */
  unsupportedOperation?(method: string, providerPath: string): UnsupportedOperation | null;
  /**
   * JSON members of this path's 2xx answers whose values are URLs the client follows as given, with
   * its consumer key (Anthropic's batch `results_url`): each one inside the service's upstream is
   * rewritten to the same resource through the proxy. Null (or absent): the body is relayed as it is.
   */
  responseUrlMembers?(providerPath: string): readonly string[] | null;
  /** This provider's WebSocket sessions (OpenAI-style Realtime); absent: upgrades are refused. */
  readonly realtime?: RealtimeSupport;
}

/** A BackendAuth this provider cannot use; the message is the NACK reason and never holds secrets. */
export class BackendAuthConfigError extends Error {
  override readonly name = 'BackendAuthConfigError';
}
