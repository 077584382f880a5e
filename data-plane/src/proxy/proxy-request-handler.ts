// The request path up to a known consumer: route → authenticate → authorize, each an early refusal;
// what follows (body, budgets, credentials, the provider call, observation, settlement) is one
// ProxyExchange per request. Hot path: no configuration parsing (everything comes precompiled in the
// snapshot), headers built as plain objects, one upstream request per client request.
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { DataPlaneMetrics } from '../observability/data-plane-metrics';
import type { TokengateErrorCode } from '../providers/provider-adapter';
import type { CompiledService } from '../snapshot/compiled-snapshot';
import type { ConsumerKeyGrant } from '../snapshot/consumer-key-index';
import type { SnapshotHolder } from '../snapshot/snapshot-holder';
import type { MeterDependencies } from '../usage/request-meter';
import { CONFLICTING_KEYS, MISSING_KEY, extractConsumerKey } from './consumer-key';
import { keyEnvironmentTag, tagOfEnvironment } from './consumer-key-environment';
import { PATH_REFUSAL_MESSAGES, encodedSlashesAllowed, inspectRequestPath } from './path-safety';
import { headerText } from './forwarded-headers';
import { ProxyExchange } from './proxy-exchange';
import { isWebSocketUpgrade } from './proxy-listener';
import type { ProxyRequest, ProxyResponse } from './proxy-types';
import { RealtimeSession, splitProtocols } from './realtime-session';
import { guessProviderFromHeaders, sendRefusal, sendUpgradeRefusal } from './refusals';

export interface ProxyRequestHandlerOptions {
  readonly holder: SnapshotHolder;
  readonly metrics: DataPlaneMetrics;
  readonly logger: Logger;
  /** Request bodies above this many bytes get 413 (Content-Length checked first, streamed bytes counted). */
  readonly maxBodyBytes: number;
  /** From sending the request upstream to its response headers; past it: 504. */
  readonly upstreamHeadersTimeoutMs: number;
  /**
   * Longest silence of the upstream response body once headers arrived; past it the stream is cut.
   * Realtime sessions: of the provider while a response is under way; past it the session is closed.
   */
  readonly upstreamIdleTimeoutMs: number;
  /**
   * Realtime sessions: a side silent for this long is pinged, and one that answers nothing for twice
   * as long again is cut and the session closed (a hung host, a connection dropped without a reset).
   */
  readonly realtimeKeepaliveMs: number;
  /** One info line per proxied request (never keys, credentials, queries or bodies). */
  readonly accessLog: boolean;
  /** Token accounting of every request (and budgets, where the service has them). */
  readonly metering: MeterDependencies;
  /** PEM CA certificates trusted for wss:// upstreams (Realtime sessions) instead of Node's bundle, as undici's agents trust for https. */
  readonly upstreamCa?: string | Buffer;
}

const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

