// Medians across rounds, and the tables printed at the end of a run.
import type { BenchCase } from './bench-cases';
import type { GoalOutcome } from './bench-goals';
import type { Measurement } from './measurement';
import { median } from './statistics';

/** Medians across the rounds of one case and one target (figures in µs and requests/s). */
export interface Summary {
  readonly caseId: string;
  readonly targetId: string;
  readonly validRounds: number;
  readonly requestsPerSecond: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  /** Cores busy during the measurement (see MeasuredCpu). */
  readonly proxyCores: number;
  readonly upstreamCores: number;
  readonly clientCores: number;
  readonly machineCores: number;
  readonly outsideCores: number;
  /**
   * CPU time of the target's processes per answered request, in µs (median over rounds; throughput
   * cases). Less sensitive than requests/s to other work on the machine, which takes CPU away from the
   * proxy but does not make each request cost it more (not much: caches and scheduling still suffer).
   */
  readonly proxyCpuUsPerRequest: number;
  /** Sum over rounds. */
  readonly errors: number;
  readonly failures: readonly string[];
}

export function summarize(measurements: readonly Measurement[], cases: readonly BenchCase[], targetIds: readonly string[]): Summary[] {
  const summaries: Summary[] = [];
  for (const benchCase of cases) {
    for (const targetId of targetIds) {
      const mine = measurements.filter((m) => m.caseId === benchCase.id && m.targetId === targetId);
      const samples = mine.flatMap((m) => (m.sample === null ? [] : [m.sample]));
      summaries.push({
        caseId: benchCase.id,
        targetId,
        validRounds: samples.length,
        requestsPerSecond: median(samples.map((s) => s.requestsPerSecond)),
        p50Us: median(samples.map((s) => s.p50Us)),
        p90Us: median(samples.map((s) => s.p90Us)),
        p99Us: median(samples.map((s) => s.p99Us)),
        proxyCores: median(mine.map((m) => m.cpu?.proxyCores ?? Number.NaN)),
        upstreamCores: median(mine.map((m) => m.cpu?.upstreamCores ?? Number.NaN)),
        clientCores: median(mine.map((m) => m.cpu?.clientCores ?? Number.NaN)),
        machineCores: median(mine.map((m) => m.cpu?.machineCores ?? Number.NaN)),
        outsideCores: median(mine.map((m) => m.cpu?.outsideCores ?? Number.NaN)),
        proxyCpuUsPerRequest: median(mine.map((m) => cpuPerRequestUs(m))),
        errors: samples.reduce((sum, s) => sum + s.errors, 0),
        failures: mine.flatMap((m) => (m.failure === undefined ? [] : [`round ${m.round}: ${m.failure}`])),
      });
    }
  }
  return summaries;
}

function cpuPerRequestUs(m: Measurement): number {
  const cores = m.cpu?.proxyCores;
  if (m.sample === null || cores === null || cores === undefined || m.sample.requestsPerSecond <= 0) return Number.NaN;
  return (cores * 1e6) / m.sample.requestsPerSecond;
}

