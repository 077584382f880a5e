// The long-stream benchmark's figures: what the stream holders, the probe, the upstream and the
// per-second samples of the proxy add up to, the goal of issue 12 (item 5), and the table on stdout.
import type { CpuUse } from './cpu-usage';
import type { StreamsClientResult } from './streams-client';
import type { HistogramSummary } from './streams-histogram';
import type { ProbeSample } from './streams-probe';
import type { UpstreamStats } from './streams-upstream';
import { percentileOfSorted } from './statistics';

export const GOAL_STREAMS = 10_000;
/** 1 GB, read strictly (10^9 bytes, not GiB). */
export const GOAL_RSS_BYTES = 1_000_000_000;
/** `other` cores above this: the run is flagged as disturbed (as `npm run bench` does). */
const BUSY_MACHINE_CORES = 0.2;

/** One per-second sample of the run. */
export interface SecondSample {
  /** Seconds since stream 0 was due (negative: the idle baseline). */
  readonly atS: number;
  readonly proxyRssBytes: number | null;
  readonly proxyFds: number | null;
  /** Connections waiting in the proxy's accept queue (its listening socket's rx queue in /proc/net/tcp). */
  readonly proxyAcceptQueue: number | null;
  readonly cpu: CpuUse;
  /** /proc/pressure/cpu `some avg10`: % of the last 10 s in which a runnable task of the machine waited for a CPU. */
  readonly cpuPressure: number | null;
  /** Summed over the stream holders' last progress messages. */
  readonly opened: number;
  readonly open: number;
  readonly completed: number;
  readonly failed: number;
  readonly stalledNow: number;
}

export interface Spread {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface ProbeSpread extends Spread {
  readonly errors: number;
}

export type Phase = 'idle' | 'ramp' | 'full' | 'after';

export interface PhaseBounds {
  /** Epoch ms: stream 0 due. */
  readonly startAt: number;
  readonly rampMs: number;
  /** One stream's length (chunks × interval). */
  readonly streamMs: number;
}

export interface StreamsSummary {
  readonly streams: {
    readonly requested: number;
    readonly opened: number;
    readonly completed: number;
    readonly failed: number;
    readonly stalled: number;
    readonly stalledBeforeFirstEvent: number;
    readonly stalledMidStream: number;
    readonly failures: Record<string, number>;
  };
  readonly maxGapMs: Spread;
  readonly firstEventMs: Spread;
  readonly probes: Record<Phase, { readonly json: ProbeSpread; readonly sse: ProbeSpread }>;
  readonly proxyRss: {
    readonly idleBytes: number | null;
    readonly peakBytes: number | null;
    readonly peakAtS: number | null;
    readonly afterBytes: number | null;
    /** The most streams the proxy held at once (its open files above the idle ones, ÷ its sockets per stream) and its RSS then. */
    readonly mostHeld: { readonly atS: number; readonly streams: number; readonly rssBytes: number } | null;
    /** (RSS − idle RSS) ÷ streams held, at that moment. */
    readonly perStreamBytes: number | null;
  };
  readonly proxyFdsPeak: number | null;
  readonly proxyAcceptQueuePeak: number | null;
  /** Mean CPU pressure (PSI some avg10, %) before the ramp and while all streams were open. */
  readonly cpuPressureIdle: number | null;
  readonly cpuPressureFull: number | null;
  /** Mean `other` cores (work on the machine outside the benchmark) before the ramp. */
  readonly outsideCoresIdle: number | null;
  /** Mean cores per process over the seconds in which every stream was open (the full phase). */
  readonly cpuFullPhase: Record<string, number>;
  readonly outsideCoresFullPhase: number | null;
  readonly proxyCpuPeakCores: number | null;
}

export interface StreamsGoal {
  readonly goal: string;
  readonly status: 'PASS' | 'FAIL' | 'SKIP';
  readonly detail: string;
}

export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  return { count: sorted.length, p50: percentileOfSorted(sorted, 50), p99: percentileOfSorted(sorted, 99), max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1] };
}

/** Which phase an epoch-ms instant belongs to: full = every stream open (after the ramp, before the first one ends). */
export function phaseOf(at: number, bounds: PhaseBounds): Phase {
  if (at < bounds.startAt) return 'idle';
  if (at < bounds.startAt + bounds.rampMs) return 'ramp';
  if (at < bounds.startAt + bounds.streamMs) return 'full';
  return 'after';
}

