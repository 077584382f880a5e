// The long-stream benchmark's stream holders, in their own processes (a few of them, each holding a
// share of the streams): opens its streams through the proxy on the benchmark's schedule (stream j of N
// at startAt + j/N × ramp; client c of K holds j ≡ c mod K, so every client ramps over the whole ramp),
// one undici connection per stream (or, with h2c, up to 1,000 streams per HTTP/2 session), and
// follows each one: every chunk in order and the end (StreamChecker), the time to its first event,
// the longest gap between two arrivals, and whether it stalled (no event for `stallMs`). Streams
// still open at `deadlineAt` are cut and failed.
//   node dist/bench/streams-client.js '<StreamsClientSpec as JSON>'
// Started with an IPC channel: sends `{type:"progress"}` messages every second and one
// `{type:"result"}` at the end, then exits.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Pool, buildConnector, type Dispatcher } from 'undici';
import { LatencyHistogram, type HistogramSummary } from './streams-histogram';
import { StreamChecker } from './streams-wire';

export interface StreamsClientSpec {
  /** The proxy, e.g. http://127.0.0.1:41234. */
  readonly origin: string;
  /** Chat-completions path through the proxy. */
  readonly path: string;
  readonly consumerKey: string;
  readonly body: string;
  /** The client asked for `stream_options.include_usage` (else the proxy must hide the usage chunk it asked for). */
  readonly expectUsage: boolean;
  readonly contentChunks: number;
  /** This client holds the streams j < total with j mod stride = offset. */
  readonly offset: number;
  readonly stride: number;
  readonly total: number;
  /** Epoch ms of stream 0's start; stream j starts rampMs × j / total later. */
  readonly startAt: number;
  readonly rampMs: number;
  readonly stallMs: number;
  /** Epoch ms: streams still open then are cut and counted failed. */
  readonly deadlineAt: number;
  /** `http1`: one connection per stream; `h2c`: streams multiplexed on cleartext HTTP/2 sessions. */
  readonly protocol: StreamsProtocol;
}

export type StreamsProtocol = 'http1' | 'h2c';

/** Streams per HTTP/2 session: the proxy's own SETTINGS_MAX_CONCURRENT_STREAMS (proxy-listener.ts). */
export const H2C_STREAMS_PER_SESSION = 1000;

export interface StreamsClientProgress {
  readonly type: 'progress';
  readonly opened: number;
  readonly open: number;
  readonly completed: number;
  readonly failed: number;
  /** Open streams without an event for longer than stallMs right now. */
  readonly stalledNow: number;
}

/** A stall: a stream waited longer than stallMs for an event (its first one included). */
export interface StallRecord {
  /** Stream index (0..N-1). */
  readonly stream: number;
  /** Epoch ms when the wait began (the request, or the previous event). */
  readonly since: number;
  readonly waitedMs: number;
  /** The wait for the stream's first event (connection, proxy and upstream set-up) rather than between two. */
  readonly beforeFirstEvent: boolean;
}

export interface StreamsClientResult {
  readonly type: 'result';
  readonly streams: number;
  readonly completed: number;
  readonly failed: number;
  /** Streams (completed or not) that waited longer than stallMs for an event at least once. */
  readonly stalled: number;
  /** Of those, streams that waited that long for their first event… */
  readonly stalledBeforeFirstEvent: number;
  /** …and streams that waited that long between two events (a stream slowed down once flowing). */
  readonly stalledMidStream: number;
  /** Failure reason → streams. */
  readonly failures: Record<string, number>;
  /** Per stream with two events or more: the longest gap between two arrivals, ms. */
  readonly maxGapsMs: number[];
  /** Per stream that got an event: request sent → first event, ms. */
  readonly firstEventMs: number[];
  /** Every gap between two arrivals of one stream (events coalesced in one read count once). */
  readonly gapMs: HistogramSummary;
  /** The client's own event-loop delay: a busy client inflates the gaps it measures. */
  readonly eventLoopDelayMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** How late the last stream was opened against its schedule, ms. */
  readonly maxOpenLagMs: number;
  /** The first stalls (up to 200), for telling when they happened. */
  readonly stalls: StallRecord[];
  readonly events: number;
}

const MAX_STALL_RECORDS = 200;

/** One stream: an undici dispatch handler that checks and times what arrives. */
class HeldStream implements Dispatcher.DispatchHandler {
  readonly checker: StreamChecker;
  private controller: Dispatcher.DispatchController | null = null;
  readonly requestedAt = performance.now();
  lastEventAt: number | null = null;
  maxGapMs = 0;
  firstEventMs: number | null = null;
  /** Longest wait for an event (first event included). */
  longestWaitMs = 0;
  status = 0;
  errorBody = '';
  outcome: 'open' | 'completed' | 'failed' = 'open';
  failure: string | null = null;