/** Right-aligned columns but the first; a last column empty in every row is left out. */
export function table(fullHeader: readonly string[], fullRows: ReadonlyArray<readonly string[]>): string {
  const lastEmpty = fullRows.every((r) => r[r.length - 1] === '');
  const header = lastEmpty ? fullHeader.slice(0, -1) : fullHeader;
  const rows = lastEmpty ? fullRows.map((r) => r.slice(0, -1)) : fullRows;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('   ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const us = (value: number): string => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '—');
const ms = (value: number): string => (Number.isFinite(value) ? (value / 1000).toFixed(2) : '—');
const signedUs = (value: number): string => (Number.isFinite(value) ? `${value >= 0 ? '+' : '−'}${Math.round(Math.abs(value)).toLocaleString('en-US')}` : '—');
const cores = (value: number): string => (Number.isFinite(value) ? value.toFixed(2) : '—');
const ratio = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(2)}x` : '—');

/** One table per case; each row is a target, compared with `direct` and with `passthrough`. */
export function renderCaseTables(cases: readonly BenchCase[], summaries: readonly Summary[], targetIds: readonly string[]): string {
  const sections: string[] = [];
  for (const benchCase of cases) {
    const of = (targetId: string): Summary | undefined => summaries.find((s) => s.caseId === benchCase.id && s.targetId === targetId);
    const direct = of('direct');
    const passthrough = of('passthrough');
    const rows: string[][] = [];
    for (const targetId of targetIds) {
      const s = of(targetId);
      if (s === undefined) continue;
      const note = s.validRounds === 0 ? 'failed' : s.errors > 0 ? `${s.errors} errors` : '';
      if (benchCase.kind === 'throughput') {
        rows.push([
          targetId,
          us(s.requestsPerSecond),
          ratio(s.requestsPerSecond / (direct?.requestsPerSecond ?? Number.NaN)),
          ratio(s.requestsPerSecond / (passthrough?.requestsPerSecond ?? Number.NaN)),
          ms(s.p50Us),
          ms(s.p99Us),
          cores(s.proxyCores),
          us(s.proxyCpuUsPerRequest),
          cores(s.upstreamCores),
          cores(s.clientCores),
          cores(s.outsideCores),
          note,
        ]);
      } else {
        rows.push([
          targetId,
          us(s.p50Us),
          us(s.p99Us),
          signedUs(s.p50Us - (direct?.p50Us ?? Number.NaN)),
          signedUs(s.p99Us - (direct?.p99Us ?? Number.NaN)),
          signedUs(s.p50Us - (passthrough?.p50Us ?? Number.NaN)),
          us(s.requestsPerSecond),
          cores(s.outsideCores),
          note,
        ]);
      }
    }
    const what = benchCase.kind === 'first-byte' ? 'time to first event' : 'time to full response';
    const header =
      benchCase.kind === 'throughput'
        ? ['target', 'req/s', 'x direct', 'x passthrough', 'p50 ms', 'p99 ms', 'cpu proxy', 'proxy µs/req', 'cpu upstream', 'cpu client', 'cpu other', 'note']
        : ['target', 'p50 µs', 'p99 µs', 'p50 vs direct', 'p99 vs direct', 'p50 vs passthrough', 'req/s', 'cpu other', 'note'];
    const unit = benchCase.kind === 'throughput' ? ' — cpu: cores busy (1.00 = one core); proxy µs/req: CPU time of the proxy per request' : ` — ${what}, µs`;
    sections.push(`${benchCase.title} [${benchCase.id}]${unit}\n${table(header, rows)}`);
  }
  return sections.join('\n\n');
}

/**
 * Each target against its `*-baseline` (the same configuration built from BENCH_BASELINE), one row
 * per case: the ratio of requests/s for throughput cases, the p50 difference for 1-connection cases.
 */
export function renderBaselineComparison(
  cases: readonly BenchCase[],
  summaries: readonly Summary[],
  pairs: ReadonlyArray<{ readonly targetId: string; readonly baselineId: string }>,
  baselineName: string,
): string {
  const rows = cases.map((benchCase) => {
    const of = (targetId: string): Summary | undefined => summaries.find((s) => s.caseId === benchCase.id && s.targetId === targetId);
    return [
      benchCase.id,
      ...pairs.map(({ targetId, baselineId }) => {
        const current = of(targetId);
        const baseline = of(baselineId);
        if (current === undefined || baseline === undefined) return '—';
        return benchCase.kind === 'throughput'
          ? `${ratio(current.requestsPerSecond / baseline.requestsPerSecond)} (${us(current.requestsPerSecond)} / ${us(baseline.requestsPerSecond)} req/s); cpu/req ${ratio(current.proxyCpuUsPerRequest / baseline.proxyCpuUsPerRequest)} (${us(current.proxyCpuUsPerRequest)} / ${us(baseline.proxyCpuUsPerRequest)} µs)`
          : `${signedUs(current.p50Us - baseline.p50Us)} µs at p50 (${us(current.p50Us)} / ${us(baseline.p50Us)})`;
      }),
    ];
  });
  const header = ['case', ...pairs.map(({ targetId, baselineId }) => `${targetId} / ${baselineId}`)];
  return `Against the baseline ${baselineName} — throughput cases: ratio of req/s and of the proxy's CPU time per request; 1-connection cases: p50 difference\n${table(header, rows)}`;
}

/** Median "other" CPU above which a measurement counts as disturbed by work outside the benchmark. */
const DISTURBED_CORES = 0.2;

/** Lines warning that other work on the machine took CPU during some measurements (empty when quiet). */
export function disturbanceWarning(summaries: readonly Summary[]): string[] {
  const disturbed = summaries.filter((s) => s.outsideCores > DISTURBED_CORES);
  if (disturbed.length === 0) return [];
  const caseIds = [...new Set(disturbed.map((s) => s.caseId))];
  return [
    'WARNING: other work on this machine took CPU during these measurements (median cores, "cpu other"); their figures are disturbed:',
    ...caseIds.map((caseId) => `  ${caseId}: ${disturbed.filter((s) => s.caseId === caseId).map((s) => `${s.targetId} ${s.outsideCores.toFixed(2)}`).join(', ')}`),
    'Rerun on a quiet machine, or with more rounds.',
    '',
  ];
}

export function renderGoals(outcomes: readonly GoalOutcome[]): string {
  return outcomes.map((o) => `${o.status.padEnd(4)}  ${o.description} — ${o.detail}`).join('\n');
}
