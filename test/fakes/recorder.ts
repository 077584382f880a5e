// A small HTTP/1.1 server shared by the fake provider upstreams: it records every request, applies
// the test-settable behaviour (delay, hang, error status, compression) and offers helpers to answer
// with JSON or with a stream that can be slowed down or cut mid-way. Responses are compressed as
// the providers' edges compress them (see content-coding.ts).
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ContentCoding, type FakeCompression, StreamEncoder, decodeBody, encodeBody, gzipBomb, responseCodings } from './content-coding';

/**
 * Token counts a fake reports, provider-neutral. `prompt` is every input token the provider bills,
 * cached ones included; `completion` includes `reasoning`. Each fake maps them to its provider's
 * fields (Anthropic and Bedrock report the uncached part of the prompt as their input tokens).
 */
export interface FakeUsage {
  prompt: number;
  completion: number;
  /** Prompt tokens read from the provider's prompt cache (default 0). */
  cachedRead?: number;
  /** Prompt tokens written to the provider's prompt cache (default 0). */
  cachedWrite?: number;
  /** Completion tokens spent on reasoning (default 0). */
  reasoning?: number;
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
  /** Headers added to the `status` answer (e.g. `location` with a 3xx, as an edge that moved a path sends). */
  statusHeaders?: Record<string, string>;
  /** Answer only this many requests with `status`, the next ones as usual (default: all of them). */
  statusTimes?: number;
  /**
   * Destroy the socket after this many stream frames (SSE events / event-stream messages), when
   * the next frame would have been sent (`chunkDelayMs` later, at least 20 ms).
   */
  cutStreamAfterChunks?: number;
  /**
   * After this many stream frames, send the provider's in-stream error instead of the rest and end
   * the response cleanly (HTTP 200 already sent): Anthropic's `event: error` (overloaded_error, or
   * `errorType`), Bedrock's `:message-type: exception` frame (throttlingException, or `errorType`),
   * OpenAI's Chat Completions `{"error": {...}}` chunk (server_error, or `errorType` as its code).
   */
  streamErrorAfterChunks?: number;
  /** Wait this long before each stream frame. */
  chunkDelayMs?: number;
  /**
   * Uncompressed streams: write each frame's bytes in two uneven pieces about every other frame (as
   * compressed streams always are, and as a network delivers them), so a reader meets events split
   * across chunks. Default true; false: one write per frame.
   */
  unevenWrites?: boolean;
  /** The assistant's text; streams send it split per word. */
  content: string;
  /**
   * OpenAI (Responses, Chat Completions), Anthropic and Bedrock (Converse, InvokeModel of Claude):
   * when the request offers a tool of this name and its input holds no tool output yet, the model
   * calls the tool (a `function_call` item, `tool_calls`, a `tool_use` or `toolUse` block) with these
   * arguments (JSON text) instead of answering; once the tool's output is in the input, it answers
   * `content`. Both turns report `usage`. Streams send the arguments in pieces.
   */
  toolCall?: { name: string; arguments: string };
  /**
   * OpenAI: whether a completed Batch reports its `usage` (default true, as OpenAI does for batches
   * since September 2025); false: only its output file's lines do.
   */
  batchUsage?: boolean;
  /**
   * Response compression (JSON, streams and error bodies). Default `auto`: gzip when the request's
   * Accept-Encoding offers it, else br, else deflate, else identity, as the providers answer
   * fetch-based SDKs (`gzip, deflate`); no Accept-Encoding (the AWS SDK) gets identity. Streams are
   * flushed after every frame. `off` never compresses; `gzip`, `br`, `deflate` and `gzip, br`
   * (gzip, then br over it) are applied whatever the request offered.
   */
  compression?: FakeCompression;
  /**
   * Answer `content-encoding: zstd` when the request names zstd in Accept-Encoding (with `auto`
   * compression): a valid zstd frame that Node 20, whose zlib has no zstd, cannot decode. Lets a
   * test check that a proxy strips zstd from the Accept-Encoding it forwards.
   */
  zstd?: boolean;
  /**
   * Answer successful JSON responses with a gzip body (whatever the request offered) that inflates
   * to this many bytes: the provider's JSON with `usage` moved last and whitespace before it (or
   * before the closing brace when there is no usage), so it still parses to the same response.
   * About 1 KB per MiB inflated (deflate's ratio limit); built without allocating the inflated size.
   */
  decompressionBomb?: number;
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
  /** The body as received (still content-encoded: what a signature covers). */
  rawBody: Buffer;
  /** The body with its Content-Encoding (gzip, deflate, br) undone; set only when it had one. */
  decodedBody?: Buffer;
  /** The body (decoded, if it was content-encoded) parsed as JSON, when it is JSON. */
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
  /**
   * Requests whose client closed the connection before the response was complete (a proxy aborting
   * its upstream request), recorded when the close is seen; not those the fake cut itself.
   */
  aborted: RecordedRequest[];
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

/** The behaviour of the fake that is answering on a response (sendJson gets no exchange). */
const behaviourOfResponse = new WeakMap<ServerResponse, FakeBehaviour>();
/** Responses whose connection the fake broke on purpose (`cutStreamAfterChunks`): not client aborts. */
const cutByFake = new WeakSet<ServerResponse>();

export async function startFake(handler: FakeHandler, options: FakeOptions = { errorFor: genericError }): Promise<FakeServer> {
  const received: RecordedRequest[] = [];
  const aborted: RecordedRequest[] = [];
  const behaviour = defaultBehaviour();

  const server = createServer((req, res) => {
    void serve(req, res).catch((error: unknown) => {
      // A handler bug must show up in the test, not leave the client hanging.
      if (!res.headersSent) sendJson(res, 500, { fakeError: String(error) });
      else res.destroy();
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    behaviourOfResponse.set(res, behaviour);
    const recorded = await record(req);
    received.push(recorded);
    res.on('close', () => {
      if (!res.writableFinished && !cutByFake.has(res)) aborted.push(recorded);
    });
    if (behaviour.hang) return;
    if (behaviour.delayMs > 0) await sleep(behaviour.delayMs);
    if (res.destroyed) return;
    if (behaviour.status !== undefined && (behaviour.statusTimes === undefined || behaviour.statusTimes-- > 0)) {
      const error = options.errorFor(behaviour.status, behaviour);
      sendJson(res, behaviour.status, behaviour.errorBody ?? error.body, { ...error.headers, ...behaviour.statusHeaders });
      return;
    }
    await handler({ req: recorded, res, behaviour });
  }

  const url = await listenOnLoopback(server);

  return {
    url,
    received,
    aborted,
    behaviour,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
    reset: () => {
      received.length = 0;
      aborted.length = 0;
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
  let body: Buffer = rawBody;
  const contentEncoding = req.headers['content-encoding'];
  if (rawBody.length > 0 && contentEncoding !== undefined && contentEncoding.trim().toLowerCase() !== 'identity') {
    try {
      body = recorded.decodedBody = decodeBody(rawBody, contentEncoding);
    } catch {
      // undecodable (or an unknown coding): keep rawBody only
    }
  }
  if (body.length > 0) {
    try {
      recorded.json = JSON.parse(body.toString('utf8')) as unknown;
    } catch {
      // not JSON: keep the bytes only
    }
  }
  return recorded;
}

/** Content-Encoding and Vary for a response with these codings (identity: Vary only). */
function codingHeaders(codings: readonly ContentCoding[]): Record<string, string> {
  return { ...(codings.length === 0 ? {} : { 'content-encoding': codings.join(', ') }), vary: 'accept-encoding' };
}

/** Listens on a free loopback port; resolves with the server's `http://127.0.0.1:PORT`. */
export async function listenOnLoopback(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * Answers with a JSON body, compressed for the request's Accept-Encoding per the fake's
 * `behaviour.compression` (content-length is the compressed length), or as a decompression bomb
 * when `behaviour.decompressionBomb` is set and the status is 2xx.
 */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const behaviour = behaviourOfResponse.get(res);
  const bombSize = behaviour?.decompressionBomb;
  if (bombSize !== undefined && status >= 200 && status < 300) {
    sendBomb(res, status, body, bombSize, headers);
    return;
  }
  const codings = responseCodings(acceptEncodingOf(res.req), behaviour);
  const encoded = encodeBody(Buffer.from(JSON.stringify(body)), codings);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': encoded.length,
    ...codingHeaders(codings),
    ...headers,
  });
  res.end(encoded);
}

function acceptEncodingOf(req: IncomingMessage | undefined): string | undefined {
  const value = req?.headers['accept-encoding'];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The JSON text split around where the bomb's padding goes: before `usage`, moved last. */
function bombParts(body: unknown): { prefix: string; suffix: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { prefix: JSON.stringify(body), suffix: '' };
  const { usage, ...rest } = body as Record<string, unknown>;
  const head = JSON.stringify(rest).slice(0, -1);
  if (usage === undefined) return { prefix: head, suffix: '}' };
  return { prefix: `${head}${head === '{' ? '' : ','}`, suffix: `"usage":${JSON.stringify(usage)}}` };
}

function sendBomb(res: ServerResponse, status: number, body: unknown, inflatedSize: number, headers: Record<string, string>): void {
  const { prefix, suffix } = bombParts(body);
  const gzip = gzipBomb(prefix, suffix, inflatedSize);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': gzip.length,
    ...codingHeaders(['gzip']),
    ...headers,
  });
  res.end(gzip);
}

/**
 * Sends a 200 stream frame by frame, honouring `chunkDelayMs` and `cutStreamAfterChunks` (the
 * socket is destroyed once that many frames were written, without the terminating chunk, when the
 * next frame would have come).
 * Compressed per `behaviour.compression` for the request's Accept-Encoding (no content-length):
 * each frame is flushed through the coder, so a client decodes it before the next frame is
 * sent, and its coded bytes go out in one write or, now and then, two uneven ones, as a network
 * would deliver them. `frames` may be produced lazily (an async iterable).
 */
export async function sendStream(
  exchange: FakeExchange,
  frames: Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>,
  headers: Record<string, string>,
): Promise<void> {
  const { res, behaviour } = exchange;
  const codings = responseCodings(acceptEncodingOf(res.req), behaviour);
  const encoder = codings.length === 0 ? undefined : new StreamEncoder(codings);
  const splitPoint = unevenSplits();
  res.writeHead(200, { ...headers, ...codingHeaders(codings) });
  res.flushHeaders();
  try {
    let index = 0;
    for await (const frame of frames) {
      if (behaviour.cutStreamAfterChunks !== undefined && index >= behaviour.cutStreamAfterChunks) {
        // The break comes when the next frame would have: what arrived before it is decoded by then
        // (a client's gunzip works asynchronously, and an error discards what it has not handed on).
        await sleep(Math.max(behaviour.chunkDelayMs ?? 0, CUT_AFTER_MS));
        cutByFake.add(res);
        res.socket?.destroy();
        return;
      }
      index += 1;
      if (behaviour.chunkDelayMs) await sleep(behaviour.chunkDelayMs);
      if (res.destroyed) return;
      if (encoder === undefined && behaviour.unevenWrites === false) {
        await write(res, frame);
      } else {
        const bytes = encoder === undefined ? Buffer.from(frame) : await encoder.frame(Buffer.from(frame));
        const at = splitPoint(bytes.length);
        await write(res, bytes.subarray(0, at));
        if (at < bytes.length) await write(res, bytes.subarray(at));
      }
    }
    if (encoder !== undefined && !res.destroyed) await write(res, await encoder.end());
    res.end();
  } finally {
    encoder?.close();
  }
}

function write(res: ServerResponse, bytes: string | Uint8Array): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => res.write(bytes, () => resolve()));
}

/** The least time between a cut stream's last frame and the broken connection. */
const CUT_AFTER_MS = 20;

/**
 * Where to cut each frame's coded bytes in two (its length: not cut): about every other frame, at
 * a pseudo-random point. Every stream starts from the same seed (mulberry32): the same stream is
 * always cut the same way.
 */
function unevenSplits(): (length: number) => number {
  let seed = 0x9e3779b9;
  const random = (): number => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return (length) => (length < 2 || random() < 0.5 ? length : 1 + Math.floor(random() * (length - 1)));
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
