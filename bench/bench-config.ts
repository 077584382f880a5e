// Settings of `npm run bench`, all from environment variables (see bench/README.md).

export type LoadGeneratorChoice = 'auto' | 'wrk' | 'autocannon';

export interface BenchConfig {
  /** Seconds per measurement (BENCH_DURATION_S). */
  readonly durationS: number;
  /** Seconds of unrecorded load per case and target before round 1 (BENCH_WARMUP_S). */
  readonly warmupS: number;
  /** Interleaved rounds; figures are medians across them (BENCH_ROUNDS). */
  readonly rounds: number;
  readonly loadGenerator: LoadGeneratorChoice;
  /** Threads of wrk (BENCH_WRK_THREADS): one leaves the most CPU to the parties measured. */
  readonly wrkThreads: number;
  /** Only these target / case ids (BENCH_TARGETS, BENCH_CASES: comma-separated); null = all. */
  readonly targetIds: readonly string[] | null;
  readonly caseIds: readonly string[] | null;
  /** Scratch database of the Tokengate control plane, dropped and recreated by each run (BENCH_DATABASE_URL). */
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /** Git revision whose Tokengate the `*-baseline` targets build and run beside this tree's (BENCH_BASELINE); null = those targets are skipped. */
  readonly baselineRevision: string | null;
  /** Scratch database of the baseline's control plane (BENCH_BASELINE_DATABASE_URL; default: BENCH_DATABASE_URL's name + `_baseline`). */
  readonly baselineDatabaseUrl: string;
}

export class BenchConfigError extends Error {
  override readonly name = 'BenchConfigError';
}

export type Env = Readonly<Record<string, string | undefined>>;

/** `env[name]` as a number ≥ min (`fallback` when unset). @throws BenchConfigError */
export function positiveNumber(env: Env, name: string, fallback: number, integer: boolean, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new BenchConfigError(`${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got "${raw}"`);
  }
  return value;
}

function idList(env: Env, name: string): readonly string[] | null {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return null;
  return raw.split(',').map((id) => id.trim()).filter((id) => id !== '');
}

/** The same server and credentials, database name + `_baseline`: the two stacks never share a database. */
export function baselineDatabaseUrlOf(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}_baseline`;
  return url.toString();
}

export function loadBenchConfig(env: Env = process.env): BenchConfig {
  const databaseUrl = env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/tokengate_bench';
  const baselineRevision = env.BENCH_BASELINE?.trim() || null;
  // Passed to git as an argument: a leading '-' would be read as an option.
  if (baselineRevision?.startsWith('-')) throw new BenchConfigError(`BENCH_BASELINE must be a git revision (commit, tag, branch), got "${baselineRevision}"`);
  const loadGenerator = (env.BENCH_LOADGEN || 'auto') as LoadGeneratorChoice;
  if (!['auto', 'wrk', 'autocannon'].includes(loadGenerator)) throw new BenchConfigError(`BENCH_LOADGEN must be auto, wrk or autocannon, got "${loadGenerator}"`);
  return {
    durationS: positiveNumber(env, 'BENCH_DURATION_S', 5, false, 0.5),
    warmupS: positiveNumber(env, 'BENCH_WARMUP_S', 2, false, 0),
    rounds: positiveNumber(env, 'BENCH_ROUNDS', 3, true, 1),
    loadGenerator,
    wrkThreads: positiveNumber(env, 'BENCH_WRK_THREADS', 1, true, 1),
    targetIds: idList(env, 'BENCH_TARGETS'),
    caseIds: idList(env, 'BENCH_CASES'),
    databaseUrl,
    redisUrl: env.BENCH_REDIS_URL || env.REDIS_URL || 'redis://127.0.0.1:6379',
    baselineRevision,
    baselineDatabaseUrl: env.BENCH_BASELINE_DATABASE_URL || baselineDatabaseUrlOf(databaseUrl),
  };
}
