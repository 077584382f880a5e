// A provider stand-in for proxy tests: a local HTTP/1.1 server that records exactly what reached it
// (method, raw path, headers, body) and answers as each test tells it.
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RecordLog } from './record-log';

export interface RecordedRequest {
  readonly method: string;
  /** Raw request target: path and query exactly as sent. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
}

/**
 * Answers one request. It runs when the request *starts* (body not read), so tests can answer early,
 * stream, or hang; `body` resolves with the complete body (empty if the client aborted).
 */
export type UpstreamResponder = (req: IncomingMessage, res: ServerResponse, body: Promise<Buffer>) => void;

export const respondJson =
  (status: number, payload: unknown, headers: Record<string, string> = {}): UpstreamResponder =>
  (_req, res, body) => {
    void body.then(() => {
      const text = JSON.stringify(payload);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
      res.end(text);
    });
  };

export class RecordingUpstream {
  /** Complete requests (recorded when their body ended). */
  readonly requests = new RecordLog<RecordedRequest>();
  /** Requests whose client side closed before the response finished (what a proxy abort looks like). */
  readonly aborted = new RecordLog<string>();
  /** Requests as they arrive, before their body. */
  readonly arrivals = new RecordLog<string>();
  private responder: UpstreamResponder = respondJson(200, { ok: true });

  private constructor(private readonly server: http.Server) {}

  static async start(responder?: UpstreamResponder): Promise<RecordingUpstream> {
    const server = http.createServer({ keepAliveTimeout: 5_000 });
    const upstream = new RecordingUpstream(server);
    if (responder !== undefined) upstream.responder = responder;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => upstream.onRequest(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return upstream;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  respondWith(responder: UpstreamResponder): void {
    this.responder = responder;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '';
    this.arrivals.push(url);
    const chunks: Buffer[] = [];
    const body = new Promise<Buffer>((resolve) => {
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const complete = Buffer.concat(chunks);
        this.requests.push({ method: req.method ?? '', url, headers: req.headers, rawHeaders: req.rawHeaders, body: complete });
        resolve(complete);
      });
      req.on('error', () => resolve(Buffer.alloc(0)));
    });
    res.on('close', () => {
      if (!res.writableFinished) this.aborted.push(url);
    });
    this.responder(req, res, body);
  }
}
