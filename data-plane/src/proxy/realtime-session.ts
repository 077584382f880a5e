// One Realtime WebSocket session through the proxy (ADR 022), once the upgrade request is routed and
// its consumer key accepted: admit it against the budgets, open the upstream WebSocket with the
// provider's credentials, then complete the client's handshake and relay messages both ways unchanged
// (text and binary, ping and pong, close codes) while every `response.done` is metered. Created per
// upgrade by ProxyRequestHandler and owned by it (not shared).
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { TokengateErrorCode, UpstreamRequestDraft } from '../providers/provider-adapter';
import type { RealtimeSupport } from '../providers/realtime';
import type { TokenUsage } from '../providers/usage-accounting';
import type { ConsumerKeyGrant } from '../snapshot/consumer-key-index';
import type { CompiledService } from '../snapshot/compiled-snapshot';
import { SessionMeter } from '../usage/session-meter';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './forwarded-headers';
import type { ProxyRequestHandlerOptions } from './proxy-request-handler';
import { sendUpgradeRefusal, writeRawResponse } from './refusals';

/** Bytes handed to one side and not yet written to its socket, above which the other side stops being read. */
const HIGH_WATER_BYTES = 1 << 20;
/** ... and below which it is read again. */
const LOW_WATER_BYTES = 256 << 10;
/** Largest message relayed either way (OpenAI caps client events at 15 MiB). */
const MAX_MESSAGE_BYTES = 16 << 20;
/** An upstream refusal's body relayed to the client is cut at this size. */
const MAX_REFUSAL_BODY_BYTES = 64 << 10;
/** Handshake headers the WebSocket client sets itself, per connection. */
const HANDSHAKE_HEADERS = ['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-protocol', 'host'];
/**
 * Whether one side of a session is alive: it sent something (a message, a ping, a pong) during the
 * last keep-alive period, or answers within two periods the ping it got after a silent one. Two, not
 * one: a tick of the keep-alive timer that comes late (the proxy's event loop was busy) runs before
 * the socket reads that waited meanwhile, so one silent period after the ping may only be a pong not
 * read yet; a whole further period of reads is not.
 */
export class PeerLiveness {
  private heard = true;
  /** Keep-alive periods in a row in which nothing came: 1 gets the ping, 3 means gone. */
  private silentPeriods = 0;

  /** Anything came from the peer. */
  heardFrom(): void {
    this.heard = true;
  }

  /**
   * One keep-alive period ended: true when the peer sent nothing in the two periods since it was
   * pinged (it is gone); else `ping` is called when this period was its first silent one.
   */
  periodEnded(ping: () => void): boolean {
    if (this.heard) {
      this.heard = false;
      this.silentPeriods = 0;
      return false;
    }
    this.silentPeriods += 1;
    if (this.silentPeriods === 1) ping();
    return this.silentPeriods >= 3;
  }
}

/** The close code and reason a client gets when the session used up a budget. */
const BUDGET_CLOSE_CODE = 1008;
/** Payload of the proxy's own keep-alive pings: their pongs end at the proxy, never relayed. */
const KEEPALIVE_PING = Buffer.from('tokengate-keepalive');

/** Close codes an endpoint may send in a close frame (RFC 6455 §7.4; 1005, 1006 and 1015 are never sent). */
function sendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/** The client's offered subprotocols, split into the ones to forward and a consumer key carried in one (browsers). */
export function splitProtocols(header: string | undefined, realtime: RealtimeSupport): { forwarded: string[]; key: string | null } {
  const forwarded: string[] = [];
  let key: string | null = null;
  if (header === undefined) return { forwarded, key };
  for (const entry of header.split(',')) {
    const protocol = entry.trim();
    if (protocol === '') continue;
    const carried = realtime.keyInProtocol(protocol);
    if (carried === null) forwarded.push(protocol);
    else key = carried;
  }
  return { forwarded, key };
}

/** The side a relay reads from: ws's WebSocket pause()/resume() stop and restart reading its socket. */
export interface RelaySource {
  pause(): void;
  resume(): void;
}

/** The side a relay writes to (a ws WebSocket): `done` is called once the message is written to its socket. */
export interface RelaySink {
  readonly readyState: number;
  send(data: Buffer, options: { binary: boolean }, done: (error?: Error) => void): void;
}

/**
 * One direction of a session: passes messages on unchanged and keeps the buffering bounded — the
 * bytes handed to `to` and not yet written are counted, and `from` stops being read above
 * `highWater` until they fall to `lowWater` (TCP then pushes back on that peer).
 */
