// One proxied request, from its body to its settlement, in the order the steps run:
//   read the body within the limit → decode it for counting → admit (budgets) → authenticate upstream
//   → call the provider → relay the response and observe it → settle (usage, metrics, access log).
// Created per request by ProxyRequestHandler once the route and the consumer key are known; owned by
// that request (not shared), so its state lives in fields rather than closures.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import type { TokengateErrorCode, UpstreamRequestDraft } from '../providers/provider-adapter';
import type { ResponseObserver } from '../providers/usage-accounting';
import type { ConsumerKeyGrant } from '../snapshot/consumer-key-index';
import type { CompiledService } from '../snapshot/compiled-snapshot';
import type { ResponseEnding } from '../usage/recorded-status';
import { RequestMeter, type SettledRequest } from '../usage/request-meter';
import { StreamCutter, type StreamCutoffSink } from '../usage/stream-cutoff';
import {
  CorruptContentEncodingError,
  DecodedBodyTooLargeError,
  UnsupportedContentEncodingError,
  contentCodings,
  decodeBody,
  observableAcceptEncoding,
} from './content-encoding';
import { bodyKind } from '../providers/shared/content-type';
import { clientOrigin, downstreamResponseHeaders, headerText, proxiedLocation, upstreamRequestHeaders } from './forwarded-headers';
import type { ProxyRequestHandlerOptions } from './proxy-request-handler';
import type { ProxyRequest, ProxyResponse } from './proxy-types';
import { sendRefusal } from './refusals';
import { UrlRewritingObserver } from './url-rewriting-observer';

/** Longest a metered response's end waits for its settlement to reach the shared counters. */
const SETTLE_WAIT_MS = 100;
/** Raised inside the proxy to cut an exchange; never shown to clients. */
const CLIENT_GONE = 'client closed the connection';
/** Aborts the upstream request of a stream the proxy ended itself (stream cut-off). */
const STREAM_CUT = 'stream cut off: the budget is used up';

/** The exchanges' timer callback (setTimeout passes the exchange: no closure per request). */
function onExchangeTimer(exchange: ProxyExchange): void {
  exchange.onTimer();
}

