// The request path: route → authenticate → authorize → rewrite credentials → forward → stream back.
// Hot path: no body parsing, no configuration parsing (everything comes precompiled in the snapshot),
// headers built as plain objects, one upstream request per client request.
import { randomUUID } from 'node:crypto';
import type { ClientRequest, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { DataPlaneMetrics } from '../observability/data-plane-metrics';
import type { TokengateErrorCode, UpstreamRequestDraft } from '../providers/provider-adapter';
import type { CompiledService } from '../snapshot/compiled-snapshot';
import { type MeterDependencies, type RequestMeter, meterRequest } from '../rate-limit/request-meter';
import type { SnapshotHolder } from '../snapshot/snapshot-holder';
import { CONFLICTING_KEYS, MISSING_KEY, extractConsumerKey } from './consumer-key';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './forwarded-headers';
import type { ProxyRequest, ProxyResponse } from './proxy-types';
import { guessProviderFromHeaders, sendRefusal } from './refusals';

export interface ProxyRequestHandlerOptions {
  readonly holder: SnapshotHolder;
  readonly metrics: DataPlaneMetrics;
  readonly logger: Logger;
  /** Request bodies above this many bytes get 413 (Content-Length checked first, streamed bytes counted). */
  readonly maxBodyBytes: number;
  /** From sending the request upstream to its response headers; past it: 504. */
  readonly upstreamHeadersTimeoutMs: number;
  /** Longest silence of the upstream response body once headers arrived; past it the stream is cut. */
  readonly upstreamIdleTimeoutMs: number;
  /** One info line per proxied request (never keys, credentials, queries or bodies). */
  readonly accessLog: boolean;
  /** Token accounting for services with a rate limit; null: limits are not enforced. */
  readonly metering: MeterDependencies | null;
}

const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;
/** Longest a metered response's end waits for its settlement to reach the shared counters. */
const SETTLE_WAIT_MS = 100;

function waitAtMost(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Raised inside the proxy to cut an exchange; never shown to clients. */
const CLIENT_GONE = 'client closed the connection';

export class ProxyRequestHandler {
  private inFlight = 0;
  private draining = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: ProxyRequestHandlerOptions) {}

  /** Exchanges currently being forwarded. */
  get inFlightCount(): number {
    return this.inFlight;
  }

  /** From now on HTTP/1.1 responses carry `Connection: close`, so clients move to another replica. */
  startDraining(): void {
    this.draining = true;
  }

  /** Resolves once no exchange is being forwarded. */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Entry point for both protocols; `path` and `query` are split from req.url by the caller. */
  handle(req: ProxyRequest, res: ProxyResponse, path: string, query: string): void {
    if (this.draining && req.httpVersionMajor === 1) res.setHeader('connection', 'close');
    const headers = req.headers;
    const requestIdHeader = headers['x-request-id'];
    const requestId = typeof requestIdHeader === 'string' && REQUEST_ID.test(requestIdHeader) ? requestIdHeader : randomUUID();
    // The snapshot is read once: the whole exchange uses this revision even if a newer one is swapped in.
    const snapshot = this.options.holder.current;
    if (snapshot === null) {
      this.refuse(req, res, null, 503, 'not_ready', 'The Tokengate proxy has not received its configuration yet.', requestId);
      return;
    }
    if (path.charCodeAt(0) !== 47 /* '/' */ || hasDotSegment(path)) {
      this.refuse(req, res, null, 400, 'bad_request', 'The request path is not a valid Tokengate proxy path.', requestId);
      return;
    }
    const organizationEnd = path.indexOf('/', 1);
    const match = organizationEnd < 0 ? null : snapshot.routes.match(path.slice(1, organizationEnd), path.slice(organizationEnd));
    if (match === null) {
      this.refuse(req, res, null, 404, 'route_not_found', 'No Tokengate service is published at this path.', requestId);
      return;
    }
    const service = match.service;
    const presented = extractConsumerKey(headers);
    if (presented === MISSING_KEY) {
      this.refuse(req, res, service, 401, 'unauthenticated', 'Missing API key: send your Tokengate consumer key.', requestId);
      return;
    }
    if (presented === CONFLICTING_KEYS) {
      this.refuse(req, res, service, 401, 'unauthenticated', 'Invalid API key: the request carries different keys in different headers.', requestId);
      return;
    }
    const grant = snapshot.consumerKeys.lookup(presented);
    if (grant === undefined || grant.organizationId !== service.organizationId) {
      // Another organization's key gets exactly the answer of an unknown one: no tenant learns that a
      // string is a live key elsewhere. 403 stays for a key of this organization used on the wrong service.
      this.refuse(req, res, service, 401, 'unauthenticated', 'Invalid API key.', requestId);
      return;
    }
    if (grant.serviceId !== service.id) {
      this.refuse(req, res, service, 403, 'forbidden', 'This API key is not allowed to call this service.', requestId);
      return;
    }
    if (service.authenticator === null) {
      this.refuse(req, res, service, 503, 'backend_not_configured', 'This service has no provider credentials configured in this environment.', requestId);
      return;
    }
    const contentLength = headers['content-length'];
    if (contentLength !== undefined && Number(contentLength) > this.options.maxBodyBytes) {
      this.refuse(req, res, service, 413, 'request_too_large', `The request body exceeds ${this.options.maxBodyBytes} bytes.`, requestId, true);
      return;
    }
    this.forward(req, res, service, match.providerPath, query, requestId, grant.connectionId);
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

  private forward(req: ProxyRequest, res: ProxyResponse, service: CompiledService, providerPath: string, query: string, requestId: string, connectionId: string): void {
    const options = this.options;
    // Rate-limited services are metered: their bodies are read whole (within the limit) and counted.
    const metering = service.rateLimit !== null ? options.metering : null;
    let meter: RequestMeter | null = null;
    /** What the provider answered (0: it never did); accounting goes by it, not by what the client saw. */
    let upstreamStatus = 0;
    const startedAt = performance.now();
    let sentAt = 0;
    let firstByteSeconds: number | null = null;
    const upstream = service.upstream;
    const authenticator = service.authenticator;
    const provider = service.provider;
    if (authenticator === null) return; // checked by handle(); narrows the type

    const headers = upstreamRequestHeaders(req.headers);
    headers['host'] = upstream.hostHeader;
    headers['x-request-id'] = requestId;
    const draft: UpstreamRequestDraft = {
      method: req.method ?? 'GET',
      path: providerPath === '' ? (upstream.basePath === '' ? '/' : upstream.basePath) : upstream.basePath + providerPath,
      query,
      headers,
    };

    this.inFlight += 1;
    let status = 0;
    /** Set once the exchange's outcome is decided; later upstream events are echoes of our own teardown. */
    let settled = false;
    let upstreamRequest: ClientRequest | null = null;
    let timer: NodeJS.Timeout | null = null;
    let bodyActivity = 0;
    let bodyActivitySeen = 0;
    let receivedBytes = 0;

    const finish = (): void => {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      void meter?.finish(upstreamStatus);
      this.inFlight -= 1;
      if (this.inFlight === 0 && this.idleWaiters.length > 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const resolve of waiters) resolve();
      }
      options.metrics.countRequest(service.id, provider.label, status);
      options.metrics.observeExchange(service.id, provider.label, (performance.now() - startedAt) / 1000, firstByteSeconds);
      if (options.accessLog) {
        options.logger.info(
          { requestId, method: draft.method, organization: service.organizationHandle, service: service.id, provider: provider.label, status, durationMs: Math.round((performance.now() - startedAt) * 1000) / 1000 },
          'proxied request',
        );
      }
    };

    /** Ends the exchange with a refusal when nothing was sent yet, else by cutting the client stream. */
    const fail = (httpStatus: number, code: TokengateErrorCode, message: string, closeConnection = false, extraHeaders?: Record<string, string>): void => {
      if (settled) return;
      settled = true;
      if (upstreamRequest !== null) upstreamRequest.destroy();
      if (!res.headersSent) {
        status = httpStatus;
        sendRefusal(req, res, provider, httpStatus, code, message, requestId, closeConnection, extraHeaders);
      } else {
        res.destroy();
      }
    };

    res.on('close', () => {
      // Not settled means the response was not ended by us: the client went away first (abort, reset,
      // HTTP/2 RST_STREAM). writableFinished cannot tell: the http2 compat response reports a reset
      // stream as finished.
      if (!settled) {
        settled = true;
        if (status === 0) status = 499;
        if (upstreamRequest !== null) upstreamRequest.destroy(new Error(CLIENT_GONE));
      }
      finish();
    });
    req.on('error', () => fail(400, 'bad_request', 'The request body could not be read.'));

    const onTimer = (): void => {
      if (bodyActivity !== bodyActivitySeen) {
        // Data flowed since the last check: the stream is alive, wait another idle period.
        bodyActivitySeen = bodyActivity;
        timer?.refresh();
        return;
      }
      if (res.headersSent) {
        options.logger.warn({ requestId, service: service.id, timeoutMs: options.upstreamIdleTimeoutMs }, 'upstream response stalled; cutting the stream');
      }
      fail(504, 'upstream_timeout', 'The provider did not answer in time.');
    };

    const relayResponse = (upstreamResponse: IncomingMessage): void => {
      if (settled) {
        upstreamResponse.resume();
        return;
      }
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(onTimer, options.upstreamIdleTimeoutMs);
      status = upstreamResponse.statusCode ?? 502;
      upstreamStatus = status;
      firstByteSeconds = (performance.now() - sentAt) / 1000;
      const responseHeaders: OutgoingHttpHeaders = downstreamResponseHeaders(upstreamResponse.headers);
      responseHeaders['x-tokengate-request-id'] = requestId;
      const observer = meter === null ? null : meter.observe(status, upstreamResponse.headers['content-type'], upstreamResponse.headers);
      if (meter !== null) {
        Object.assign(responseHeaders, meter.responseHeaders());
        // The observer may hide a chunk the client did not ask for (the injected usage chunk).
        if (meter.prepared.stripUsageChunk) delete responseHeaders['content-length'];
      }
      try {
        res.writeHead(status, responseHeaders);
      } catch (error) {
        options.logger.warn({ requestId, service: service.id, error: (error as Error).message }, 'upstream response headers not relayable');
        fail(502, 'upstream_unreachable', 'The provider sent a response the proxy cannot relay.');
        return;
      }
      // A streamed response (SSE, AWS event stream) has no length: let the client see the headers now.
      if (responseHeaders['content-length'] === undefined) res.flushHeaders?.();
      if (observer === null) {
        upstreamResponse.on('data', (chunk: Buffer) => {
          bodyActivity += 1;
          if (!res.write(chunk)) upstreamResponse.pause();
        });
      } else {
        upstreamResponse.on('data', (chunk: Buffer) => {
          bodyActivity += 1;
          const out = observer.write(chunk);
          if (out.length > 0 && !res.write(out)) upstreamResponse.pause();
        });
      }
      res.on('drain', () => upstreamResponse.resume());
      upstreamResponse.on('end', () => {
        if (settled) return;
        settled = true;
        const rest = observer?.flush();
        const end = (): void => {
          if (rest !== undefined && rest.length > 0) res.end(rest);
          else res.end();
        };
        // Settle before the client sees the end, so its next request meets the true counters; a slow
        // Redis delays the end by at most SETTLE_WAIT_MS (settlement then finishes in the background).
        if (meter === null) end();
        else void waitAtMost(meter.finish(upstreamStatus), SETTLE_WAIT_MS).then(end);
        // The provider answered before the client finished uploading (e.g. an early 4xx): the rest of the
        // body is dropped, and the half-sent upstream request must not keep its pooled socket.
        if (upstreamRequest !== null && !upstreamRequest.writableEnded) upstreamRequest.destroy();
      });
      upstreamResponse.on('close', () => {
        // Closed before its end: the provider connection broke mid-stream. Cut the client stream so the
        // SDK sees an error instead of a silently truncated body.
        if (!upstreamResponse.complete && !settled) {
          settled = true;
          res.destroy();
        }
      });
      upstreamResponse.on('error', () => undefined); // 'close' above decides; this keeps 'aborted' errors from throwing
    };

    /** Counts a request body chunk against the limit; false (after answering 413) once it is exceeded or the exchange is over. */
    const accepts = (chunk: Buffer): boolean => {
      if (settled) return false;
      receivedBytes += chunk.length;
      if (receivedBytes <= options.maxBodyBytes) return true;
      fail(413, 'request_too_large', `The request body exceeds ${options.maxBodyBytes} bytes.`, true);
      return false;
    };

    const send = (body: Buffer | null): void => {
      if (settled) return;
      const outgoing = upstream.request({
        agent: upstream.agent,
        hostname: upstream.hostname,
        port: upstream.port,
        method: draft.method,
        path: draft.path + draft.query,
        headers: draft.headers,
      });
      upstreamRequest = outgoing;
      sentAt = performance.now();
      timer = setTimeout(onTimer, options.upstreamHeadersTimeoutMs);
      outgoing.on('error', (error: NodeJS.ErrnoException) => {
        if (settled) return;
        options.logger.warn({ requestId, service: service.id, error: error.code ?? error.message }, 'upstream request failed');
        fail(502, 'upstream_unreachable', 'The provider could not be reached.');
      });
      outgoing.on('response', relayResponse);
      if (body !== null) {
        outgoing.end(body);
        return;
      }
      req.on('data', (chunk: Buffer) => {
        if (accepts(chunk) && !outgoing.write(chunk)) req.pause();
      });
      outgoing.on('drain', () => req.resume());
      req.on('end', () => {
        if (!settled) outgoing.end();
      });
    };

    if (authenticator.kind === 'headers' && metering === null) {
      authenticator.apply(draft);
      send(null);
      return;
    }
    /** With the whole body read: meter it (rate-limited services), authenticate, send. */
    const proceed = async (clientBody: Buffer): Promise<void> => {
      let body = clientBody;
      // Header credentials first: they may set the query (Azure api-version) the meter reads.
      if (authenticator.kind === 'headers') authenticator.apply(draft);
      if (metering !== null) {
        const decision = await meterRequest(metering, service, connectionId, providerPath, clientBody, req.headers['content-type'], draft.query);
        if (decision.kind === 'refused') {
          fail(decision.status, decision.code, decision.message, false, decision.headers);
          return;
        }
        if (settled) {
          void decision.meter.finish(0); // the client left while we were admitting: give the reservation back
          return;
        }
        meter = decision.meter;
        body = meter.prepared.body;
        if (body !== clientBody) {
          draft.headers['content-length'] = String(body.length);
          delete draft.headers['transfer-encoding'];
        }
      }
      if (authenticator.kind === 'signed-body') await authenticator.sign(draft, body, upstream);
      send(body);
    };
    // SigV4 covers the payload hash and metering counts it, so the body is buffered (within the limit).
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      if (accepts(chunk)) chunks.push(chunk);
    });
    req.on('end', () => {
      if (settled) return;
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      proceed(body).catch((error: unknown) => {
        options.logger.error({ requestId, service: service.id, error: (error as Error).message }, 'preparing the upstream request failed');
        fail(500, 'internal_error', 'The proxy could not prepare the provider request.');
      });
    });
  }

}

/** True when a path has a '.' or '..' segment, literal or percent-encoded; such paths are refused, never forwarded. */
export function hasDotSegment(path: string): boolean {
  // Fast path: no "/." and no percent-escape starting with 2 (which %2e/%2E need).
  if (path.indexOf('/.') < 0 && path.indexOf('%2') < 0) return false;
  for (const segment of path.split('/')) {
    if (segment.length === 0 || segment.length > 6) continue;
    const decoded = segment.replace(/%2e/gi, '.');
    if (decoded === '.' || decoded === '..') return true;
  }
  return false;
}