export class MessageRelay {
  private pending = 0;
  private paused = false;

  constructor(
    private readonly from: RelaySource,
    private readonly to: RelaySink,
    private readonly highWater = HIGH_WATER_BYTES,
    private readonly lowWater = LOW_WATER_BYTES,
  ) {}

  /** Bytes handed to the receiving side and not yet written to its socket. */
  get buffered(): number {
    return this.pending;
  }

  /** Whether the reading side is paused (the receiving side is slow): its silence then says nothing. */
  get holding(): boolean {
    return this.paused;
  }

  pass(data: Buffer, isBinary: boolean): void {
    if (this.to.readyState !== WebSocket.OPEN) return;
    const size = data.length;
    this.pending += size;
    this.to.send(data, { binary: isBinary }, () => {
      this.pending -= size;
      if (this.paused && this.pending <= this.lowWater) {
        this.paused = false;
        this.from.resume();
      }
    });
    if (!this.paused && this.pending > this.highWater) {
      this.paused = true;
      this.from.pause();
    }
  }
}

export class RealtimeSession {
  private readonly startedAt = performance.now();
  private readonly meter: SessionMeter;
  private readonly realtime: RealtimeSupport;
  private upstream: WebSocket | null = null;
  private client: WebSocket | null = null;
  /** HTTP status of the upgrade: 101 once the client's handshake is done, else what it was refused with. */
  private status = 0;
  /** Close code each side ended with (0 while open). */
  private clientCloseCode = 0;
  private upstreamCloseCode = 0;
  private responses = 0;
  private readonly usage = { promptTokens: 0, completionTokens: 0 };
  /** The model the session runs, as the provider named it. */
  private responseModel: string | null = null;
  /** performance.now() of the session's opening or last response.done: a response's duration is measured from it. */
  private lastResponseAt = 0;
  /** Why the proxy itself ended the session, for the access log. */
  private endedBy: string | null = null;
  private finished = false;
  /** Pings each silent side every realtimeKeepaliveMs, and ends a session whose side stopped answering (or whose provider stalled). */
  private keepalive: NodeJS.Timeout | null = null;
  /** Responses the provider started (`response.created`) and has not ended (`response.done`). */
  private openResponses = 0;
  /** performance.now() of the provider's last message. */
  private upstreamHeardAt = 0;

  constructor(
    private readonly options: ProxyRequestHandlerOptions,
    private readonly req: IncomingMessage,
    private readonly socket: Duplex,
    private readonly head: Buffer,
    private readonly service: CompiledService,
    grant: ConsumerKeyGrant,
    private readonly providerPath: string,
    private readonly query: string,
    private readonly requestId: string,
    private readonly forwardedProtocols: readonly string[],
    private readonly onDone: (session: RealtimeSession) => void,
  ) {
    this.realtime = service.provider.realtime as RealtimeSupport;
    this.meter = new SessionMeter(options.metering, service, grant, this.realtime.requestModel(query));
  }

  start(): void {
    this.socket.on('close', () => {
      // Gone before the handshake completed (refused, or the client left while the upstream was dialled).
      if (this.client === null) this.clientGone();
    });
    this.meter.admit().then(
      (refusal) => {
        if (refusal !== null) this.refuse(refusal.status, refusal.code, refusal.message, refusal.headers);
        else this.openUpstream();
      },
      (error: unknown) => {
        this.options.logger.error({ requestId: this.requestId, service: this.service.id, error: (error as Error).message }, 'admitting a realtime session failed');
        this.refuse(500, 'internal_error', 'The proxy could not admit the session.');
      },
    );
  }

  /** Proxy shutdown: both sides are told the proxy is going away (1001). */
  goAway(): void {
    if (this.client === null) {
      this.upstream?.terminate();
      this.socket.destroy();
      return;
    }
    this.endedBy ??= 'proxy shutting down';
    this.closeBoth(1001, 'proxy shutting down', 1001);
  }

