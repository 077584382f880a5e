// The proxy's listening socket. Cleartext: one port speaks HTTP/1.1 and HTTP/2 with prior knowledge
// (h2c), told apart by the connection's first bytes, because @aws-sdk/client-bedrock-runtime uses HTTP/2
// by default even towards http:// endpoints. TLS: ALPN picks h2 or http/1.1. Both protocols reach the
// same request listener through the http2 compatibility API.
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { Logger } from 'pino';
import type { ProxyRequestListener, ProxyUpgradeListener } from './proxy-types';

export interface ProxyListenerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** PEM certificate chain and key: serve HTTPS (h2 + http/1.1 by ALPN) instead of cleartext. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  readonly listener: ProxyRequestListener;
  /**
   * HTTP/1.1 upgrade requests (WebSocket; HTTP/2 has none). Absent: Node hands them to `listener` as
   * ordinary requests.
   */
  readonly upgradeListener?: ProxyUpgradeListener;
  readonly logger: Logger;
  /**
   * Idle keep-alive connections are closed after this long. Above the usual load-balancer idle timeout
   * (60 s) so the balancer, not the proxy, closes first and never reuses a connection being closed.
   */
  readonly keepAliveTimeoutMs?: number;
  /**
   * Connections the kernel queues before they are accepted; default 4096 (capped by net.core.somaxconn).
   * Node's own default, 511, overflows when thousands of clients (re)connect at once, and the overflow
   * waits for the clients' SYN retries (1, 3, 7 s).
   */
  readonly backlog?: number;
  /** A cleartext connection that sends nothing for this long is dropped before any protocol is chosen. */
  readonly firstBytesTimeoutMs?: number;
}

const DEFAULT_BACKLOG = 4096;
const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const H2_SETTINGS: http2.Settings = { maxConcurrentStreams: 1000 };

type Protocol = 'h1' | 'h2' | 'undecided';

/** Classifies a connection by its first bytes: the HTTP/2 preface, or anything else (HTTP/1.x). */
export function sniffProtocol(data: Buffer): Protocol {
  const length = data.length < HTTP2_PREFACE.length ? data.length : HTTP2_PREFACE.length;
  for (let i = 0; i < length; i++) if (data[i] !== HTTP2_PREFACE[i]) return 'h1';
  return length === HTTP2_PREFACE.length ? 'h2' : 'undecided';
}

/** An HTTP/1.1 upgrade to the WebSocket protocol (`Upgrade: websocket`). */
export function isWebSocketUpgrade(req: http.IncomingMessage): boolean {
  const upgrade = req.headers['upgrade'];
  return typeof upgrade === 'string' && upgrade.trim().toLowerCase() === 'websocket';
}

const UPGRADE_HEADERS = new Set(['upgrade', 'connection', 'http2-settings']);

/** The request line and headers of a declined upgrade request, without the headers that asked for it. */
export function declinedUpgradeHead(req: http.IncomingMessage): Buffer {
  let head = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (!UPGRADE_HEADERS.has(raw[i].toLowerCase())) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  }
  return Buffer.from(`${head}\r\n`, 'latin1');
}

export class ProxyListener {
  private readonly sockets = new Set<net.Socket>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private readonly server: net.Server;
  private readonly http1: http.Server | null = null;
  private boundPort = 0;