function probeSpread(samples: readonly ProbeSample[]): ProbeSpread {
  const ok = samples.filter((s) => s.error === null && s.firstByteMs !== null).map((s) => s.firstByteMs as number);
  return { ...spread(ok), errors: samples.length - ok.length };
}

export function summarizeStreams(
  requested: number,
  clients: readonly StreamsClientResult[],
  probes: readonly ProbeSample[],
  seconds: readonly SecondSample[],
  bounds: PhaseBounds,
  afterRssBytes: number | null,
  proxyName: string,
  /** The proxy's sockets per stream: 2 over HTTP/1.1 (client and upstream), 1 over h2c (the sessions are a handful). */
  socketsPerStream: 1 | 2 = 2,
): StreamsSummary {
  const failures: Record<string, number> = {};
  for (const client of clients) for (const [reason, count] of Object.entries(client.failures)) failures[reason] = (failures[reason] ?? 0) + count;
  const sum = (pick: (c: StreamsClientResult) => number): number => clients.reduce((n, c) => n + pick(c), 0);
  const phases: Phase[] = ['idle', 'ramp', 'full', 'after'];
  const probesByPhase = Object.fromEntries(
    phases.map((phase) => {
      const inPhase = probes.filter((p) => phaseOf(p.at, bounds) === phase);
      return [phase, { json: probeSpread(inPhase.filter((p) => p.kind === 'json')), sse: probeSpread(inPhase.filter((p) => p.kind === 'sse')) }];
    }),
  ) as StreamsSummary['probes'];

  const idle = seconds.filter((s) => s.atS < 0 && s.proxyRssBytes !== null);
  const idleBytes = idle.length === 0 ? null : idle[idle.length - 1].proxyRssBytes;
  let peak: SecondSample | null = null;
  for (const s of seconds) if (s.proxyRssBytes !== null && (peak === null || s.proxyRssBytes > (peak.proxyRssBytes ?? 0))) peak = s;
  const peakBytes = peak?.proxyRssBytes ?? null;
  const fds = seconds.flatMap((s) => (s.proxyFds === null ? [] : [s.proxyFds]));
  const idleFds = idle.length === 0 ? null : idle[idle.length - 1].proxyFds;
  let mostHeld: StreamsSummary['proxyRss']['mostHeld'] = null;
  for (const s of seconds) {
    if (s.atS < 0 || s.proxyFds === null || s.proxyRssBytes === null || idleFds === null) continue;
    const held = Math.floor((s.proxyFds - idleFds) / socketsPerStream);
    if (held > 0 && (mostHeld === null || held > mostHeld.streams)) mostHeld = { atS: s.atS, streams: held, rssBytes: s.proxyRssBytes };
  }
  const acceptQueue = seconds.flatMap((s) => (s.proxyAcceptQueue === null ? [] : [s.proxyAcceptQueue]));

  const full = seconds.filter((s) => s.atS * 1000 >= bounds.rampMs && s.atS * 1000 < bounds.streamMs);
  const cpuFullPhase: Record<string, number> = {};
  for (const s of full) for (const [name, cores] of Object.entries(s.cpu.byProcess)) cpuFullPhase[name] = (cpuFullPhase[name] ?? 0) + cores / full.length;
  for (const name of Object.keys(cpuFullPhase)) cpuFullPhase[name] = Math.round(cpuFullPhase[name] * 100) / 100;
  const mean = (samples: readonly SecondSample[], pick: (s: SecondSample) => number | null): number | null => {
    const values = samples.flatMap((s) => {
      const value = pick(s);
      return value === null ? [] : [value];
    });
    return values.length === 0 ? null : Math.round((values.reduce((a, b) => a + b, 0) / values.length) * 100) / 100;
  };
  const meanOutside = (samples: readonly SecondSample[]): number | null => mean(samples, (s) => s.cpu.outsideCores);
  const beforeRamp = seconds.filter((s) => s.atS < 0);

  return {
    streams: { requested, opened: sum((c) => c.streams), completed: sum((c) => c.completed), failed: sum((c) => c.failed), stalled: sum((c) => c.stalled),
      stalledBeforeFirstEvent: sum((c) => c.stalledBeforeFirstEvent),
      stalledMidStream: sum((c) => c.stalledMidStream),
      failures,
    },
    maxGapMs: spread(clients.flatMap((c) => c.maxGapsMs)),
    firstEventMs: spread(clients.flatMap((c) => c.firstEventMs)),
    probes: probesByPhase,
    proxyRss: {
      idleBytes,
      peakBytes,
      peakAtS: peak?.atS ?? null,
      afterBytes: afterRssBytes,
      mostHeld,
      // Null when the RSS then was below the idle reading: a collection in between, nothing to divide.
      perStreamBytes: idleBytes === null || mostHeld === null || mostHeld.rssBytes <= idleBytes ? null : Math.round((mostHeld.rssBytes - idleBytes) / mostHeld.streams),
    },
    proxyFdsPeak: fds.length === 0 ? null : Math.max(...fds),
    proxyAcceptQueuePeak: acceptQueue.length === 0 ? null : Math.max(...acceptQueue),
    cpuFullPhase,
    cpuPressureIdle: mean(beforeRamp, (s) => s.cpuPressure),
    cpuPressureFull: mean(full, (s) => s.cpuPressure),
    outsideCoresIdle: meanOutside(beforeRamp),
    outsideCoresFullPhase: meanOutside(full),
    proxyCpuPeakCores: seconds.reduce<number | null>((peakCores, s) => {
      const cores = s.cpu.byProcess[proxyName];
      return cores === undefined || (peakCores !== null && peakCores >= cores) ? peakCores : cores;
    }, null),
  };
}