function waitAtMost(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export class ProxyExchange implements Dispatcher.DispatchHandler {
  private readonly startedAt = performance.now();
  private readonly draft: UpstreamRequestDraft;
  private readonly meter: RequestMeter;
  /** What the client was answered (499: it left first). */
  private status = 0;
  /** What the provider answered (0: it never did); accounting goes by it, not by what the client saw. */
  private upstreamStatus = 0;
  /** How the upstream response ended: with the observed stream, it decides the status recorded (ADR 021). */
  private ending: ResponseEnding = 'other';
  /** Set once the outcome is decided; later upstream events are echoes of our own teardown. */
  private settled = false;
  /** undici's handle on the upstream request, once it is on a socket. */
  private upstream: Dispatcher.DispatchController | null = null;
  /** Reads usage from the response body as it is relayed; set with the response headers. */
  private observer: ResponseObserver | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** What the timer was set for: the headers timeout, the idle timeout, or what is left of the first idle period. */
  private timerMs = 0;
  /** performance.now() when the response headers came (0 before). */
  private headersAt = 0;
  /** The timer checks the body (every idle period) rather than waiting for the headers. */
  private timingBody = false;
  /** Body chunks relayed; the idle timer compares it with what it saw last time. */
  private bodyActivity = 0;
  /** Some of the response body was written to the client (its headers left with it). */
  private bodyWritten = false;
  private bodyActivitySeen = 0;
  private receivedBytes = 0;
  private sentAt = 0;
  private firstByteSeconds: number | null = null;
  private firstChunkSeconds: number | null = null;
  /**
   * Stream cut-off: the completion tokens this streamed response may carry, set after admission when
   * the service cuts streams and the provider can end this one itself; null otherwise (the relay path
   * then does no cut-off work at all).
   */
  private cutoffAllowance: number | null = null;
  /** JSON members of the answer naming URLs the client follows (ProviderAdapter.responseUrlMembers), or null. */
  private urlMembers: readonly string[] | null = null;
  /** Relays the response event by event when a cut-off applies; null otherwise. */
  private cutter: StreamCutter | null = null;
  /** The cutter's last write found the client buffer full: the upstream stays paused until 'drain'. */
  private cutterAwaitsDrain = false;
  /** A 'drain' listener is on the client response (added the first time a write finds its buffer full). */
  private drainListened = false;

  constructor(
    private readonly options: ProxyRequestHandlerOptions,
    private readonly req: ProxyRequest,
    private readonly res: ProxyResponse,
    private readonly service: CompiledService,
    grant: ConsumerKeyGrant,
    private readonly providerPath: string,
    query: string,
    private readonly requestId: string,
    private readonly onDone: () => void,
  ) {
    const upstream = service.upstream;
    const headers = upstreamRequestHeaders(req.headers);
    headers['host'] = upstream.hostHeader;
    headers['x-request-id'] = requestId;
    // Usage is read from the response: never let the upstream pick a coding the proxy cannot decode.
    const accept = headers['accept-encoding'];
    if (typeof accept === 'string') headers['accept-encoding'] = observableAcceptEncoding(accept);
    this.draft = {
      method: req.method ?? 'GET',
      path: providerPath === '' ? (upstream.basePath === '' ? '/' : upstream.basePath) : upstream.basePath + providerPath,
      query,
      headers,
    };
    this.meter = new RequestMeter(options.metering, service, grant, providerPath);
  }

  start(): void {
    this.res.on('close', () => this.onClientClosed());
    // A request stream errs when its client goes away before the body ends (the socket closed or the
    // HTTP/2 stream reset): nobody is left to answer, so it counts as 499 and 'close' settles it.
    this.req.on('error', () => this.clientLeft());
    this.readBody();
  }

  // ── 1. Read the body within the limit ────────────────────────────────────────────────────────────
  /** The whole body is read (within the limit): it is counted, SigV4 hashes it, and it may be rewritten. */
  private readBody(): void {
    const chunks: Buffer[] = [];
    this.req.on('data', (chunk: Buffer) => {
      if (this.accepts(chunk)) chunks.push(chunk);
    });
    this.req.on('end', () => {
      if (this.settled) return;
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      this.prepare(body).catch((error: unknown) => {
        this.options.logger.error({ requestId: this.requestId, service: this.service.id, error: (error as Error).message }, 'preparing the upstream request failed');
        this.fail(500, 'internal_error', 'The proxy could not prepare the provider request.');
      });
    });
  }

  /** Counts a request body chunk against the limit; false (after answering 413) once it is exceeded or the exchange is over. */
  private accepts(chunk: Buffer): boolean {
    if (this.settled) return false;
    this.receivedBytes += chunk.length;
    if (this.receivedBytes <= this.options.maxBodyBytes) return true;
    this.fail(413, 'request_too_large', `The request body exceeds ${this.options.maxBodyBytes} bytes.`, true);
    return false;
  }

  // ── 2–4. Decode for counting, admit, authenticate ───────────────────────────────────────────────
  private async prepare(clientBody: Buffer): Promise<void> {
    const { draft, meter, service } = this;
    const authenticator = service.authenticator;
    if (authenticator === null) return; // checked by the handler; narrows the type
    // Header credentials first: they may set the query (Azure api-version) the meter reads.
    if (authenticator.kind === 'headers') authenticator.apply(draft);
    let body = clientBody;
    const decoded = this.decodedRequestBody(clientBody);
    if (decoded === null) return;
    let refusal = meter.prepare(decoded, this.req.headers['content-type'], draft.query);
    if (refusal === null) {
      const admission = meter.admit();
      refusal = admission instanceof Promise ? await admission : admission;
    }
    if (refusal !== null) {
      this.fail(refusal.status, refusal.code, refusal.message, false, refusal.headers);
      return;
    }
    if (this.settled) return; // the client left while we were admitting: the meter gives the reservation back
    const prepared = meter.prepared;
    if (prepared !== null && prepared.body !== decoded) {
      // Rewritten (stream_options added): sent decoded, whatever coding the client used.
      body = prepared.body;
      draft.headers['content-length'] = String(body.length);
      delete draft.headers['transfer-encoding'];
      delete draft.headers['content-encoding'];
    }
    // The usage chunk the proxy asked for is cut out of the stream, and a cut-off writes events into
    // it: both need its plain bytes.
    const allowance = meter.cutoffAllowance; // null at once unless the service cuts streams
    this.cutoffAllowance = allowance !== null && prepared !== null && service.provider.streamCutoff?.canCut(prepared) === true ? allowance : null;
    // An answer whose URLs are rewritten is read as plain bytes too.
    this.urlMembers = service.provider.responseUrlMembers?.(this.providerPath) ?? null;
    if (prepared?.stripUsageChunk === true || this.cutoffAllowance !== null || this.urlMembers !== null) draft.headers['accept-encoding'] = 'identity';
    if (authenticator.kind === 'signed-body') await authenticator.sign(draft, body, service.upstream);
    this.call(body);
  }

  /** The body as the provider will read it, or null after refusing a coding the proxy cannot decode. */
  private decodedRequestBody(body: Buffer): Buffer | null {
    const codings = contentCodings(this.req.headers['content-encoding']);
    if (codings.length === 0) return body;
    try {
      return decodeBody(body, codings, this.options.maxBodyBytes);
    } catch (error) {
      if (error instanceof UnsupportedContentEncodingError) this.fail(415, 'unsupported_content_encoding', error.message);
      else if (error instanceof DecodedBodyTooLargeError) this.fail(413, 'request_too_large', `The request body exceeds ${this.options.maxBodyBytes} bytes once decoded.`);
      else if (error instanceof CorruptContentEncodingError) this.fail(400, 'bad_request', error.message);
      else throw error;
      return null;
    }
  }

  // ── 5. Call the provider ─────────────────────────────────────────────────────────────────────────
  private call(body: Buffer): void {
    if (this.settled) return;
    this.sentAt = performance.now();
    this.arm(this.options.upstreamHeadersTimeoutMs);
    const method = this.draft.method;
    // The exchange is its own dispatch handler: undici calls the on* methods below.
    this.service.upstream.agent.dispatch(
      {
        method,
        path: this.draft.path + this.draft.query,
        headers: this.draft.headers as Record<string, string | string[]>,
        body: body.length === 0 && (method === 'GET' || method === 'HEAD') ? null : body,
        // Never resent by undici: the proxy has already charged this request.
        idempotent: false,
        blocking: true,
      },
      this,
    );
  }

  /** The headers timeout, then the idle timeout (see onExchangeTimer). */
  onTimer(): void {
    const idleMs = this.options.upstreamIdleTimeoutMs;
    if (!this.timingBody && this.headersAt !== 0) {
      // The headers timer, left running when the headers came (it fires no later than the first idle
      // check would): from here on the timer checks the body every idle period. Silent since the
      // headers: cut once that has lasted an idle period.
      this.timingBody = true;
      const remaining = this.bodyActivity === 0 ? idleMs - (performance.now() - this.headersAt) : idleMs;
      this.bodyActivitySeen = this.bodyActivity;
      if (remaining > 0) {
        this.arm(remaining);
        return;
      }
    } else if (this.bodyActivity !== this.bodyActivitySeen) {
      // Data flowed since the last check: the stream is alive, wait another idle period.
      this.bodyActivitySeen = this.bodyActivity;
      this.arm(idleMs);
      return;
    }
    if (this.res.headersSent) {
      this.options.logger.warn({ requestId: this.requestId, service: this.service.id, timeoutMs: this.options.upstreamIdleTimeoutMs }, 'upstream response stalled; cutting the stream');
      this.ending = 'timed-out';
    }
    this.fail(504, 'upstream_timeout', 'The provider did not answer in time.');
  }

  /** (Re)starts the exchange's timer for `ms`: refreshed when it already runs for that long. */
  private arm(ms: number): void {
    if (this.timer !== null && this.timerMs === ms) {
      this.timer.refresh();
      return;
    }
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(onExchangeTimer, ms, this);
    this.timerMs = ms;
  }

  /** undici: the request is about to be written to an upstream socket. */
  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.upstream = controller;
    // The exchange ended while undici was still connecting (timeout, client gone): drop the request.
    if (this.settled) controller.abort(new Error(CLIENT_GONE));
  }

  // ── 6. Relay the response and observe it ─────────────────────────────────────────────────────────
  /** undici: the provider's status and headers (1xx informational answers are skipped). */
  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders): void {
    if (status < 200) return;
    const { res, meter, options } = this;
    if (this.settled) {
      controller.abort(new Error(CLIENT_GONE));
      return;
    }
    this.headersAt = performance.now();
    // One timer per exchange: the headers timer goes on timing the body unless it would fire later
    // than the first idle check (see onTimer).
    if (options.upstreamIdleTimeoutMs < options.upstreamHeadersTimeoutMs) {
      this.timingBody = true;
      this.arm(options.upstreamIdleTimeoutMs);
    }
    this.status = status;
    this.upstreamStatus = status;
    this.firstByteSeconds = (this.headersAt - this.sentAt) / 1000;
    const responseHeaders: OutgoingHttpHeaders = downstreamResponseHeaders(headers);
    responseHeaders['x-tokengate-request-id'] = this.requestId;
    if (status >= 300 && status < 400) {
      const location = proxiedLocation(headers['location'], this.service.upstream, this.draft.path, `/${this.service.organizationHandle}${this.service.contextPath}`);
      if (location !== null) responseHeaders['location'] = location;
    }
    this.observer = meter.observe(status, headers);
    const rewriter = this.urlRewriter(this.observer, status, headers);
    if (rewriter !== null) this.observer = rewriter;
    if (this.cutoffAllowance !== null) this.cutter = this.openCutter(status, headers);
    meter.addResponseHeaders(responseHeaders);
    // The observer may hide a chunk the client did not ask for (the injected usage chunk) or rewrite
    // URLs in the body; a cut-off ends the body early, with events of its own.
    if (meter.prepared?.stripUsageChunk === true || this.cutter !== null || rewriter !== null) delete responseHeaders['content-length'];
    try {
      res.writeHead(status, responseHeaders);
    } catch (error) {
      options.logger.warn({ requestId: this.requestId, service: this.service.id, error: (error as Error).message }, 'upstream response headers not relayable');
      this.fail(502, 'upstream_unreachable', 'The provider sent a response the proxy cannot relay.');
      return;
    }
    // A streamed response (SSE, AWS event stream) has no length: the client sees the headers at once,
    // with the first chunk when it came in the same read (one write, one wake-up of the client), else
    // on their own at the end of this turn (a cut-off may hold its first events back: now).
    if (responseHeaders['content-length'] === undefined) {
      if (this.cutter !== null) res.flushHeaders?.();
      else queueMicrotask(() => this.flushHeadersAlone());
    }
  }

  /**
   * An observer that points the answer's URL members (urlMembers) at the proxy, for a plain JSON 2xx
   * answer of such a path; null when there is nothing to rewrite or no origin to point at.
   */
  private urlRewriter(observer: ResponseObserver, status: number, headers: IncomingHttpHeaders): UrlRewritingObserver | null {
    const members = this.urlMembers;
    if (members === null || status < 200 || status > 299 || bodyKind(headerText(headers['content-type'])) !== 'json') return null;
    const coding = headerText(headers['content-encoding']);
    if (coding !== undefined && coding !== '' && coding.toLowerCase() !== 'identity') return null;
    const origin = clientOrigin(this.req.headers, (this.req.socket as { encrypted?: boolean } | null | undefined)?.encrypted === true);
    if (origin === null) return null;
    const { service } = this;
    const prefix = `/${service.organizationHandle}${service.contextPath}`;
    return new UrlRewritingObserver(observer, members, (url) => {
      const path = proxiedLocation(url, service.upstream, this.draft.path, prefix);
      return path === null ? null : origin + path;
    });
  }

  /** The end of the turn the streamed response's headers came in: sends them unless a chunk or the end took them. */
  private flushHeadersAlone(): void {
    if (!this.bodyWritten && !this.settled) this.res.flushHeaders?.();
  }

  /** The client's buffer is full: the upstream stays paused until it drains (listened for once, on the first time). */
  private pauseUntilDrained(): void {
    this.upstream?.pause();
    if (this.drainListened) return;
    this.drainListened = true;
    this.res.on('drain', () => {
      this.cutterAwaitsDrain = false;
      if (this.cutter?.holding !== true) this.upstream?.resume();
    });
  }

  /** undici: a chunk of the response body, relayed as it comes; the upstream pauses while the client is slower. */
  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const observer = this.observer;
    if (this.settled || observer === null) return;
    this.bodyActivity += 1;
    if (this.firstChunkSeconds === null) this.firstChunkSeconds = (performance.now() - this.startedAt) / 1000;
    if (this.cutter !== null) {
      this.cutter.write(chunk);
      return;
    }
    const out = observer.write(chunk);
    if (out.length === 0) return;
    this.bodyWritten = true;
    if (!this.res.write(out)) this.pauseUntilDrained();
  }

  /** undici: the response is complete. */
  onResponseEnd(): void {
    if (this.settled || this.observer === null) return;
    this.ending = 'ended';
    // A cutter may still hold events waiting for a count: it ends the response once they are relayed.
    if (this.cutter !== null) this.cutter.end();
    else this.endResponse();
  }

  /** Ends the client response after the provider's (or a cut-off's closing events), settling first. */
  private endResponse(): void {
    const observer = this.observer;
    if (this.settled || observer === null) return;
    this.settled = true;
    const rest = observer.flush();
    const end = (): void => {
      if (rest.length > 0) this.res.end(rest);
      else this.res.end();
    };
    // Settle before the client sees the end, so its next request meets the true counters (and an
    // uploaded file is marked before the client can download it); a slow Redis delays the end by at
    // most SETTLE_WAIT_MS (settlement then finishes in the background).
    const { meter } = this;
    if (!meter.settlesBeforeEnd) return end();
    const settlement = meter.finish(this.upstreamStatus, this.status, this.ending);
    // Most settlements need no wait (the correction gives tokens back to this proxy's lease).
    if (meter.settled !== undefined) return end();
    // HTTP/1.1: the connection stays corked meanwhile, so what was relayed in this turn and the end
    // still leave in one write, as on the unlimited path (a settlement takes a few microtasks at least).
    // Not HTTP/2, whose socket is the whole session's.
    const cork = this.req.httpVersionMajor === 1;
    if (cork) this.res.cork();
    void waitAtMost(settlement.then(() => undefined), SETTLE_WAIT_MS).then(() => {
      end();
      if (cork) this.res.uncork();
    });
  }

  /** undici: the upstream could not be reached, or broke (or was cut by the proxy) before the end. */
  onResponseError(_controller: Dispatcher.DispatchController, error: Error & { code?: string }): void {
    if (this.settled) return;
    // The cut-off is ending the stream itself: the provider going away meanwhile changes nothing.
    if (this.cutter?.closing === true) return;
    if (this.res.headersSent) {
      // Closed before its end: the provider connection broke mid-stream. Cut the client stream so the
      // SDK sees an error instead of a silently truncated body.
      this.options.logger.warn({ requestId: this.requestId, service: this.service.id, error: error.code ?? error.message }, 'upstream response broke after its headers; cutting the stream');
      this.settled = true;
      this.ending = 'broken';
      this.cutter?.abandon();
      this.res.destroy();
      return;
    }
    this.options.logger.warn({ requestId: this.requestId, service: this.service.id, error: error.code ?? error.message }, 'upstream request failed');
    this.fail(502, 'upstream_unreachable', 'The provider could not be reached.');
  }

  // ── Stream cut-off ──────────────────────────────────────────────────────────────────────────────
  /** The cutter for a 2xx uncompressed stream the provider can end; null when this response cannot be cut. */
  private openCutter(status: number, headers: IncomingHttpHeaders): StreamCutter | null {
    const { meter, service, options } = this;
    const prepared = meter.prepared;
    const allowance = this.cutoffAllowance;
    const cutoff = service.provider.streamCutoff;
    // Events cannot be written into a compressed body (the upstream ignored `identity`).
    if (prepared === null || allowance === null || cutoff === undefined || status < 200 || status > 299 || contentCodings(headers['content-encoding']).length > 0) return null;
    const reader = cutoff.open(prepared, headers['content-type']);
    if (reader === null) return null;
    const { counter } = options.metering;
    const provider = service.provider.id;
    return new StreamCutter(
      reader,
      allowance,
      {
        countText: (text) => counter.countText(provider, prepared.model, text),
        countPrompt: () => counter.countPrompt(provider, this.providerPath, prepared.json, prepared.model, prepared.body),
      },
      this.cutoffSink(),
      () => performance.now() - this.sentAt,
    );
  }

  private cutoffSink(): StreamCutoffSink {
    return {
      relay: (bytes) => {
        const observer = this.observer;
        if (this.settled || observer === null) return;
        const out = observer.write(bytes);
        if (out.length > 0 && !this.res.write(out)) {
          this.cutterAwaitsDrain = true;
          this.pauseUntilDrained();
        }
      },
      hold: () => this.upstream?.pause(),
      release: () => {
        if (!this.settled && !this.cutterAwaitsDrain) this.upstream?.resume();
      },
      cut: () => {
        if (this.settled) return;
        this.options.logger.info({ requestId: this.requestId, service: this.service.id, allowance: this.cutoffAllowance }, 'stream cut off at the budget');
        this.ending = 'other'; // ended by the proxy: not the provider's failure
        this.endResponse(); // settled from here on: the abort's onResponseError is an echo
        // The provider would go on generating (and billing) what nobody reads.
        this.upstream?.abort(new Error(STREAM_CUT));
      },
      ended: () => this.endResponse(),
      gaveUp: (reason) => this.options.logger.warn({ requestId: this.requestId, service: this.service.id, reason }, 'stream cut-off abandoned; relaying the stream uncut'),
    };
  }

  // ── Endings ─────────────────────────────────────────────────────────────────────────────────────
  /** Ends the exchange with a refusal when nothing was sent yet, else by cutting the client stream. */
  private fail(httpStatus: number, code: TokengateErrorCode, message: string, closeConnection = false, extraHeaders?: Record<string, string>): void {
    if (this.settled) return;
    this.settled = true;
    this.cutter?.abandon();
    this.upstream?.abort(new Error(CLIENT_GONE));
    if (!this.res.headersSent) {
      this.status = httpStatus;
      sendRefusal(this.req, this.res, this.service.provider, httpStatus, code, message, this.requestId, closeConnection, extraHeaders);
    } else {
      this.res.destroy();
    }
  }

  private onClientClosed(): void {
    this.clientLeft();
    this.finish();
  }

  /**
   * Not settled means the response was not ended by us: the client went away first (abort, reset,
   * HTTP/2 RST_STREAM). writableFinished cannot tell: the http2 compat response reports a reset
   * stream as finished.
   */
  private clientLeft(): void {
    if (this.settled) return;
    this.settled = true;
    this.cutter?.abandon();
    if (this.status === 0) this.status = 499;
    this.upstream?.abort(new Error(CLIENT_GONE));
  }

  // ── 7. Settle ───────────────────────────────────────────────────────────────────────────────────
  private finish(): void {
    const { meter } = this;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const durationSeconds = (performance.now() - this.startedAt) / 1000;
    const settlement = meter.finish(this.upstreamStatus, this.status, this.ending);
    // Recorded once settled: the response model, the tokens and the outcome of a stream are known only then.
    const settled = meter.settled;
    if (settled !== undefined) this.recordExchange(settled, durationSeconds);
    else void settlement.then((later) => this.recordExchange(later, durationSeconds));
  }

  private recordExchange(settled: SettledRequest | null, durationSeconds: number): void {
    const { options, service, meter, requestId } = this;
    const prepared = meter.prepared;
    // The outcome, as the usage report has it: a 2xx stream that failed afterwards is recorded as
    // its failure (ADR 021), the client's status beside it in the access log.
    const status = meter.recordedStatus ?? this.status;
    options.metrics.countRequest(service.id, service.provider.label, status);
    if (options.accessLog) {
      options.logger.info(
        {
          requestId,
          method: this.draft.method,
          organization: service.organizationHandle,
          service: service.id,
          provider: service.provider.label,
          status,
          ...(status === this.status ? {} : { clientStatus: this.status }),
          durationMs: Math.round(durationSeconds * 1e6) / 1000,
        },
        'proxied request',
      );
    }
    options.metrics.observeExchange({
      serviceId: service.id,
      provider: service.provider.label,
      operation: prepared?.operation ?? 'other',
      requestModel: prepared?.model ?? null,
      responseModel: settled?.responseModel ?? null,
      status,
      durationSeconds,
      firstByteSeconds: this.firstByteSeconds,
      firstChunkSeconds: prepared?.stream === true ? this.firstChunkSeconds : null,
      usage: settled?.usage ?? null,
    });
    // Done only once settled: a proxy shutting down waits for the last usage to be reported.
    this.onDone();
  }
}
