// The soak benchmark's load, in its own process: an open-loop client. Request k leaves at
// start + k / rate whatever the earlier answers do, and its latency runs from that scheduled time, not
// from when it actually left: a stall of the system under test shows in the percentiles instead of
// quietly slowing the load down (no coordinated omission). Requests go round-robin over the routes.
//   node dist/bench/soak-client.js '<SoakClientSpec as JSON>'
// stdout: `{"measuring":true}` when the warm-up ends, then one line `{"result": SoakClientResult}`.
// Every answer counts in the token tallies and status counts (warm-up included, so that they can
// equal the gateway's own counters); only the measured phase counts in latencies and throughput.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { percentileOfSorted } from './statistics';

export interface SoakRoute {
  /** Which proxy and which service this route goes through (labels in the report). */
  readonly proxy: string;
  readonly service: string;
  /** Full chat-completions URL through that proxy. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface SoakClientSpec {
  readonly routes: readonly SoakRoute[];
  /** Requests per second over all routes. */
  readonly ratePerSecond: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly body: string;
  /** A request without an answer by then is an error. */
  readonly timeoutMs: number;
  /** Length of the gateway's rate-limit window (60,000 for a per-minute budget). */
  readonly windowMs: number;
}

export interface LatencySummary {
  readonly label: string;
  readonly count: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
}

/** Answers of one route in one rate-limit window of the gateway. */
export interface RouteWindowTally {
  readonly proxy: string;
  readonly service: string;
  /** Epoch ms: the window the gateway admitted the 200s in (see admissionWindow). */
  readonly windowStart: number;
  ok: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** 429 answers received in this window (by the time they were answered). */
  refused: number;
}

export interface StatusCount {
  readonly proxy: string;
  readonly service: string;
  /** HTTP status, or 0 for a transport error or timeout. */
  readonly status: number;
  /** `error.code` of a refusal (`tokengate_rate_limited`, …), '' otherwise. */
  readonly code: string;
  /** Answered to a warm-up request (not in latencies or throughput). */
  readonly warmUp: boolean;
  count: number;
}

export interface SoakClientResult {
  readonly offeredRate: number;
  /** Requests scheduled in the measured phase. */
  readonly measuredRequests: number;
  /** Wall time from the first measured scheduled send to the last measured answer. */
  readonly measuredSeconds: number;
  readonly measuredStartedAt: string;
  readonly measuredEndedAt: string;
  /** From scheduled to actual send, measured phase: the client's own lateness (timer granularity). */
  readonly sendLag: LatencySummary;
  /** From the scheduled send to the last byte of the answer, measured phase. */
  readonly latency: readonly LatencySummary[];
  readonly statuses: readonly StatusCount[];
  /** Warm-up and measured phase. */
  readonly windows: readonly RouteWindowTally[];
  /** 200s whose admission window could not be told (sent and answered in different windows, no reset header). */
  readonly unattributed: number;
  /** 200s whose body reports no usage: errors. */
  readonly malformed: number;
  /** Up to 20 examples of errors (transport errors, timeouts, unexpected statuses). */
  readonly errorSamples: readonly string[];
}

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly resetHeader: string | undefined;
}

/** Seconds of OpenAI's reset notation ("45s", "6m0s", "1h2m3s"); null when absent or malformed. */
export function parseResetSeconds(value: string | undefined): number | null {
  const match = value === undefined ? null : /^(?:(\d+)h)?(?:(\d+)m)?(\d+)s$/.exec(value);
  if (match === null) return null;
  return Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3]);
}

/**
 * Start of the window the gateway admitted a request in. The admission happened between the send and
 * the answer; when both fall in one window that is it. When they straddle a boundary the gateway's
 * `x-ratelimit-reset-tokens` (time from the answer's headers to the end of the admission window)
 * tells: a few seconds or less means the earlier window, about a whole window the later one.
 * Null when it cannot be told.
 */
export function admissionWindow(sentAtMs: number, answeredAtMs: number, resetHeader: string | undefined, windowMs: number): number | null {
  const sentWindow = Math.floor(sentAtMs / windowMs) * windowMs;
  const answeredWindow = Math.floor(answeredAtMs / windowMs) * windowMs;
  if (sentWindow === answeredWindow) return sentWindow;
  const reset = parseResetSeconds(resetHeader);
  if (reset === null || answeredWindow - sentWindow !== windowMs) return null;
  return reset * 1000 <= windowMs / 2 ? sentWindow : answeredWindow;
}