export function evaluateGoal(summary: StreamsSummary, target: string): StreamsGoal {
  const goal = `proxy RSS ≤ 1 GB with ${GOAL_STREAMS.toLocaleString('en-US')} streams, none stalled`;
  const { streams, proxyRss } = summary;
  const detail = `${streams.requested.toLocaleString('en-US')} streams: ${streams.completed} completed, ${streams.failed} failed, ${streams.stalled} stalled; peak RSS ${mib(proxyRss.peakBytes)}`;
  if (target !== 'tokengate') return { goal, status: 'SKIP', detail: `${detail} (target ${target}: the goal is Tokengate's)` };
  if (streams.requested < GOAL_STREAMS) return { goal, status: 'SKIP', detail: `${detail} (STREAMS_N below ${GOAL_STREAMS})` };
  const pass = proxyRss.peakBytes !== null && proxyRss.peakBytes <= GOAL_RSS_BYTES && streams.stalled === 0 && streams.failed === 0 && streams.completed === streams.requested;
  return { goal, status: pass ? 'PASS' : 'FAIL', detail };
}

export function mib(bytes: number | null): string {
  return bytes === null ? '—' : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

const ms = (value: number): string => (Number.isNaN(value) ? '—' : value >= 100 ? value.toFixed(0) : value.toFixed(1));
const pct = (value: number | null): string => (value === null ? '—' : `${value.toFixed(0)} %`);
const spreadText = (s: Spread): string => `p50 ${ms(s.p50)}  p99 ${ms(s.p99)}  max ${ms(s.max)} ms`;
const probeText = (s: ProbeSpread): string => `${spreadText(s)}  (${s.count} ok${s.errors > 0 ? `, ${s.errors} ERRORS` : ''})`;

export interface StreamsTableInput {
  readonly summary: StreamsSummary;
  readonly goal: StreamsGoal;
  readonly upstream: UpstreamStats | null;
  readonly clients: readonly StreamsClientResult[];
  readonly fdNote: string | null;
  readonly listenOverflows: number | null;
  /** The proxy's listen backlog (from ss), when known. */
  readonly proxyBacklog: number | null;
  readonly proxyCpuPerEventUs: number | null;
  /** Events per second all streams together ask for (N × 1000 / interval). */
  readonly eventsPerSecond: number;
  /** What the proxy logged at warn or above, by message, during the run. */
  readonly proxyWarnings: Record<string, number>;
  readonly heading: string;
  readonly resultFile: string;
}

export function renderStreamsTable(input: StreamsTableInput): string {
  const { summary, goal, upstream, clients } = input;
  const rss = summary.proxyRss;
  const s = summary.streams;
  const lag = (h: HistogramSummary | undefined): string => (h === undefined ? '—' : `p50 ${ms(h.p50)}  p99 ${ms(h.p99)}  max ${ms(h.max)} ms`);
  const loop = clients.map((c) => `p99 ${ms(c.eventLoopDelayMs.p99)} / max ${ms(c.eventLoopDelayMs.max)}`).join('; ');
  const cores = Object.entries(summary.cpuFullPhase).map(([name, value]) => `${name} ${value.toFixed(2)}`).join(', ');
  const rows: Array<[string, string]> = [
    ['streams', `${s.requested.toLocaleString('en-US')} requested, ${s.completed.toLocaleString('en-US')} completed, ${s.failed} failed`],
    ['stalled (an event waited > threshold)', `${s.stalled} streams: ${s.stalledBeforeFirstEvent} waiting for their first event, ${s.stalledMidStream} between two events`],
    ...Object.entries(s.failures).map(([reason, count]): [string, string] => ['  failure', `${count} × ${reason}`]),
    ['max inter-chunk gap per stream', spreadText(summary.maxGapMs)],
    ['first event of a stream', spreadText(summary.firstEventMs)],
    ['new JSON request, idle proxy', probeText(summary.probes.idle.json)],
    ['new JSON request, all streams open', probeText(summary.probes.full.json)],
    ['new SSE request (1st event), idle', probeText(summary.probes.idle.sse)],
    ['new SSE request (1st event), all open', probeText(summary.probes.full.sse)],
    ['proxy RSS', `idle ${mib(rss.idleBytes)}, peak ${mib(rss.peakBytes)} (at ${rss.peakAtS ?? '—'} s), ${mib(rss.afterBytes)} once the streams were over (STREAMS_AFTER_S later)`],
    [
      'streams held by the proxy at most',
      rss.mostHeld === null
        ? '—'
        : `${rss.mostHeld.streams.toLocaleString('en-US')} (at ${rss.mostHeld.atS} s, RSS ${mib(rss.mostHeld.rssBytes)}): ${rss.perStreamBytes === null ? '— (RSS below the idle reading)' : `${(rss.perStreamBytes / 1024).toFixed(1)} KiB`} per stream held`,
    ],
    ['proxy file descriptors', `peak ${summary.proxyFdsPeak ?? '—'}${input.fdNote === null ? '' : `; ${input.fdNote}`}`],
    ['CPU while all open (cores)', `${cores}${summary.outsideCoresFullPhase === null ? '' : `, other ${summary.outsideCoresFullPhase.toFixed(2)}`}; proxy peak ${summary.proxyCpuPeakCores?.toFixed(2) ?? '—'} over 1 s`],
    ['CPU pressure (PSI some avg10)', `${pct(summary.cpuPressureIdle)} before the ramp, ${pct(summary.cpuPressureFull)} while all open (share of time a runnable task waited for a CPU)`],
    ['proxy CPU per relayed event', input.proxyCpuPerEventUs === null ? '—' : `${input.proxyCpuPerEventUs.toFixed(1)} µs (stream set-up included; steadier than latencies on a busy machine)`],
    [
      'proxy CPU the streams need',
      input.proxyCpuPerEventUs === null
        ? '—'
        : `${((input.proxyCpuPerEventUs * input.eventsPerSecond) / 1e6).toFixed(2)} cores at that cost for ${input.eventsPerSecond.toLocaleString('en-US')} events/s (one Node process runs on one core)`,
    ],
    ['proxy warnings', Object.keys(input.proxyWarnings).length === 0 ? 'none' : Object.entries(input.proxyWarnings).map(([message, count]) => `${count} × ${message}`).join('; ')],
    ['upstream send lag', lag(upstream?.sendLagMs)],
    ['client event-loop delay', loop],
    ['proxy accept queue', `peak ${summary.proxyAcceptQueuePeak ?? '—'} waiting (sampled each second), backlog ${input.proxyBacklog ?? '—'}; TCP listen overflows during the run (whole machine) ${input.listenOverflows ?? '—'}`],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const busy = [summary.outsideCoresIdle, summary.outsideCoresFullPhase].some((cores) => cores !== null && cores > BUSY_MACHINE_CORES);
  return [
    input.heading,
    '',
    ...rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`),
    '',
    ...(busy
      ? [
          `WARNING: other work on the machine took ${summary.outsideCoresIdle?.toFixed(2) ?? '—'} cores before the ramp and ${summary.outsideCoresFullPhase?.toFixed(2) ?? '—'} while all streams were open ` +
            `(above ${BUSY_MACHINE_CORES}; CPU pressure ${pct(summary.cpuPressureIdle)} / ${pct(summary.cpuPressureFull)}): the parties had that much less CPU, latencies and gaps are inflated.`,
          '',
        ]
      : []),
    `Goal (issue 12, item 5): ${goal.goal}: ${goal.status} — ${goal.detail}`,
    '',
    `result: ${input.resultFile}`,
  ].join('\n');
}