  // ── Upstream ─────────────────────────────────────────────────────────────────────────────────────
  private openUpstream(): void {
    if (this.finished || this.socket.destroyed) return this.clientGone();
    const { service } = this;
    const upstream = service.upstream;
    const headers = upstreamRequestHeaders(this.req.headers);
    for (const name of HANDSHAKE_HEADERS) delete headers[name];
    headers['x-request-id'] = this.requestId;
    const draft: UpstreamRequestDraft = { method: 'GET', path: upstream.basePath + this.providerPath, query: this.query, headers };
    const authenticator = service.authenticator;
    // Realtime providers authenticate with headers; a signing one (Bedrock SigV4) has no Realtime API.
    if (authenticator?.kind !== 'headers') return this.refuse(501, 'unsupported_operation', 'This service cannot carry WebSocket sessions.');
    authenticator.apply(draft);
    delete draft.headers['host'];
    const url = `${upstream.protocol === 'https:' ? 'wss:' : 'ws:'}//${upstream.hostHeader}${draft.path}${draft.query}`;
    const socket = new WebSocket(url, [...this.forwardedProtocols], {
      headers: draft.headers as Record<string, string>,
      perMessageDeflate: false,
      autoPong: false,
      maxPayload: MAX_MESSAGE_BYTES,
      handshakeTimeout: this.options.upstreamHeadersTimeoutMs,
      followRedirects: false,
      ...(this.options.upstreamCa === undefined ? {} : { ca: this.options.upstreamCa }),
    });
    this.upstream = socket;
    socket.on('unexpected-response', (_request, response) => this.relayUpstreamRefusal(response));
    socket.on('error', (error: Error & { code?: string }) => {
      if (this.client !== null) {
        this.options.logger.debug({ requestId: this.requestId, error: error.message }, 'realtime upstream error');
        return;
      }
      if (this.status !== 0) return;
      this.options.logger.warn({ requestId: this.requestId, service: this.service.id, error: error.code ?? error.message }, 'realtime upstream unreachable');
      if (/handshake has timed out/i.test(error.message)) this.refuse(504, 'upstream_timeout', 'The provider did not answer in time.');
      else this.refuse(502, 'upstream_unreachable', 'The provider could not be reached.');
    });
    socket.on('open', () => this.acceptClient(socket));
  }