  constructor(
    readonly index: number,
    spec: StreamsClientSpec,
    private readonly client: StreamsClient,
  ) {
    this.checker = new StreamChecker(spec.contentChunks, spec.expectUsage);
  }

  /** Also what makes undici take this for a handler of its current API (not a legacy one). */
  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.status = statusCode;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.status !== 200) {
      if (this.errorBody.length < 300) this.errorBody += chunk.toString('utf8');
      return;
    }
    const now = performance.now();
    if (this.checker.feed(chunk.toString('latin1')) === 0) return;
    const since = this.lastEventAt ?? this.requestedAt;
    const waited = now - since;
    if (this.lastEventAt === null) this.firstEventMs = waited;
    else {
      if (waited > this.maxGapMs) this.maxGapMs = waited;
      this.client.gaps.record(waited);
    }
    if (waited > this.longestWaitMs) this.longestWaitMs = waited;
    this.client.noteWait(this, since, waited, this.lastEventAt === null);
    this.lastEventAt = now;
  }

  onResponseEnd(): void {
    if (this.status !== 200) return this.fail(`HTTP ${this.status}${errorCode(this.errorBody)}`);
    this.checker.finish();
    if (this.checker.problem !== null) return this.fail(this.checker.problem);
    this.outcome = 'completed';
    this.client.settled(this);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    const code = (error as NodeJS.ErrnoException).code;
    // undici's codes are generic (UND_ERR_SOCKET): its message says which side did what.
    const what = code === undefined ? error.message : code.startsWith('UND_ERR') ? `${code} (${error.message})` : code;
    this.fail(this.status === 200 ? `cut mid-stream: ${what}` : `request failed: ${what}`);
  }

  abort(reason: string): void {
    this.failure ??= reason;
    // Not yet on a connection (queued in the pool): nothing to cut, it just fails.
    if (this.controller === null) this.fail(reason);
    else this.controller.abort(new Error(reason));
  }

  private fail(reason: string): void {
    if (this.outcome !== 'open') return;
    this.outcome = 'failed';
    this.failure ??= reason;
    this.client.settled(this);
  }
}

/** `{"error":{"code":…}}` of an error answer (the proxy's tokengate code), for the failure reason. */
function errorCode(body: string): string {
  const match = /"code"\s*:\s*"([^"]+)"/.exec(body);
  return match === null ? '' : ` ${match[1]}`;
}