function requestIdOf(headers: IncomingHttpHeaders): string {
  const header = headers['x-request-id'];
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

/** A caller the handler knows: the service its route names, its key's grant, and the provider path. */
interface Caller {
  readonly service: CompiledService;
  readonly grant: ConsumerKeyGrant;
  readonly providerPath: string;
}

/** Why a caller is refused before anything is forwarded; `service` is null before a route is found. */
class CallerRefusal {
  constructor(
    readonly service: CompiledService | null,
    readonly status: number,
    readonly code: TokengateErrorCode,
    readonly message: string,
  ) {}
}

export class ProxyRequestHandler {
  private inFlight = 0;
  private draining = false;
  private idleWaiters: Array<() => void> = [];
  /** The tag of this proxy's environment in the keys issued for it (computed once). */
  private ownTag: { environment: string; tag: string } | undefined;
  private readonly sessions = new Set<RealtimeSession>();

  constructor(private readonly options: ProxyRequestHandlerOptions) {}

  /** Exchanges currently being forwarded. */
  get inFlightCount(): number {
    return this.inFlight;
  }

  /** From now on HTTP/1.1 responses carry `Connection: close`, so clients move to another replica. */
  startDraining(): void {
    this.draining = true;
    // A Realtime session could last longer than any grace period: told to go away now (1001).
    for (const session of this.sessions) session.goAway();
  }

  /** Resolves once no exchange is being forwarded. */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** A key this proxy does not hold whose form says it was issued for another environment than `environment`. */
  private issuedElsewhere(key: string, environment: string): boolean {
    const tag = keyEnvironmentTag(key);
    if (tag === null) return false;
    if (this.ownTag?.environment !== environment) this.ownTag = { environment, tag: tagOfEnvironment(environment) };
    return tag !== this.ownTag.tag;
  }

  /** Entry point for both protocols; `path` and `query` are split from req.url by the caller. */
  handle(req: ProxyRequest, res: ProxyResponse, path: string, query: string): void {
    if (this.draining && req.httpVersionMajor === 1) res.setHeader('connection', 'close');
    const requestId = requestIdOf(req.headers);
    const caller = this.admitCaller(req.headers, path);
    if (caller instanceof CallerRefusal) {
      this.refuse(req, res, caller.service, caller.status, caller.code, caller.message, requestId);
      return;
    }
    const { service, grant, providerPath } = caller;
    const unsupported = service.provider.unsupportedOperation?.(req.method ?? 'GET', providerPath) ?? null;
    if (unsupported !== null) {
      // Before the body: it may be one that never ends (a bidirectional stream). HTTP/1.1 closes
      // rather than drains it.
      this.refuse(req, res, service, unsupported.status, 'unsupported_operation', unsupported.message, requestId, true);
      return;
    }
    const contentLength = req.headers['content-length'];
    if (contentLength !== undefined && Number(contentLength) > this.options.maxBodyBytes) {
      this.refuse(req, res, service, 413, 'request_too_large', `The request body exceeds ${this.options.maxBodyBytes} bytes.`, requestId, true);
      return;
    }
    this.forward(req, res, service, grant, providerPath, query, requestId);
  }

  /**
   * An HTTP/1.1 upgrade request (WebSocket): routed, authenticated and authorized exactly as a request,
   * its refusals answered as HTTP responses on the socket before any handshake; a Realtime path of a
   * service whose provider has one becomes a RealtimeSession (ADR 022). Every other upgrade is refused.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, path: string, query: string): void {
    const requestId = requestIdOf(req.headers);
    // Over TLS every upgrade comes here; in cleartext the listener declines all but WebSocket ones.
    const websocket = isWebSocketUpgrade(req);
    // Browsers cannot set headers: their consumer key comes as a subprotocol (`openai-insecure-api-key.<key>`).
    const realtimeGuess = guessProviderFromHeaders(req.headers).realtime;
    const protocols = realtimeGuess === undefined ? null : splitProtocols(headerText(req.headers['sec-websocket-protocol']), realtimeGuess);
    const headers = protocols !== null && protocols.key !== null && extractConsumerKey(req.headers) === MISSING_KEY ? { ...req.headers, authorization: `Bearer ${protocols.key}` } : req.headers;
    const caller = this.admitCaller(headers, path);
    if (caller instanceof CallerRefusal) {
      this.refuseUpgrade(req, socket, caller.service, caller.status, caller.code, caller.message, requestId);
      return;
    }
    const { service, grant, providerPath } = caller;
    const realtime = service.provider.realtime;
    if (realtime === undefined || !websocket || !realtime.isSessionPath(providerPath)) {
      this.refuseUpgrade(req, socket, service, 400, 'bad_request', 'This path does not accept a WebSocket upgrade: only the Realtime API of OpenAI and Azure OpenAI services is carried over WebSocket.', requestId);
      return;
    }
    if (req.method !== 'GET' || typeof req.headers['sec-websocket-key'] !== 'string' || req.headers['sec-websocket-version'] !== '13') {
      this.refuseUpgrade(req, socket, service, 400, 'bad_request', 'Not a valid WebSocket handshake (RFC 6455: GET with Sec-WebSocket-Key and Sec-WebSocket-Version 13).', requestId);
      return;
    }
    if (this.draining) {
      this.refuseUpgrade(req, socket, service, 503, 'not_ready', 'This Tokengate proxy is shutting down: open the session again (through another replica).', requestId);
      return;
    }
    const forwarded = splitProtocols(headerText(req.headers['sec-websocket-protocol']), realtime).forwarded;
    const session = new RealtimeSession(this.options, req, socket, head, service, grant, providerPath, query, requestId, forwarded, (done) => this.sessions.delete(done));
    this.sessions.add(session);
    session.start();
  }

  /** Open Realtime sessions (each counted once in the metrics when it ends). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * Route → authenticate → authorize, each an early refusal: the caller's service, grant and provider
   * path, or why it is refused (its service when known, for the error format).
   */
  private admitCaller(headers: IncomingHttpHeaders, path: string): Caller | CallerRefusal {
    // The snapshot is read once: the whole exchange uses this revision even if a newer one is swapped in.
    const snapshot = this.options.holder.current;
    if (snapshot === null) {
      return new CallerRefusal(null, 503, 'not_ready', 'The Tokengate proxy has not received its configuration yet.');
    }
    if (path.charCodeAt(0) !== 47 /* '/' */) {
      return new CallerRefusal(null, 400, 'bad_request', 'The request path is not a valid Tokengate proxy path.');
    }
    const organizationEnd = path.indexOf('/', 1);
    const match = organizationEnd < 0 ? null : snapshot.routes.match(path.slice(1, organizationEnd), path.slice(organizationEnd));
    // A provider path is forwarded as written: refuse any that an upstream decoding or normalizing it
    // could resolve outside the service's base path (path-safety.ts), whatever the route; the route, if
    // any, only picks the error format.
    const pathVerdict = inspectRequestPath(path);
    if (!pathVerdict.safe) {
      return new CallerRefusal(match === null ? null : match.service, 400, 'bad_request', PATH_REFUSAL_MESSAGES[pathVerdict.refusal]);
    }
    if (match === null) {
      return new CallerRefusal(null, 404, 'route_not_found', 'No Tokengate service is published at this path.');
    }
    const service = match.service;
    // Encoded slashes need the provider: Bedrock ARNs carry them in their one identifier segment.
    if (pathVerdict.encodedSlashes && !encodedSlashesAllowed(service.provider, match.providerPath)) {
      return new CallerRefusal(service, 400, 'bad_request', PATH_REFUSAL_MESSAGES.encoded_slash);
    }
    const presented = extractConsumerKey(headers);
    if (presented === MISSING_KEY) {
      return new CallerRefusal(service, 401, 'unauthenticated', 'Missing API key: send your Tokengate consumer key.');
    }
    if (presented === CONFLICTING_KEYS) {
      return new CallerRefusal(service, 401, 'unauthenticated', 'Invalid API key: the request carries different keys in different headers.');
    }
    const grant = snapshot.consumerKeys.lookup(presented);
    if (grant === undefined && this.issuedElsewhere(presented, snapshot.environment)) {
      // The key's own form names another environment (ADR 019): it is not allowed here, whether or not it is live there.
      return new CallerRefusal(service, 403, 'forbidden', `This API key was issued for another environment, not ${snapshot.environment}: call that environment's Tokengate proxy (the connection's endpoint URL there).`);
    }
    if (grant === undefined || grant.organizationId !== service.organizationId) {
      // Another organization's key gets exactly the answer of an unknown one: no tenant learns that a
      // string is a live key elsewhere. 403 stays for a key of this organization used on the wrong service.
      return new CallerRefusal(service, 401, 'unauthenticated', 'Invalid API key.');
    }
    if (grant.serviceId !== service.id) {
      return new CallerRefusal(service, 403, 'forbidden', 'This API key is not allowed to call this service.');
    }
    if (service.authenticator === null) {
      return new CallerRefusal(service, 503, 'backend_not_configured', 'This service has no provider credentials configured in this environment.');
    }
    return { service, grant, providerPath: match.providerPath };
  }

  private refuseUpgrade(req: IncomingMessage, socket: Duplex, service: CompiledService | null, status: number, code: TokengateErrorCode, message: string, requestId: string): void {
    const provider = service === null ? guessProviderFromHeaders(req.headers) : service.provider;
    sendUpgradeRefusal(socket, provider, status, code, message, requestId);
    this.options.metrics.countRequest(service === null ? '' : service.id, service === null ? '' : provider.label, status);
  }

  private refuse(
    req: ProxyRequest,
    res: ProxyResponse,
    service: CompiledService | null,
    status: number,
    code: TokengateErrorCode,
    message: string,
    requestId: string,
    closeConnection = false,
  ): void {
    const provider = service === null ? guessProviderFromHeaders(req.headers) : service.provider;
    sendRefusal(req, res, provider, status, code, message, requestId, closeConnection);
    this.options.metrics.countRequest(service === null ? '' : service.id, service === null ? '' : provider.label, status);
  }

  private forward(req: ProxyRequest, res: ProxyResponse, service: CompiledService, grant: ConsumerKeyGrant, providerPath: string, query: string, requestId: string): void {
    this.inFlight += 1;
    new ProxyExchange(this.options, req, res, service, grant, providerPath, query, requestId, () => this.exchangeDone()).start();
  }

  private exchangeDone(): void {
    this.inFlight -= 1;
    if (this.inFlight === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}

/** Kept here for the tests that import it from this module; the rules live in path-safety.ts. */
export { hasDotSegment } from './path-safety';