  /** The provider refused the upgrade with an HTTP response: the client gets it as the provider sent it (its error format). */
  private relayUpstreamRefusal(response: IncomingMessage): void {
    const status = response.statusCode ?? 502;
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (chunk: Buffer) => {
      if (size < MAX_REFUSAL_BODY_BYTES) chunks.push(chunk);
      size += chunk.length;
    });
    const done = (): void => {
      if (this.status !== 0) return;
      this.status = status;
      const headers = downstreamResponseHeaders(response.headers);
      headers['x-tokengate-request-id'] = this.requestId;
      writeRawResponse(this.socket, status, headers, Buffer.concat(chunks).subarray(0, MAX_REFUSAL_BODY_BYTES));
      this.upstream?.terminate();
      this.finish();
    };
    response.on('end', done);
    response.on('error', done);
  }

  // ── Client ──────────────────────────────────────────────────────────────────────────────────────
  private acceptClient(upstream: WebSocket): void {
    if (this.finished || this.socket.destroyed) {
      upstream.close(1001, 'client gone');
      return this.clientGone();
    }
    const chosen = upstream.protocol;
    const server = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      autoPong: false,
      maxPayload: MAX_MESSAGE_BYTES,
      // The client gets the subprotocol the provider picked (never a key-carrying entry).
      handleProtocols: (offered) => (chosen !== '' && offered.has(chosen) ? chosen : false),
    });
    server.handleUpgrade(this.req, this.socket, this.head, (client) => {
      this.status = 101;
      this.client = client;
      this.lastResponseAt = performance.now();
      this.relay(client, upstream);
    });
  }

  private relay(client: WebSocket, upstream: WebSocket): void {
    const up = new MessageRelay(client, upstream);
    const down = new MessageRelay(upstream, client);
    const clientLive = new PeerLiveness();
    const upstreamLive = new PeerLiveness();
    client.on('message', (data: RawData, isBinary: boolean) => {
      clientLive.heardFrom();
      up.pass(data as Buffer, isBinary);
    });
    this.upstreamHeardAt = performance.now();
    upstream.on('message', (data: RawData, isBinary: boolean) => {
      upstreamLive.heardFrom();
      this.upstreamHeardAt = performance.now();
      if (!isBinary) this.observe(data as Buffer);
      down.pass(data as Buffer, isBinary);
    });
    this.relayControls(client, upstream, clientLive);
    this.relayControls(upstream, client, upstreamLive);
    // A side the relay holds (it does not read it while the other side is slow) cannot be heard: it
    // is judged again once read (a held side counts as heard).
    this.keepalive = setInterval(() => {
      if (down.holding) {
        upstreamLive.heardFrom();
        this.upstreamHeardAt = performance.now();
      }
      if (up.holding) clientLive.heardFrom();
      // Judged after the socket reads that waited behind a late tick (setImmediate runs after them).
      if (this.responseStalls()) setImmediate(() => this.responseStalled());
      else if (upstreamLive.periodEnded(() => this.sendControl(upstream, 'ping', KEEPALIVE_PING))) this.peerStopped('upstream');
      else if (clientLive.periodEnded(() => this.sendControl(client, 'ping', KEEPALIVE_PING))) this.peerStopped('client');
    }, this.options.realtimeKeepaliveMs);
    this.keepalive.unref();
    client.on('error', (error) => this.options.logger.debug({ requestId: this.requestId, error: error.message }, 'realtime client error'));
    client.on('close', (code: number, reason: Buffer) => {
      this.clientCloseCode = code;
      this.passClose(upstream, code, reason);
      this.finishOnceClosed();
    });
    upstream.on('close', (code: number, reason: Buffer) => {
      this.upstreamCloseCode = code;
      this.passClose(client, code, reason);
      this.finishOnceClosed();
    });
  }

  /**
   * Pings and pongs are the endpoints' own: each is passed on, and the other endpoint answers; a pong
   * to the proxy's own keep-alive ping stops here.
   */
  private relayControls(from: WebSocket, to: WebSocket, live: PeerLiveness): void {
    from.on('ping', (data) => {
      live.heardFrom();
      this.sendControl(to, 'ping', data);
    });
    from.on('pong', (data) => {
      live.heardFrom();
      if (!data.equals(KEEPALIVE_PING)) this.sendControl(to, 'pong', data);
    });
  }

  private sendControl(to: WebSocket, kind: 'ping' | 'pong', data: Buffer): void {
    if (to.readyState !== WebSocket.OPEN) return;
    if (kind === 'ping') to.ping(data);
    else to.pong(data);
  }

  /** One side closed: the other is closed with the same code and reason (a code that cannot be sent: plainly, or cut). */
  private passClose(to: WebSocket, code: number, reason: Buffer): void {
    if (to.readyState === WebSocket.CLOSED || to.readyState === WebSocket.CLOSING) return;
    if (sendableCloseCode(code)) to.close(code, reason);
    else if (code === 1005) to.close();
    else to.terminate();
  }

  /**
   * A side answered nothing, not even a ping, for two keep-alive periods: its host hung or the
   * connection was dropped on the way without a reset. It is cut (no close handshake to wait for) and
   * the other side closed: a client is told why first, in the provider's error event (1011); the
   * provider gets 1001, as when a client goes away.
   */
  private peerStopped(side: 'client' | 'upstream'): void {
    const { client, upstream } = this;
    if (client === null || upstream === null || this.endedBy !== null) return;
    const silence = `no answer to a keep-alive ping within ${2 * this.options.realtimeKeepaliveMs} ms`;
    this.options.logger.warn({ requestId: this.requestId, service: this.service.id, side }, `realtime ${side} stopped answering (${silence}); closing the session`);
    if (side === 'upstream') {
      this.endedBy = 'provider stopped answering';
      if (client.readyState === WebSocket.OPEN) {
        client.send(this.realtime.errorEvent('upstream_timeout', `The provider stopped answering (${silence}). The Realtime session is closed.`, this.requestId));
        client.close(1011, 'Tokengate: the provider stopped answering');
      }
      upstream.terminate();
    } else {
      this.endedBy = 'client stopped answering';
      if (upstream.readyState === WebSocket.OPEN) upstream.close(1001, 'client gone');
      client.terminate();
    }
  }

  /**
   * The provider sent nothing for upstreamIdleTimeoutMs in the middle of a response (it still
   * answers pings): the client is told in the provider's error event and closed with 1011, the
   * provider closed with 1001, as when a request's stream stalls (its idle timeout). The response,
   * never done, is not charged: its usage never came.
   */
  private responseStalled(): void {
    const { client, upstream } = this;
    if (client === null || upstream === null || this.endedBy !== null || !this.responseStalls()) return;
    const silence = `nothing for ${this.options.upstreamIdleTimeoutMs} ms in the middle of a response`;
    this.options.logger.warn({ requestId: this.requestId, service: this.service.id, timeoutMs: this.options.upstreamIdleTimeoutMs }, 'realtime response stalled; closing the session');
    this.endedBy = 'provider stalled mid-response';
    if (client.readyState === WebSocket.OPEN) client.send(this.realtime.errorEvent('upstream_timeout', `The provider sent ${silence}. The Realtime session is closed.`, this.requestId));
    this.closeBoth(1011, 'Tokengate: the provider stalled mid-response', 1001);
  }

  /** A response is under way and the provider has sent nothing for upstreamIdleTimeoutMs. */
  private responseStalls(): boolean {
    return this.openResponses > 0 && performance.now() - this.upstreamHeardAt > this.options.upstreamIdleTimeoutMs;
  }

  private closeBoth(clientCode: number, reason: string, upstreamCode: number): void {
    const { client, upstream } = this;
    if (client !== null && client.readyState === WebSocket.OPEN) client.close(clientCode, reason);
    if (upstream !== null && upstream.readyState === WebSocket.OPEN) upstream.close(upstreamCode, reason);
  }

  // ── Metering ────────────────────────────────────────────────────────────────────────────────────
  private observe(message: Buffer): void {
    const seen = this.realtime.observeServerMessage(message);
    if (seen === null) return;
    if (seen.model !== null) this.responseModel = seen.model;
    if (seen.response === 'started') this.openResponses += 1;
    else if (seen.response === 'ended') this.openResponses = Math.max(0, this.openResponses - 1);
    if (seen.usage !== null) this.account(seen.usage);
  }

  /** One response ended: accounted as one request would be; a budget it used up ends the session. */
  private account(usage: TokenUsage): void {
    const now = performance.now();
    const durationSeconds = (now - this.lastResponseAt) / 1000;
    this.lastResponseAt = now;
    this.responses += 1;
    this.usage.promptTokens += usage.promptTokens;
    this.usage.completionTokens += usage.completionTokens;
    const { service } = this;
    this.options.metrics.observeExchange({
      serviceId: service.id,
      provider: service.provider.label,
      operation: 'realtime',
      requestModel: this.realtime.requestModel(this.query) || null,
      responseModel: this.responseModel,
      status: 200,
      durationSeconds,
      firstByteSeconds: null,
      firstChunkSeconds: null,
      usage,
    });
    void this.meter.charge(usage, this.responseModel).then((usedUp) => {
      if (usedUp !== null) this.budgetUsedUp(usedUp.message);
    });
  }

  /**
   * A response used up an enforced budget: the client is told why in the provider's error event, then
   * the session is closed (1008, policy violation) on both sides. Responses under way upstream would
   * otherwise go on spending tokens nobody may spend, and a server-VAD session starts responses
   * without the client asking, so refusing the client's next `response.create` would not stop them.
   */
  private budgetUsedUp(refusal: string): void {
    const client = this.client;
    if (client === null || client.readyState !== WebSocket.OPEN || this.endedBy !== null) return;
    this.endedBy = 'token budget used up';
    client.send(this.realtime.errorEvent('rate_limited', `${refusal} The Realtime session is closed.`, this.requestId));
    this.closeBoth(BUDGET_CLOSE_CODE, 'Tokengate: token budget used up', 1000);
  }

  // ── Endings ─────────────────────────────────────────────────────────────────────────────────────
  private refuse(status: number, code: TokengateErrorCode, message: string, headers?: Record<string, string>): void {
    if (this.status !== 0 || this.finished) return;
    this.status = status;
    this.upstream?.terminate();
    sendUpgradeRefusal(this.socket, this.service.provider, status, code, message, this.requestId, headers);
    this.finish();
  }

  private clientGone(): void {
    if (this.status === 0) this.status = 499;
    this.upstream?.terminate();
    this.finish();
  }

  private finishOnceClosed(): void {
    if (this.client?.readyState === WebSocket.CLOSED && (this.upstream === null || this.upstream.readyState === WebSocket.CLOSED)) this.finish();
  }

  /** The session counted once in the metrics and the access log, with its outcome. */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.keepalive !== null) clearInterval(this.keepalive);
    const { options, service } = this;
    options.metrics.countRequest(service.id, service.provider.label, this.status);
    if (options.accessLog) {
      options.logger.info(
        {
          requestId: this.requestId,
          method: 'GET',
          organization: service.organizationHandle,
          service: service.id,
          provider: service.provider.label,
          status: this.status,
          durationMs: Math.round((performance.now() - this.startedAt) * 1000) / 1000,
          realtime: {
            clientCloseCode: this.clientCloseCode,
            upstreamCloseCode: this.upstreamCloseCode,
            responses: this.responses,
            promptTokens: this.usage.promptTokens,
            completionTokens: this.usage.completionTokens,
            ...(this.endedBy === null ? {} : { endedBy: this.endedBy }),
          },
        },
        'proxied realtime session',
      );
    }
    this.onDone(this);
  }
}