function usageOf(body: string): { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null {
  try {
    const usage = (JSON.parse(body) as { usage?: { prompt_tokens?: unknown; completion_tokens?: unknown; total_tokens?: unknown } }).usage;
    const { prompt_tokens, completion_tokens, total_tokens } = usage ?? {};
    return typeof prompt_tokens === 'number' && typeof completion_tokens === 'number' && typeof total_tokens === 'number' ? { prompt_tokens, completion_tokens, total_tokens } : null;
  } catch {
    return null;
  }
}

function summarizeLatencies(label: string, values: number[]): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  return {
    label,
    count: sorted.length,
    p50Us: percentileOfSorted(sorted, 50),
    p99Us: percentileOfSorted(sorted, 99),
    p999Us: percentileOfSorted(sorted, 99.9),
    maxUs: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1],
  };
}

function send(route: SoakRoute, url: URL, agent: http.Agent, body: Buffer, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { agent, hostname: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', headers: { ...route.headers, 'content-type': 'application/json', 'content-length': body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const reset = res.headers['x-ratelimit-reset-tokens'];
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), resetHeader: typeof reset === 'string' ? reset : undefined });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

export function runSoakClient(spec: SoakClientSpec, onMeasuring: () => void): Promise<SoakClientResult> {
  const body = Buffer.from(spec.body);
  const agents = new Map<string, http.Agent>();
  const targets = spec.routes.map((route) => {
    const url = new URL(route.url);
    let agent = agents.get(url.origin);
    if (agent === undefined) {
      // Open loop: when answers slow down, connections grow instead of requests queueing behind them.
      agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
      agents.set(url.origin, agent);
    }
    return { route, url, agent };
  });
  const intervalMs = 1000 / spec.ratePerSecond;
  const warmupRequests = Math.round((spec.warmupMs / 1000) * spec.ratePerSecond);
  const measuredRequests = Math.round((spec.durationMs / 1000) * spec.ratePerSecond);
  const total = warmupRequests + measuredRequests;

  const latencies = new Map<string, number[]>();
  const sendLags: number[] = [];
  const statuses = new Map<string, StatusCount>();
  const windows = new Map<string, RouteWindowTally>();
  const errorSamples: string[] = [];
  let unattributed = 0;
  let malformed = 0;
  let measuredStartWall = 0;
  let lastMeasuredAnswerWall = 0;

  const windowTally = (route: SoakRoute, windowStart: number): RouteWindowTally => {
    const key = `${route.proxy}|${route.service}|${windowStart}`;
    let tally = windows.get(key);
    if (tally === undefined) {
      tally = { proxy: route.proxy, service: route.service, windowStart, ok: 0, promptTokens: 0, completionTokens: 0, totalTokens: 0, refused: 0 };
      windows.set(key, tally);
    }
    return tally;
  };
  const countStatus = (route: SoakRoute, status: number, code: string, warmUp: boolean): void => {
    const key = `${route.proxy}|${route.service}|${status}|${code}|${warmUp}`;
    const entry = statuses.get(key);
    if (entry === undefined) statuses.set(key, { proxy: route.proxy, service: route.service, status, code, warmUp, count: 1 });
    else entry.count += 1;
  };
  const recordLatency = (label: string, micros: number): void => {
    let list = latencies.get(label);
    if (list === undefined) latencies.set(label, (list = []));
    list.push(micros);
  };
  const noteError = (message: string): void => {
    if (errorSamples.length < 20) errorSamples.push(message);
  };

  /** Tokens of a 200 go to its admission window; an unexpected answer is an error. Returns the refusal code of a 429. */
  const account = (route: SoakRoute, answer: Answer, sentWall: number, answeredWall: number): string => {
    if (answer.status === 200) {
      const usage = usageOf(answer.body);
      if (usage === null) {
        malformed += 1;
        noteError(`${route.proxy} ${route.service}: 200 without usage: ${answer.body.slice(0, 200)}`);
      }
      let windowStart = admissionWindow(sentWall, answeredWall, answer.resetHeader, spec.windowMs);
      if (windowStart === null) {
        unattributed += 1;
        windowStart = Math.floor(answeredWall / spec.windowMs) * spec.windowMs;
      }
      const tally = windowTally(route, windowStart);
      tally.ok += 1;
      tally.promptTokens += usage?.prompt_tokens ?? 0;
      tally.completionTokens += usage?.completion_tokens ?? 0;
      tally.totalTokens += usage?.total_tokens ?? 0;
      return '';
    }
    let code = '';
    try {
      code = (JSON.parse(answer.body) as { error?: { code?: string } }).error?.code ?? '';
    } catch {
      // not the gateway's JSON error
    }
    if (answer.status === 429) windowTally(route, Math.floor(answeredWall / spec.windowMs) * spec.windowMs).refused += 1;
    else noteError(`${route.proxy} ${route.service}: HTTP ${answer.status} ${answer.body.slice(0, 200)}`);
    return code;
  };

  return new Promise((resolve) => {
    const startMs = performance.now() + 10;
    let next = 0;
    let inFlight = 0;

    const finishIfDone = (): void => {
      if (next < total || inFlight > 0) return;
      for (const agent of agents.values()) agent.destroy();
      const sortedLabels = [...latencies.keys()].sort((a, b) => (a === 'all' ? -1 : b === 'all' ? 1 : a.localeCompare(b)));
      resolve({
        offeredRate: spec.ratePerSecond,
        measuredRequests,
        measuredSeconds: (lastMeasuredAnswerWall - measuredStartWall) / 1000,
        measuredStartedAt: new Date(measuredStartWall).toISOString(),
        measuredEndedAt: new Date(lastMeasuredAnswerWall).toISOString(),
        sendLag: summarizeLatencies('send lag', sendLags),
        latency: sortedLabels.map((label) => summarizeLatencies(label, latencies.get(label) ?? [])),
        statuses: [...statuses.values()],
        windows: [...windows.values()].sort((a, b) => a.windowStart - b.windowStart || a.service.localeCompare(b.service) || a.proxy.localeCompare(b.proxy)),
        unattributed,
        malformed,
        errorSamples,
      });
    };

    const fire = (k: number, scheduledMs: number): void => {
      const { route, url, agent } = targets[k % targets.length];
      const measured = k >= warmupRequests;
      const sentWall = Date.now();
      if (measured) sendLags.push((performance.now() - scheduledMs) * 1000);
      inFlight += 1;
      send(route, url, agent, body, spec.timeoutMs).then(
        (answer) => {
          const answeredWall = Date.now();
          const micros = (performance.now() - scheduledMs) * 1000;
          const code = account(route, answer, sentWall, answeredWall);
          countStatus(route, answer.status, code, !measured);
          if (measured) {
            lastMeasuredAnswerWall = Math.max(lastMeasuredAnswerWall, answeredWall);
            recordLatency('all', micros);
            recordLatency(`${route.service} ${answer.status}`, micros);
          }
        },
        (error: unknown) => {
          const message = error instanceof Error ? error.message : String(error);
          noteError(`${route.proxy} ${route.service}: ${message}`);
          countStatus(route, 0, '', !measured);
          if (measured) lastMeasuredAnswerWall = Math.max(lastMeasuredAnswerWall, Date.now());
        },
      ).finally(() => {
        inFlight -= 1;
        finishIfDone();
      });
    };

    const pump = (): void => {
      const now = performance.now();
      for (; next < total; next++) {
        const scheduledMs = startMs + next * intervalMs;
        if (scheduledMs > now) break;
        if (next === warmupRequests) {
          measuredStartWall = Date.now() - (now - scheduledMs);
          onMeasuring();
        }
        fire(next, scheduledMs);
      }
      if (next < total) setTimeout(pump, startMs + next * intervalMs - performance.now());
      else finishIfDone();
    };
    setTimeout(pump, 10);
  });
}

if (require.main === module) {
  const parentGone = (): never => process.exit(1);
  process.on('disconnect', parentGone);
  runSoakClient(JSON.parse(process.argv[2] ?? '{}') as SoakClientSpec, () => process.stdout.write('{"measuring":true}\n')).then(
    (result) => {
      process.stdout.write(`${JSON.stringify({ result })}\n`);
      // Stay until the benchmark stops us, so that its CPU figures still see this process; alone, exit.
      if (process.send === undefined) process.exit(0);
      process.off('disconnect', parentGone);
      process.on('disconnect', () => process.exit(0));
    },
    (error: unknown) => {
      process.stderr.write(`soak-client: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
