// The long-stream benchmark's upstream, in its own process: an OpenAI-compatible
// `POST /v1/chat/completions` that answers `"stream": true` with a slow stream — the role chunk at once,
// then one content chunk every interval (default 100 ms) for a number of chunks (default 600: a minute),
// then stop, usage (when `stream_options.include_usage` asks) and [DONE] — and anything else with a
// `chat.completion` JSON at once. The request headers `x-bench-stream-chunks` and
// `x-bench-stream-interval-ms` override the shape per request (the probes ask for short streams).
//
//   node dist/bench/streams-upstream.js --api-key KEY [--chunks 600] [--interval-ms 100]
//
// Prints `{"listening":<port>}` once it accepts connections. Chunks are sent from one 5 ms scheduler
// tick against each stream's own timetable (start + k × interval), not from per-stream timers, so ten
// thousand streams cost one timer; how late each chunk left (`sendLagMs`) is measured, so that a late
// upstream is not mistaken for a slow proxy. Over IPC, `{"type":"stats"}` is answered with UpstreamStats.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { LatencyHistogram, type HistogramSummary } from './streams-histogram';
import { ChunkWriter, PROMPT_TOKENS, STREAM_CHUNKS_HEADER, STREAM_INTERVAL_HEADER, STREAMS_UPSTREAM_PATH } from './streams-wire';

const SLOT_MS = 5;

export interface UpstreamStats {
  readonly streamsStarted: number;
  readonly streamsCompleted: number;
  /** Streams whose connection closed before their end (client or proxy went away). */
  readonly streamsCut: number;
  readonly maxConcurrentStreams: number;
  readonly chunksSent: number;
  /** How late each content chunk left against its timetable. */
  readonly sendLagMs: HistogramSummary;
  /** Writes that found the socket's buffer full (the reader, i.e. the proxy, was behind). */
  readonly backpressuredWrites: number;
  readonly jsonAnswered: number;
  readonly refused: number;
}

interface ActiveStream {
  readonly res: http.ServerResponse;
  readonly writer: ChunkWriter;
  readonly startedAt: number;
  readonly intervalMs: number;
  readonly chunks: number;
  /** Next content chunk to send (1-based). */
  next: number;
  closed: boolean;
}

const COMPLETION = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-benchstreams000000000000001',
    object: 'chat.completion',
    created: 1_765_000_000,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello from the streams upstream.', refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: PROMPT_TOKENS, completion_tokens: 7, total_tokens: PROMPT_TOKENS + 7 },
    service_tier: 'default',
    system_fingerprint: 'fp_bench_streams',
  }),
);
const UNAUTHORIZED = Buffer.from(JSON.stringify({ error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }));
const NOT_FOUND = Buffer.from(JSON.stringify({ error: { message: 'Unknown path', type: 'invalid_request_error', param: null, code: 'unknown_url' } }));
const STREAM_TRUE = /"stream"\s*:\s*true/;
const INCLUDE_USAGE = /"include_usage"\s*:\s*true/;

function headerNumber(value: string | string[] | undefined, fallback: number): number {
  const n = typeof value === 'string' ? Number(value) : Number.NaN;
  return Number.isInteger(n) && n >= 0 ? n : fallback;
}

export class SlowStreamUpstream {
  readonly server: http.Server;
  /** Streams due in each 5 ms slot (key: slot number since the clock's origin). */
  private readonly slots = new Map<number, ActiveStream[]>();
  private lastSlot = Math.floor(performance.now() / SLOT_MS);
  private readonly ticker: NodeJS.Timeout;
  private readonly sendLag = new LatencyHistogram();
  private counters = { streamsStarted: 0, streamsCompleted: 0, streamsCut: 0, maxConcurrentStreams: 0, chunksSent: 0, backpressuredWrites: 0, jsonAnswered: 0, refused: 0 };
  private open = 0;
  private nextId = 0;

