// A small HTTP/1.1 server shared by the fake provider upstreams: it records every request, applies
// the test-settable behaviour (delay, hang, error status) and offers helpers to answer with JSON or
// with a stream that can be slowed down or cut mid-way.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeUsage {
  prompt: number;
  completion: number;
}

/** Mutable per fake; tests set fields directly (`fake.behaviour.status = 429`). */
export interface FakeBehaviour {
  /** Token counts the fake reports (and streams) in its responses. */
  usage: FakeUsage;
  /** Wait this long before sending the response headers. */
  delayMs: number;
  /** Never respond (the connection stays open until the client gives up or the fake closes). */
  hang: boolean;
  /** Answer every request with this status in the provider's error format. */
  status?: number;
  /** Replaces the provider's default error body for `status` (sent as JSON as given). */
  errorBody?: unknown;
  /** Provider error type/code used in the default error body (Bedrock: `x-amzn-errortype`). */
  errorType?: string;
  /** Destroy the socket after this many stream frames (SSE events / event-stream messages). */
  cutStreamAfterChunks?: number;
  /** Wait this long before each stream frame. */
  chunkDelayMs?: number;
  /** The assistant's text; streams send it split per word. */
  content: string;
}

export interface RecordedRequest {
  method: string;
  /** Path as received, still URL-encoded, without the query string. */
  path: string;
  /** The raw request target (path and query string) as received. */
  url: string;
  /** Decoded query parameters (first value of each name). */
  query: Record<string, string>;
  /** Lower-case header names, as node:http gives them. */
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
  /** The body parsed as JSON, when it is JSON. */
  json?: unknown;
}

export interface FakeExchange {
  req: RecordedRequest;
  res: ServerResponse;
  behaviour: FakeBehaviour;
}

export type FakeHandler = (exchange: FakeExchange) => Promise<void> | void;

export interface ProviderError {
  body: unknown;
  headers?: Record<string, string>;
}

export interface FakeOptions {
  /** The provider's error response for a status (used for `behaviour.status`). */
  errorFor: (status: number, behaviour: FakeBehaviour) => ProviderError;
}

export interface FakeServer {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  url: string;
  received: RecordedRequest[];
  behaviour: FakeBehaviour;
  close(): Promise<void>;
  /** Forget recorded requests and restore the default behaviour (same object, mutated). */
  reset(): void;
}

export const DEFAULT_CONTENT = 'Hello from the fake';

export function defaultBehaviour(): FakeBehaviour {
  return { usage: { prompt: 11, completion: 7 }, delayMs: 0, hang: false, content: DEFAULT_CONTENT };
}

const genericError: FakeOptions['errorFor'] = (status) => ({ body: { error: { message: `Fake upstream error ${status}` } } });

export async function startFake(handler: FakeHandler, options: FakeOptions = { errorFor: genericError }): Promise<FakeServer> {
  const received: RecordedRequest[] = [];
  const behaviour = defaultBehaviour();

  const server = createServer((req, res) => {
    void serve(req, res).catch((error: unknown) => {
      // A handler bug must show up in the test, not leave the client hanging.
      if (!res.headersSent) sendJson(res, 500, { fakeError: String(error) });
      else res.destroy();
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const recorded = await record(req);
    received.push(recorded);
    if (behaviour.hang) return;
    if (behaviour.delayMs > 0) await sleep(behaviour.delayMs);
    if (res.destroyed) return;
    if (behaviour.status !== undefined) {
      const error = options.errorFor(behaviour.status, behaviour);
      sendJson(res, behaviour.status, behaviour.errorBody ?? error.body, error.headers);
      return;
    }
    await handler({ req: recorded, res, behaviour });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    received,
    behaviour,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
    reset: () => {
      received.length = 0;
      for (const key of Object.keys(behaviour) as (keyof FakeBehaviour)[]) delete behaviour[key];
      Object.assign(behaviour, defaultBehaviour());
    },
  };
}

async function record(req: IncomingMessage): Promise<RecordedRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const rawBody = Buffer.concat(chunks);
  const target = req.url ?? '/';
  const queryStart = target.indexOf('?');
  const path = queryStart === -1 ? target : target.slice(0, queryStart);
  const query: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(queryStart === -1 ? '' : target.slice(queryStart + 1))) {
    if (!(name in query)) query[name] = value;
  }
  const recorded: RecordedRequest = { method: req.method ?? 'GET', path, url: target, query, headers: req.headers, rawBody };
  if (rawBody.length > 0) {
    try {
      recorded.json = JSON.parse(rawBody.toString('utf8')) as unknown;
    } catch {
      // not JSON: keep rawBody only
    }
  }
  return recorded;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * Sends a 200 stream frame by frame, honouring `chunkDelayMs` and `cutStreamAfterChunks` (the
 * socket is destroyed once that many frames were written, without the terminating chunk).
 */
export async function sendStream(
  exchange: FakeExchange,
  frames: readonly (string | Uint8Array)[],
  headers: Record<string, string>,
): Promise<void> {
  const { res, behaviour } = exchange;
  res.writeHead(200, headers);
  res.flushHeaders();
  for (const [index, frame] of frames.entries()) {
    if (behaviour.cutStreamAfterChunks !== undefined && index >= behaviour.cutStreamAfterChunks) {
      res.socket?.destroy();
      return;
    }
    if (behaviour.chunkDelayMs) await sleep(behaviour.chunkDelayMs);
    if (res.destroyed) return;
    await new Promise<void>((resolve) => res.write(frame, () => resolve()));
  }
  res.end();
}

/** Server-sent event: `data: ...` lines, preceded by `event: ...` when given. */
export function sse(data: unknown, event?: string): string {
  const payload = typeof data === 'string' ? data : JSON.stringify(data);
  return `${event === undefined ? '' : `event: ${event}\n`}data: ${payload}\n\n`;
}

export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
};

/** Splits text into word pieces that concatenate back to it ("Hello from" → ["Hello", " from"]). */
export function splitWords(text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? [];
}

export function randomId(length: number, alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'): string {
  const bytes = randomBytes(length);
  let id = '';
  for (const byte of bytes) id += alphabet[byte % alphabet.length];
  return id;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Reads a string field of a JSON object body, if there is one. */
export function stringField(value: unknown, name: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const field = (value as Record<string, unknown>)[name];
  return typeof field === 'string' ? field : undefined;
}

export function field(value: unknown, name: string): unknown {
  if (typeof value !== 'object' || value === null) return undefined;
  return (value as Record<string, unknown>)[name];
}
