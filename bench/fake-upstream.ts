// The benchmark's upstream: a minimal, fast OpenAI-compatible server in its own process.
// POST /v1/chat/completions answers a fixed chat.completion (JSON) or, for `"stream": true`, a handful
// of chat.completion.chunk SSE events and `data: [DONE]`. Responses are prebuilt buffers and the body
// is scanned, not parsed, so the upstream costs every target the same few microseconds.
// A JSON answer is gzipped, as the providers do, when the request's Accept-Encoding accepts gzip (the
// OpenAI SDKs send `gzip, deflate`); it is compressed once at start-up, so its cost stays flat. SSE
// answers are always sent plain (no case asks for a compressed stream).
//
//   node dist/bench/fake-upstream.js [--port 0] [--delay-ms 0] [--api-key KEY]
//
// Prints one JSON line `{"listening":<port>}` on stdout once it accepts connections. A request header
// `x-bench-upstream-delay-ms` overrides the delay (before the response headers) for that request.
import http from 'node:http';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';

export const UPSTREAM_DELAY_HEADER = 'x-bench-upstream-delay-ms';
export const UPSTREAM_PATH = '/v1/chat/completions';

const MODEL = 'gpt-4o-mini-2024-07-18';
const CREATED = 1_732_500_000;
/** Ids of the chat.completion and of every chat.completion.chunk: what proves an answer came from here. */
export const COMPLETION_ID = 'chatcmpl-bench0000000000000000000001';
export const STREAM_ID = 'chatcmpl-bench0000000000000000000002';
/** What every answer reports (JSON and the streamed usage chunk alike). */
export const USAGE = { prompt_tokens: 12, completion_tokens: 6, total_tokens: 18 };

const COMPLETION = Buffer.from(
  JSON.stringify({
    id: COMPLETION_ID,
    object: 'chat.completion',
    created: CREATED,
    model: MODEL,
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello from the benchmark upstream.', refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage: USAGE,
    system_fingerprint: 'fp_bench',
  }),
);

const COMPLETION_GZIP = gzipSync(COMPLETION);

/** True when the Accept-Encoding header lists gzip (or x-gzip) with a q-value above 0. */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  for (const item of header.split(',')) {
    const [coding, ...parameters] = item.split(';').map((part) => part.trim().toLowerCase());
    if (coding !== 'gzip' && coding !== 'x-gzip') continue;
    const q = parameters.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}

function chunk(choices: unknown[], usage?: unknown): Buffer {
  const event = { id: STREAM_ID, object: 'chat.completion.chunk', created: CREATED, model: MODEL, system_fingerprint: 'fp_bench', choices, ...(usage === undefined ? {} : { usage }) };
  return Buffer.from(`data: ${JSON.stringify(event)}\n\n`);
}

const STREAM_CHUNKS: readonly Buffer[] = [
  chunk([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]),
  ...['Hello', ' from', ' the', ' benchmark', ' upstream.'].map((content) => chunk([{ index: 0, delta: { content }, logprobs: null, finish_reason: null }])),
  chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]),
];
/** Sent only when the request asks for it (`stream_options.include_usage`), as OpenAI does. */
const USAGE_CHUNK = chunk([], USAGE);
const DONE = Buffer.from('data: [DONE]\n\n');

const STREAM_TRUE = /"stream"\s*:\s*true/;
const INCLUDE_USAGE = /"include_usage"\s*:\s*true/;
const NOT_FOUND = Buffer.from(JSON.stringify({ error: { message: 'Unknown path', type: 'invalid_request_error', param: null, code: 'unknown_url' } }));
const UNAUTHORIZED = Buffer.from(JSON.stringify({ error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }));

export interface FakeUpstreamOptions {
  readonly delayMs: number;
  /** When set, a request without `Authorization: Bearer <apiKey>` gets 401 (proves the gateway injected it). */
  readonly apiKey?: string;
}

export function createFakeUpstream(options: FakeUpstreamOptions): http.Server {
  const expectedAuthorization = options.apiKey === undefined ? undefined : `Bearer ${options.apiKey}`;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (data: Buffer) => chunks.push(data));
    req.on('end', () => {
      if (req.method !== 'POST' || (req.url !== UPSTREAM_PATH && !req.url?.startsWith(`${UPSTREAM_PATH}?`))) {
        res.writeHead(404, { 'content-type': 'application/json', 'content-length': NOT_FOUND.length }).end(NOT_FOUND);
        return;
      }
      if (expectedAuthorization !== undefined && req.headers.authorization !== expectedAuthorization) {
        res.writeHead(401, { 'content-type': 'application/json', 'content-length': UNAUTHORIZED.length }).end(UNAUTHORIZED);
        return;
      }
      const body = chunks.length === 1 ? chunks[0].toString('latin1') : Buffer.concat(chunks).toString('latin1');
      const delayHeader = req.headers[UPSTREAM_DELAY_HEADER];
      const delayMs = typeof delayHeader === 'string' ? Number(delayHeader) : options.delayMs;
      const respond = STREAM_TRUE.test(body) ? () => sendStream(res, INCLUDE_USAGE.test(body)) : () => sendCompletion(res, acceptsGzip(req.headers['accept-encoding']));
      if (delayMs > 0) setTimeout(respond, delayMs);
      else respond();
    });
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return server;
}

function sendCompletion(res: http.ServerResponse, gzip: boolean): void {
  if (gzip) {
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': COMPLETION_GZIP.length, vary: 'Accept-Encoding', 'x-request-id': 'req_bench' });
    res.end(COMPLETION_GZIP);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': COMPLETION.length, 'x-request-id': 'req_bench' });
  res.end(COMPLETION);
}

function sendStream(res: http.ServerResponse, includeUsage: boolean): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': 'req_bench' });
  for (const event of STREAM_CHUNKS) res.write(event);
  if (includeUsage) res.write(USAGE_CHUNK);
  res.end(DONE);
}

function main(): void {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, 'delay-ms': { type: 'string', default: '0' }, 'api-key': { type: 'string' } } });
  const server = createFakeUpstream({ delayMs: Number(values['delay-ms']), apiKey: values['api-key'] });
  server.listen(Number(values.port), '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`${JSON.stringify({ listening: typeof address === 'object' && address !== null ? address.port : 0 })}\n`);
  });
  // Started by the benchmark with an IPC channel: exit with the parent, however it ends.
  process.on('disconnect', () => process.exit(0));
}

if (require.main === module) main();
