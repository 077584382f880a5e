// `npm run bench`: every target against the same fake upstream, every case, interleaved over rounds
// (each round rotates the order of the targets), medians reported with ratios against `direct`.
// Each party runs in its own process; all of them are stopped however the run ends.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BENCH_CASES, type BenchCase } from './bench-cases';
import { BenchConfigError, type BenchConfig, loadBenchConfig } from './bench-config';
import { BENCH_GOALS, evaluateGoals } from './bench-goals';
import { disturbanceWarning, renderBaselineComparison, renderCaseTables, renderGoals, summarize } from './bench-report';
import { type BaselineBuild, buildBaseline } from './baseline-build';
import { BASELINE_PAIRS, BENCH_TARGETS, type BenchTarget, type FakeUpstreamEndpoint, type TargetContext, type TargetEndpoint } from './bench-targets';
import { ChildProcessGroup } from './child-processes';
import { chooseLoadGenerator } from './load-generators';
import { cpuUseBetween, takeCpuSnapshot } from './cpu-usage';
import { type Measurement, type MeasurementTools, attributeCpu, measure } from './measurement';
import { TokengateStack } from './tokengate-stack';

const log = (message: string): void => {
  process.stderr.write(`${message}\n`);
};

function select<T extends { id: string }>(all: readonly T[], ids: readonly string[] | null, what: string): T[] {
  if (ids === null) return [...all];
  const unknown = ids.filter((id) => !all.some((item) => item.id === id));
  if (unknown.length > 0) throw new BenchConfigError(`unknown ${what} ${unknown.join(', ')} (known: ${all.map((item) => item.id).join(', ')})`);
  return all.filter((item) => ids.includes(item.id));
}

