// The request/response surface shared by node:http (HTTP/1.1) and the node:http2 compatibility API,
// so one handler serves both protocols.
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Readable, Writable } from 'node:stream';

export interface ProxyRequest extends Readable {
  readonly method?: string;
  readonly url?: string;
  readonly headers: IncomingHttpHeaders;
  readonly httpVersionMajor: number;
  /** The connection (HTTP/2: the session's); its `encrypted` is true over TLS. */
  readonly socket?: unknown;
}

export interface ProxyResponse extends Writable {
  readonly headersSent: boolean;
  writeHead(statusCode: number, headers?: OutgoingHttpHeaders): unknown;
  setHeader(name: string, value: number | string | readonly string[]): unknown;
  /** Present on both at run time; @types/node omits it on Http2ServerResponse. */
  flushHeaders?(): void;
}

export type ProxyRequestListener = (req: ProxyRequest, res: ProxyResponse) => void;

/** An HTTP/1.1 upgrade request (WebSocket): the socket is the listener's to answer or adopt. */
export type ProxyUpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