  constructor(private readonly options: { apiKey: string; chunks: number; intervalMs: number }) {
    const expected = `Bearer ${options.apiKey}`;
    this.server = http.createServer((req, res) => {
      const body: Buffer[] = [];
      req.on('data', (data: Buffer) => body.push(data));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== STREAMS_UPSTREAM_PATH) {
          this.counters.refused += 1;
          res.writeHead(404, { 'content-type': 'application/json', 'content-length': NOT_FOUND.length }).end(NOT_FOUND);
        } else if (req.headers.authorization !== expected) {
          this.counters.refused += 1;
          res.writeHead(401, { 'content-type': 'application/json', 'content-length': UNAUTHORIZED.length }).end(UNAUTHORIZED);
        } else {
          const text = Buffer.concat(body).toString('utf8');
          if (STREAM_TRUE.test(text)) this.startStream(req, res, INCLUDE_USAGE.test(text));
          else this.answerJson(res);
        }
      });
    });
    this.server.keepAliveTimeout = 65_000;
    this.server.headersTimeout = 66_000;
    this.ticker = setInterval(() => this.tick(), SLOT_MS);
  }

  stats(): UpstreamStats {
    return { ...this.counters, sendLagMs: this.sendLag.summary() };
  }

  close(): void {
    clearInterval(this.ticker);
    this.server.close();
  }

  private answerJson(res: http.ServerResponse): void {
    this.counters.jsonAnswered += 1;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': COMPLETION.length, 'x-request-id': 'req_bench_streams' }).end(COMPLETION);
  }

  private startStream(req: http.IncomingMessage, res: http.ServerResponse, includeUsage: boolean): void {
    const chunks = headerNumber(req.headers[STREAM_CHUNKS_HEADER], this.options.chunks);
    const intervalMs = headerNumber(req.headers[STREAM_INTERVAL_HEADER], this.options.intervalMs);
    const writer = new ChunkWriter(`chatcmpl-bench${(this.nextId++).toString(36).padStart(24, '0')}`, includeUsage);
    this.counters.streamsStarted += 1;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': 'req_bench_streams' });
    this.write(res, writer.role());
    if (intervalMs === 0 || chunks === 0) {
      let all = '';
      for (let k = 1; k <= chunks; k++) all += writer.content(k);
      this.counters.chunksSent += chunks;
      res.end(all + writer.end(chunks));
      this.counters.streamsCompleted += 1;
      return;
    }
    const stream: ActiveStream = { res, writer, startedAt: performance.now(), intervalMs, chunks, next: 1, closed: false };
    this.open += 1;
    if (this.open > this.counters.maxConcurrentStreams) this.counters.maxConcurrentStreams = this.open;
    res.on('close', () => {
      if (stream.closed) return;
      stream.closed = true;
      this.open -= 1;
      this.counters.streamsCut += 1;
    });
    this.schedule(stream);
  }

  private schedule(stream: ActiveStream): void {
    const due = stream.startedAt + stream.next * stream.intervalMs;
    const slot = Math.max(Math.floor(due / SLOT_MS), this.lastSlot + 1);
    const bucket = this.slots.get(slot);
    if (bucket === undefined) this.slots.set(slot, [stream]);
    else bucket.push(stream);
  }

  private tick(): void {
    const now = performance.now();
    const nowSlot = Math.floor(now / SLOT_MS);
    for (let slot = this.lastSlot + 1; slot <= nowSlot; slot++) {
      const bucket = this.slots.get(slot);
      if (bucket === undefined) continue;
      this.slots.delete(slot);
      for (const stream of bucket) this.send(stream);
    }
    this.lastSlot = nowSlot;
  }

  private send(stream: ActiveStream): void {
    if (stream.closed) return;
    const k = stream.next;
    this.sendLag.record(performance.now() - (stream.startedAt + k * stream.intervalMs));
    this.counters.chunksSent += 1;
    if (k < stream.chunks) {
      this.write(stream.res, stream.writer.content(k));
      stream.next = k + 1;
      this.schedule(stream);
      return;
    }
    stream.closed = true;
    this.open -= 1;
    this.counters.streamsCompleted += 1;
    stream.res.end(stream.writer.content(k) + stream.writer.end(stream.chunks));
  }

  private write(res: http.ServerResponse, text: string): void {
    if (!res.write(text)) this.counters.backpressuredWrites += 1;
  }
}

function main(): void {
  const { values } = parseArgs({ options: { 'api-key': { type: 'string' }, chunks: { type: 'string', default: '600' }, 'interval-ms': { type: 'string', default: '100' } } });
  if (values['api-key'] === undefined) throw new Error('--api-key is required');
  const upstream = new SlowStreamUpstream({ apiKey: values['api-key'], chunks: Number(values.chunks), intervalMs: Number(values['interval-ms']) });
  // A backlog above Node's default 511: the ramp opens thousands of connections a second.
  upstream.server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
    const address = upstream.server.address();
    process.stdout.write(`${JSON.stringify({ listening: typeof address === 'object' && address !== null ? address.port : 0 })}\n`);
  });
  process.on('message', (message: { type?: string }) => {
    if (message.type === 'stats') process.send?.({ type: 'stats', stats: upstream.stats() });
  });
  // Started with an IPC channel: exit with the benchmark, however it ends.
  process.on('disconnect', () => process.exit(0));
}

if (require.main === module) main();