export class StreamsClient {
  readonly gaps = new LatencyHistogram();
  private readonly pool: Pool;
  private readonly streams: HeldStream[] = [];
  private readonly open = new Set<HeldStream>();
  private readonly stalls: StallRecord[] = [];
  private readonly stalledBeforeFirstEvent = new Set<number>();
  private readonly stalledMidStream = new Set<number>();
  private readonly schedule: number[];
  private opened = 0;
  private completed = 0;
  private failed = 0;
  private maxOpenLagMs = 0;
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });
  private resolveDone: (() => void) | null = null;

  constructor(private readonly spec: StreamsClientSpec) {
    // HTTP/1.1: one connection per stream (pipelining off). h2c: a session per 1,000 streams, opened
    // as the sessions fill, as an HTTP/2 client or a load balancer in front of the proxy would. The
    // stream's length is our own business, not undici's.
    // undici 7.30's Pool builds its clients' connector without `useH2c` (nodejs/undici#4737): they
    // would speak HTTP/1.1, pipelined. h2c needs a connector of its own; `buildConnector` reads
    // `useH2c` (lib/core/connect.js), though its BuildOptions type does not list it.
    const connect = { timeout: 30_000 };
    const h2cConnect: buildConnector.BuildOptions & { useH2c: true } = { ...connect, useH2c: true };
    const transport =
      spec.protocol === 'h2c'
        ? { allowH2: true, pipelining: H2C_STREAMS_PER_SESSION, maxConcurrentStreams: H2C_STREAMS_PER_SESSION, connect: buildConnector(h2cConnect) }
        : { pipelining: 1, connect };
    this.pool = new Pool(spec.origin, { connections: null, ...transport, headersTimeout: 60_000, bodyTimeout: 0, keepAliveTimeout: 10_000 });
    this.schedule = [];
    for (let j = spec.offset; j < spec.total; j += spec.stride) this.schedule.push(j);
  }

  /** Opens the streams on schedule and resolves once every one of them ended. */
  async run(): Promise<StreamsClientResult> {
    this.loopDelay.enable();
    const done = new Promise<void>((resolve) => (this.resolveDone = resolve));
    const opener = setInterval(() => this.openDue(), 2);
    const progress = setInterval(() => process.send?.(this.progress()), 1000);
    const deadline = setTimeout(() => {
      for (const stream of this.open) stream.abort(`unfinished at the deadline (${stream.checker.events === 0 ? 'no event yet' : 'had been flowing'})`);
    }, Math.max(0, this.spec.deadlineAt - Date.now()));
    if (this.schedule.length === 0) this.resolveDone?.();
    await done;
    clearInterval(opener);
    clearInterval(progress);
    clearTimeout(deadline);
    this.loopDelay.disable();
    await this.pool.close().catch(() => undefined);
    return this.result();
  }

  /** Called by a stream for each wait that ended with an event. */
  noteWait(stream: HeldStream, since: number, waited: number, beforeFirstEvent: boolean): void {
    if (waited <= this.spec.stallMs) return;
    (beforeFirstEvent ? this.stalledBeforeFirstEvent : this.stalledMidStream).add(stream.index);
    if (this.stalls.length < MAX_STALL_RECORDS) this.stalls.push({ stream: stream.index, since: Math.round(performance.timeOrigin + since), waitedMs: Math.round(waited), beforeFirstEvent });
  }

  settled(stream: HeldStream): void {
    if (!this.open.delete(stream)) return;
    if (stream.outcome === 'completed') this.completed += 1;
    else this.failed += 1;
    // A stream that ended (or failed) while waiting too long also stalled.
    const waited = performance.now() - (stream.lastEventAt ?? stream.requestedAt);
    if (stream.outcome === 'failed' && waited > this.spec.stallMs) this.noteWait(stream, stream.lastEventAt ?? stream.requestedAt, waited, stream.lastEventAt === null);
    if (this.opened === this.schedule.length && this.open.size === 0) this.resolveDone?.();
  }

  private openDue(): void {
    const now = Date.now();
    const { startAt, rampMs, total } = this.spec;
    while (this.opened < this.schedule.length) {
      const j = this.schedule[this.opened];
      const dueAt = startAt + (rampMs * j) / total;
      if (dueAt > now) return;
      this.maxOpenLagMs = Math.max(this.maxOpenLagMs, now - dueAt);
      this.opened += 1;
      const stream = new HeldStream(j, this.spec, this);
      this.streams.push(stream);
      this.open.add(stream);
      this.pool.dispatch(
        {
          method: 'POST',
          path: this.spec.path,
          headers: { authorization: `Bearer ${this.spec.consumerKey}`, 'content-type': 'application/json', accept: 'text/event-stream' },
          body: this.spec.body,
          // undici gives a request it must not retry a connection of its own; marked idempotent, the
          // streams share h2c sessions. No retry wraps this pool: a failure still fails its stream.
          idempotent: this.spec.protocol === 'h2c',
        },
        stream,
      );
    }
  }

  private progress(): StreamsClientProgress {
    const now = performance.now();
    let stalledNow = 0;
    for (const stream of this.open) if (now - (stream.lastEventAt ?? stream.requestedAt) > this.spec.stallMs) stalledNow += 1;
    return { type: 'progress', opened: this.opened, open: this.open.size, completed: this.completed, failed: this.failed, stalledNow };
  }

  private result(): StreamsClientResult {
    const failures: Record<string, number> = {};
    const maxGapsMs: number[] = [];
    const firstEventMs: number[] = [];
    let events = 0;
    for (const stream of this.streams) {
      events += stream.checker.events;
      if (stream.failure !== null && stream.outcome === 'failed') failures[stream.failure] = (failures[stream.failure] ?? 0) + 1;
      if (stream.firstEventMs !== null) firstEventMs.push(round(stream.firstEventMs));
      if (stream.checker.events >= 2) maxGapsMs.push(round(stream.maxGapMs));
    }
    const ms = (ns: number): number => round(ns / 1e6);
    return {
      type: 'result',
      streams: this.streams.length,
      completed: this.completed,
      failed: this.failed,
      stalled: new Set([...this.stalledBeforeFirstEvent, ...this.stalledMidStream]).size,
      stalledBeforeFirstEvent: this.stalledBeforeFirstEvent.size,
      stalledMidStream: this.stalledMidStream.size,
      failures,
      maxGapsMs,
      firstEventMs,
      gapMs: this.gaps.summary(),
      eventLoopDelayMs: { p50: ms(this.loopDelay.percentile(50)), p99: ms(this.loopDelay.percentile(99)), max: ms(this.loopDelay.max) },
      maxOpenLagMs: round(this.maxOpenLagMs),
      stalls: this.stalls,
      events,
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function main(): void {
  const spec = JSON.parse(process.argv[2] ?? '') as StreamsClientSpec;
  // Started with an IPC channel: exit with the benchmark, however it ends.
  process.on('disconnect', () => process.exit(0));
  new StreamsClient(spec).run().then(
    (result) => process.send?.(result, () => process.exit(0)),
    (error: unknown) => {
      process.stderr.write(`streams client: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}

if (require.main === module) main();