  constructor(private readonly options: ProxyListenerOptions) {
    const keepAliveTimeout = options.keepAliveTimeoutMs ?? 65_000;
    const trackSession = (session: http2.ServerHttp2Session): void => {
      this.sessions.add(session);
      session.on('close', () => this.sessions.delete(session));
      session.on('error', (error) => options.logger.debug({ error: error.message }, 'http2 session error'));
    };
    if (options.tls !== undefined) {
      const secure = http2.createSecureServer(
        { cert: options.tls.cert, key: options.tls.key, allowHTTP1: true, settings: H2_SETTINGS },
        options.listener,
      );
      secure.on('session', trackSession);
      secure.on('connection', (socket: net.Socket) => this.track(socket));
      if (options.upgradeListener !== undefined) secure.on('upgrade', options.upgradeListener);
      secure.on('tlsClientError', (error) => options.logger.debug({ error: error.message }, 'TLS handshake failed'));
      this.server = secure;
      return;
    }
    const http1 = http.createServer({ keepAliveTimeout, headersTimeout: keepAliveTimeout + 1_000 }, options.listener);
    // http1 never listens itself; sockets are handed to it. 'listening' makes Node start the connection
    // tracking that headersTimeout/requestTimeout enforcement and closeIdleConnections() rely on.
    http1.emit('listening');
    const upgradeListener = options.upgradeListener;
    if (upgradeListener !== undefined) {
      http1.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
        if (isWebSocketUpgrade(req)) {
          upgradeListener(req, socket, head);
          return;
        }
        // Any other upgrade (curl --http2 sends `Upgrade: h2c` to http:// URLs) is declined, as Node
        // declines it without an upgrade listener: the request is parsed again without its upgrade
        // headers and served as HTTP/1.1; its body, if any, follows on the socket.
        socket.unshift(Buffer.concat([declinedUpgradeHead(req), head]));
        http1.emit('connection', socket);
        socket.resume();
      });
    }
    this.http1 = http1;
    const h2c = http2.createServer({ settings: H2_SETTINGS }, options.listener);
    h2c.on('session', trackSession);
    const firstBytesTimeout = options.firstBytesTimeoutMs ?? 10_000;
    this.server = net.createServer({ noDelay: true }, (socket) => {
      this.track(socket);
      socket.setTimeout(firstBytesTimeout, () => socket.destroy());
      let buffered: Buffer | null = null;
      const onData = (chunk: Buffer): void => {
        const data = buffered === null ? chunk : Buffer.concat([buffered, chunk]);
        const protocol = sniffProtocol(data);
        if (protocol === 'undecided') {
          buffered = data;
          return;
        }
        socket.removeListener('data', onData);
        socket.pause();
        socket.unshift(data);
        socket.setTimeout(0);
        if (protocol === 'h2') {
          // http2 takes over the handle and reads the unshifted bytes itself; resuming would lose them.
          h2c.emit('connection', socket);
        } else {
          // http1 parses what is already buffered from 'data' events, so the socket must flow again.
          http1.emit('connection', socket);
          socket.resume();
        }
      };
      socket.on('data', onData);
    });
  }

  /** Resolves with the bound port once listening. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      this.server.once('error', onError);
      this.server.listen({ port: this.options.port, host: this.options.host, backlog: this.options.backlog ?? DEFAULT_BACKLOG }, () => {
        this.server.removeListener('error', onError);
        this.server.on('error', (error) => this.options.logger.error({ error: error.message }, 'proxy listener error'));
        const address = this.server.address();
        this.boundPort = typeof address === 'object' && address !== null ? address.port : this.options.port;
        resolve(this.boundPort);
      });
    });
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    return `${this.options.tls === undefined ? 'http' : 'https'}://${host}:${this.boundPort}`;
  }

  /** Open client connections (HTTP/1.1 and HTTP/2 alike). */
  get connectionCount(): number {
    return this.sockets.size;
  }

  /**
   * Stops accepting connections and asks open ones to wind down: idle HTTP/1.1 connections are closed,
   * HTTP/2 sessions get GOAWAY (their open streams finish). Resolves once every connection is gone.
   */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Closing the never-listening http1 server closes its idle connections and stops its timeout checks.
    this.http1?.close(() => undefined);
    for (const session of this.sessions) session.close();
    return closed;
  }

  /** Closes whatever connections remain (idle ones once draining is done, or all after the grace period). */
  destroyConnections(): void {
    for (const session of this.sessions) session.destroy();
    for (const socket of this.sockets) socket.destroy();
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    // Resets before a protocol server adopts the socket must not surface as uncaught errors.
    socket.on('error', () => undefined);
  }
}