/** Round r (0-based) starts r places further along the list. */
export function rotate<T>(items: readonly T[], by: number): T[] {
  const shift = items.length === 0 ? 0 : by % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

export const FAKE_UPSTREAM_PROCESS = 'fake upstream';
/** TOKENGATE_REDIS_NAMESPACE of the baseline stack (the current one keeps Tokengate's default). */
const BASELINE_REDIS_NAMESPACE = 'tokengate-bench-baseline';

export async function startFakeUpstream(processes: ChildProcessGroup, scriptsDir: string): Promise<FakeUpstreamEndpoint> {
  const apiKey = `sk-bench-${randomBytes(12).toString('hex')}`;
  const child = processes.start({ name: FAKE_UPSTREAM_PROCESS, command: process.execPath, args: [path.join(scriptsDir, 'fake-upstream.js'), '--api-key', apiKey], ipc: true });
  const port = await child.waitForLine((line) => {
    try {
      const message = JSON.parse(line) as { listening?: unknown };
      return typeof message.listening === 'number' ? message.listening : undefined;
    } catch {
      return undefined;
    }
  }, 10_000);
  return { origin: `http://127.0.0.1:${port}`, host: '127.0.0.1', port, apiKey };
}

/** Commit measured, with `+dirty` when tracked files differ from it; null outside a git checkout. */
export function gitRevision(repositoryRoot: string): string | null {
  try {
    const git = (...args: string[]): string => execFileSync('git', args, { cwd: repositoryRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--untracked-files=no') === '' ? '' : '+dirty'}`;
  } catch {
    return null;
  }
}

function describeSample(benchCase: BenchCase, measurement: Measurement): string {
  const s = measurement.sample;
  if (s === null) return `FAILED: ${measurement.failure ?? ''}`;
  const errors = s.errors > 0 ? `  ${s.errors} ERRORS` : '';
  const cpu = measurement.cpu;
  const cores = (value: number | null | undefined): string => (value === null || value === undefined ? '—' : value.toFixed(2));
  const cpuText = cpu === undefined ? '' : `  cpu: proxy ${cores(cpu.proxyCores)}, upstream ${cores(cpu.upstreamCores)}, client ${cores(cpu.clientCores)}, other ${cores(cpu.outsideCores)}`;
  if (benchCase.kind === 'throughput') return `${Math.round(s.requestsPerSecond)} req/s  p50 ${(s.p50Us / 1000).toFixed(2)} ms  p99 ${(s.p99Us / 1000).toFixed(2)} ms${errors}${cpuText}`;
  return `p50 ${Math.round(s.p50Us)} µs  p99 ${Math.round(s.p99Us)} µs  (${s.requests} requests)${errors}${cpuText}`;
}

interface RunningTarget {
  readonly target: BenchTarget;
  readonly endpoint: TargetEndpoint;
}

async function benchmark(config: BenchConfig, processes: ChildProcessGroup, workDir: string, repositoryRoot: string): Promise<void> {
  const scriptsDir = __dirname;
  const cases = select(BENCH_CASES, config.caseIds, 'case');
  const requested = select(BENCH_TARGETS, config.targetIds, 'target');
  const skipped = requested.flatMap((t) => {
    const reason = t.unavailableReason(config);
    return reason === null ? [] : [{ id: t.id, reason }];
  });
  const available: BenchTarget[] = requested.filter((t) => !skipped.some((s) => s.id === t.id));
  for (const s of skipped) log(`skipping target ${s.id}: ${s.reason}`);

  const upstream = await startFakeUpstream(processes, scriptsDir);
  log(`fake upstream: ${upstream.origin}`);
  let tokengate: Promise<TokengateStack> | undefined;
  let baseline: BaselineBuild | undefined;
  let tokengateBaseline: Promise<TokengateStack> | undefined;
  const startBaseline = async (revision: string): Promise<TokengateStack> => {
    baseline = await buildBaseline({ repositoryRoot, revision, workDir, processes, log });
    return TokengateStack.start({
      repositoryRoot: baseline.root,
      databaseUrl: config.baselineDatabaseUrl,
      redisUrl: config.redisUrl,
      redisNamespace: BASELINE_REDIS_NAMESPACE,
      label: `baseline ${baseline.shortCommit}`,
      processes,
      log,
    });
  };
  const context: TargetContext = {
    processes,
    upstream,
    scriptsDir,
    workDir,
    tokengate: (build) => {
      if (build === 'current') return (tokengate ??= TokengateStack.start({ repositoryRoot, databaseUrl: config.databaseUrl, redisUrl: config.redisUrl, processes, log }));
      if (config.baselineRevision === null) return Promise.reject(new Error('BENCH_BASELINE is not set'));
      return (tokengateBaseline ??= startBaseline(config.baselineRevision));
    },
    log,
  };
  const running: RunningTarget[] = [];
  for (const target of available) {
    let endpoint: TargetEndpoint;
    try {
      endpoint = await target.start(context);
    } catch (error) {
      if (!target.skipWhenStartFails || processes.stopping) throw error;
      const reason = `could not start: ${error instanceof Error ? error.message : String(error)}`;
      skipped.push({ id: target.id, reason });
      log(`skipping target ${target.id}: ${reason}`);
      continue;
    }
    running.push({ target, endpoint });
    log(`target ${target.id}: ${endpoint.chatCompletionsUrl}`);
  }
  const loadGenerator = chooseLoadGenerator(config.loadGenerator, processes, workDir, config.wrkThreads);
  const tools: MeasurementTools = { processes, loadGenerator, scriptsDir };
  log(`load generator: ${loadGenerator.name}; ${config.rounds} rounds of ${config.durationS} s per measurement, ${config.warmupS} s warm-up`);

  if (config.warmupS > 0) {
    log('warm-up (not recorded)');
    for (const benchCase of cases) {
      for (const { endpoint } of running) await measure(benchCase, endpoint, config.warmupS, tools);
    }
  }

  const startedAt = new Date();
  const measurements: Measurement[] = [];
  for (let round = 1; round <= config.rounds; round++) {
    const order = rotate(running, round - 1);
    log(`round ${round}/${config.rounds}: ${order.map(({ target }) => target.id).join(', ')}`);
    for (const benchCase of cases) {
      for (const { target, endpoint } of order) {
        let measurement: Measurement;
        try {
          const before = takeCpuSnapshot(processes.servingProcesses());
          const sample = await measure(benchCase, endpoint, config.durationS, tools);
          const cpu = cpuUseBetween(before, takeCpuSnapshot(processes.servingProcesses()), os.cpus().length);
          measurement = { round, caseId: benchCase.id, targetId: target.id, sample, cpu: attributeCpu(cpu, endpoint.processNames, FAKE_UPSTREAM_PROCESS) };
        } catch (error) {
          if (processes.stopping) throw error;
          measurement = { round, caseId: benchCase.id, targetId: target.id, sample: null, failure: error instanceof Error ? error.message : String(error) };
        }
        measurements.push(measurement);
        log(`  ${benchCase.id.padEnd(14)} ${target.id.padEnd(12)} ${describeSample(benchCase, measurement)}`);
      }
    }
  }

  const targets = running.map(({ target }) => target);
  const targetIds = targets.map((t) => t.id);
  const summaries = summarize(measurements, cases, targetIds);
  const goals = evaluateGoals(BENCH_GOALS, summaries);
  const cpus = os.cpus();
  const result = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: 'npm run bench',
    revision: gitRevision(repositoryRoot),
    baseline:
      baseline === undefined
        ? null
        : { requested: baseline.requested, commit: baseline.commit, dependencies: baseline.dependencies, buildSeconds: Math.round(baseline.buildSeconds), databaseUrl: config.baselineDatabaseUrl, redisNamespace: BASELINE_REDIS_NAMESPACE },
    settings: {
      BENCH_DURATION_S: config.durationS,
      BENCH_ROUNDS: config.rounds,
      BENCH_WARMUP_S: config.warmupS,
      BENCH_BASELINE: config.baselineRevision,
      loadGenerator: loadGenerator.name,
      loadGeneratorResolution: loadGenerator.resolution,
    },
    machine: { cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', memoryBytes: os.totalmem(), platform: `${os.platform()} ${os.release()}`, node: process.version, loadAverage: os.loadavg() },
    targets: [...targets.map((t) => ({ id: t.id, description: t.description, ran: true })), ...skipped.map((s) => ({ id: s.id, ran: false, reason: s.reason }))],
    cases: cases.map(({ body, ...rest }) => ({ ...rest, bodyBytes: Buffer.byteLength(body) })),
    summaries,
    goals,
    measurements,
  };
  const resultsDir = path.join(repositoryRoot, 'bench', 'results');
  await mkdir(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);

  const pairs = BASELINE_PAIRS.filter((p) => targetIds.includes(p.targetId) && targetIds.includes(p.baselineId));
  const out: string[] = [
    '',
    `Tokengate benchmark${result.revision === null ? '' : ` at ${result.revision}`}${baseline === undefined ? '' : `, baseline ${baseline.shortCommit} (BENCH_BASELINE=${baseline.requested})`} — ${cpus.length} CPUs (${cpus[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, ${loadGenerator.name} (latency resolution ${loadGenerator.resolution})`,
    `medians of ${config.rounds} interleaved rounds, ${config.durationS} s each${skipped.length ? `; skipped: ${skipped.map((s) => s.id).join(', ')}` : ''}`,
    '',
    renderCaseTables(cases, summaries, targetIds),
    '',
    ...(pairs.length === 0 || baseline === undefined ? [] : [renderBaselineComparison(cases, summaries, pairs, baseline.shortCommit), '']),
    ...disturbanceWarning(summaries),
    'Goals (issues 3, 4, 11, 12)',
    renderGoals(goals),
    '',
    `result: ${path.relative(process.cwd(), file) || file}`,
  ];
  const failures = summaries.flatMap((s) => s.failures.map((f) => `${s.caseId} ${s.targetId} ${f}`));
  if (failures.length > 0) out.push('', 'Failed measurements:', ...failures);
  process.stdout.write(`${out.join('\n')}\n`);
}

/** Exit code once SIGINT/SIGTERM arrived: errors that follow are the interruption's echoes. */
let interruptedWith: number | undefined;

/** What a benchmark entry point runs: every process it starts goes into `processes`; `workDir` is removed at the end. */
export type BenchmarkBody = (processes: ChildProcessGroup, workDir: string, repositoryRoot: string) => Promise<void>;

async function main(body: BenchmarkBody): Promise<void> {
  const repositoryRoot = path.resolve(__dirname, '..', '..');
  const processes = new ChildProcessGroup();
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'tokengate-bench-'));
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= processes.stopAll().finally(() => rmSync(workDir, { recursive: true, force: true })));
  // Last resort when the process ends without stop() (an exception thrown from a handler).
  process.on('exit', () => {
    processes.killAllNow();
    rmSync(workDir, { recursive: true, force: true });
  });
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.on(signal, () => {
      interruptedWith ??= code;
      log(`\n${signal}: stopping every process the benchmark started`);
      void stop().finally(() => process.exit(code));
    });
  }
  try {
    await body(processes, workDir, repositoryRoot);
  } finally {
    await stop();
  }
}

/**
 * Runs a benchmark entry point: every process it starts is stopped however it ends (normal end,
 * error, Ctrl-C, SIGTERM); an error exits 1, an interruption 130 or 143.
 */
export function runBenchmark(body: BenchmarkBody): void {
  main(body).catch((error: unknown) => {
    if (interruptedWith === undefined) log(`bench: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(interruptedWith ?? 1);
  });
}

if (require.main === module) {
  runBenchmark((processes, workDir, repositoryRoot) => benchmark(loadBenchConfig(), processes, workDir, repositoryRoot));
}
