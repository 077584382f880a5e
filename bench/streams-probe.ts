// The long-stream benchmark's probe, in its own process: what a new, short request meets while the proxy
// holds the long streams. Every `everyMs` (100 ms) it sends one JSON chat completion (timed to its
// response headers) and one short SSE stream (two content chunks sent at once by the upstream, timed to
// its first event, and checked to its [DONE]) through the proxy, on a small pool of keep-alive
// connections opened before the streams, whatever the earlier probes did (open loop, at most
// MAX_IN_FLIGHT outstanding). Samples carry their send time, so the benchmark can tell the idle
// baseline, the ramp and the phase where all streams are open apart.
//   node dist/bench/streams-probe.js '<StreamsProbeSpec as JSON>'
// Started with an IPC channel: sends one `{type:"result"}` message at `until`, then exits.
import { performance } from 'node:perf_hooks';
import { Pool, type Dispatcher } from 'undici';
import { STREAM_CHUNKS_HEADER, STREAM_INTERVAL_HEADER, StreamChecker } from './streams-wire';

export interface StreamsProbeSpec {
  readonly origin: string;
  readonly path: string;
  readonly consumerKey: string;
  readonly jsonBody: string;
  /** A streaming body without stream_options (the proxy adds include_usage and hides the usage chunk). */
  readonly sseBody: string;
  readonly everyMs: number;
  /** Epoch ms: the last probe leaves before then; the result is sent once the last one ended. */
  readonly until: number;
}

export interface ProbeSample {
  readonly kind: 'json' | 'sse';
  /** Epoch ms when it was sent. */
  readonly at: number;
  /** JSON: to the response headers; SSE: to the first event. Null when it never came. */
  readonly firstByteMs: number | null;
  /** To the end of the response. */
  readonly totalMs: number | null;
  /** Null when the answer was a complete 200 (SSE: checked to its [DONE]). */
  readonly error: string | null;
}

export interface StreamsProbeResult {
  readonly type: 'result';
  readonly samples: ProbeSample[];
  /** Ticks skipped because MAX_IN_FLIGHT probes were still outstanding. */
  readonly skipped: number;
}

const MAX_IN_FLIGHT = 50;
const SHORT_STREAM_CHUNKS = 2;

class Probe implements Dispatcher.DispatchHandler {
  private readonly sentAt = performance.now();
  private readonly at = Date.now();
  private status = 0;
  private firstByteMs: number | null = null;
  private readonly checker = new StreamChecker(SHORT_STREAM_CHUNKS, false);

  constructor(
    private readonly kind: 'json' | 'sse',
    private readonly done: (sample: ProbeSample) => void,
  ) {}

  /** undici tells the handler APIs apart by this method: without it the handler is taken for a legacy one. */
  onRequestStart(): void {}

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.status = statusCode;
    if (this.kind === 'json') this.firstByteMs = performance.now() - this.sentAt;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.kind !== 'sse' || this.status !== 200) return;
    if (this.checker.feed(chunk.toString('latin1')) > 0 && this.firstByteMs === null) this.firstByteMs = performance.now() - this.sentAt;
  }

  onResponseEnd(): void {
    let error: string | null = this.status === 200 ? null : `HTTP ${this.status}`;
    if (error === null && this.kind === 'sse') {
      this.checker.finish();
      error = this.checker.problem;
    }
    this.finish(error);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.finish((error as NodeJS.ErrnoException).code ?? error.message);
  }

  private finish(error: string | null): void {
    this.done({ kind: this.kind, at: this.at, firstByteMs: round(this.firstByteMs), totalMs: round(performance.now() - this.sentAt), error });
  }
}

function round(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms * 1000) / 1000;
}

async function probe(spec: StreamsProbeSpec): Promise<StreamsProbeResult> {
  const pool = new Pool(spec.origin, { connections: 8, pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000 });
  const samples: ProbeSample[] = [];
  let inFlight = 0;
  let skipped = 0;
  let allSent = false;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const record = (sample: ProbeSample): void => {
    samples.push(sample);
    inFlight -= 1;
    if (allSent && inFlight === 0) resolveDone();
  };
  const headers = { authorization: `Bearer ${spec.consumerKey}`, 'content-type': 'application/json' };
  const send = (): void => {
    if (Date.now() >= spec.until) {
      clearInterval(ticker);
      allSent = true;
      if (inFlight === 0) resolveDone();
      return;
    }
    if (inFlight >= MAX_IN_FLIGHT) {
      skipped += 1;
      return;
    }
    inFlight += 2;
    pool.dispatch({ method: 'POST', path: spec.path, headers, body: spec.jsonBody }, new Probe('json', record));
    pool.dispatch(
      { method: 'POST', path: spec.path, headers: { ...headers, accept: 'text/event-stream', [STREAM_CHUNKS_HEADER]: String(SHORT_STREAM_CHUNKS), [STREAM_INTERVAL_HEADER]: '0' }, body: spec.sseBody },
      new Probe('sse', record),
    );
  };
  const ticker = setInterval(send, spec.everyMs);
  await done;
  await pool.close().catch(() => undefined);
  return { type: 'result', samples, skipped };
}

function main(): void {
  const spec = JSON.parse(process.argv[2] ?? '') as StreamsProbeSpec;
  process.on('disconnect', () => process.exit(0));
  probe(spec).then(
    (result) => process.send?.(result, () => process.exit(0)),
    (error: unknown) => {
      process.stderr.write(`streams probe: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}

if (require.main === module) main();
