// `npm run bench:soak`: a steady open-loop load for minutes through two Tokengate proxies with token
// budgets on. One service's budget is far from reach (every answer must be a 200); the other's is set
// below the load it is offered (SOAK_OVERLOAD times), so part of each window is refused with 429. It
// reports throughput, latency percentiles from the scheduled send, statuses, each proxy's RSS over
// time, and checks that in every window the tokens admitted over both proxies stayed within the budget
// and equal, to the token, what Redis, each proxy's /metrics and the control plane counted.
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { windowLengthMs } from '../data-plane/src/rate-limit/windows';
import { chatRequestBody } from './bench-cases';
import { type Env, loadBenchConfig, positiveNumber } from './bench-config';
import type { ChildProcessGroup } from './child-processes';
import { cpuUseBetween, takeCpuSnapshot } from './cpu-usage';
import { USAGE } from './fake-upstream';
import { FAKE_UPSTREAM_PROCESS, gitRevision, runBenchmark, startFakeUpstream } from './run';
import type { SoakClientResult, SoakClientSpec, SoakRoute } from './soak-client';
import { ProxyLogWatch, type ProxyMetrics, RedisWindowReader, readProxyMetrics, waitForReportedUsage } from './soak-gateway-counters';
import { type RssSample, type SoakService, buildLedger, compareProxyMetrics, evaluateSoak, renderChecks, renderLatencies, renderLedger, renderRss, renderStatuses } from './soak-report';
import { type RateLimitInput, TokengateStack, type TokengateProxy } from './tokengate-stack';

const log = (message: string): void => {
  process.stderr.write(`${message}\n`);
};

export interface SoakConfig {
  /** Measured seconds (SOAK_SECONDS). */
  readonly seconds: number;
  /** Requests per second over both proxies and both services (SOAK_RATE). */
  readonly rate: number;
  /** Seconds of the same load before measuring (SOAK_WARMUP_S); its answers count in the token checks. */
  readonly warmupS: number;
  /** Offered tokens per window of the capped service ÷ its budget (SOAK_OVERLOAD). */
  readonly overload: number;
  readonly databaseUrl: string;
  readonly redisUrl: string;
}

export function loadSoakConfig(env: Env = process.env): SoakConfig {
  const { redisUrl } = loadBenchConfig(env);
  return {
    seconds: positiveNumber(env, 'SOAK_SECONDS', 300, false, 1),
    rate: positiveNumber(env, 'SOAK_RATE', 400, false, 4),
    warmupS: positiveNumber(env, 'SOAK_WARMUP_S', 10, false, 0),
    overload: positiveNumber(env, 'SOAK_OVERLOAD', 2, false, 1),
    // Its own scratch database by default, so that it can run beside `npm run bench`.
    databaseUrl: env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/tokengate_bench_soak',
    redisUrl,
  };
}

const WINDOW: RateLimitInput['timeUnit'] = 'MINUTE';
const PROXY_IDS = ['soak-1', 'soak-2'] as const;
/** RSS of the proxies every this many seconds; Redis counters are read more often (see RedisWindowReader). */
const RSS_EVERY_S = 30;
const REDIS_EVERY_MS = 5000;

/** VmRSS of a process from /proc (Linux), in bytes; null elsewhere or once it is gone. */
function residentBytes(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? null : Number(match[1]) * 1024;
  } catch {
    return null;
  }
}

/** Polls /readyz until the proxy serves a snapshot: services registered before it started are in it. */
async function waitUntilReady(proxy: TokengateProxy): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = await fetch(`${proxy.url}/readyz`).then((r) => r.status, () => 0);
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`${proxy.processName} not ready after 30 s (/readyz: ${status})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function soak(config: SoakConfig, processes: ChildProcessGroup, repositoryRoot: string): Promise<void> {
  const scriptsDir = __dirname;
  const upstream = await startFakeUpstream(processes, scriptsDir);
  log(`fake upstream: ${upstream.origin}`);
  const stack = await TokengateStack.start({ repositoryRoot, databaseUrl: config.databaseUrl, redisUrl: config.redisUrl, processes, log });

  // Requests alternate between the services, so each is offered half the rate.
  const offeredPerWindow = (config.rate / 2) * (windowLengthMs(WINDOW) / 1000) * USAGE.total_tokens;
  const cappedLimit = Math.floor(offeredPerWindow / config.overload);
  const plans = [
    { name: 'open', contextPath: '/soak-open', limit: 2_000_000_000, overBudget: false },
    { name: 'capped', contextPath: '/soak-capped', limit: cappedLimit, overBudget: config.overload > 1 },
  ];
  const registered = [];
  for (const plan of plans) {
    const service = await stack.registerService({
      contextPath: plan.contextPath,
      serviceUrl: `${upstream.origin}/v1`,
      providerApiKey: upstream.apiKey,
      rateLimit: { timeUnit: WINDOW, maxTotalTokens: plan.limit },
    });
    registered.push({ plan, service });
  }
  const services: SoakService[] = registered.map(({ plan, service }) => ({ name: plan.name, id: service.serviceId, limit: plan.limit, overBudget: plan.overBudget }));
  // Distinct flags make distinct processes (TokengateStack shares one per flag set).
  const proxies = await Promise.all(PROXY_IDS.map((id) => stack.proxy(['--proxy-id', id])));
  await Promise.all(proxies.map(waitUntilReady));
  const proxyLogs = proxies.map((proxy) => new ProxyLogWatch(proxy.child));

  // Round-robin order: proxy 1 open, proxy 2 open, proxy 1 capped, proxy 2 capped.
  const routes: SoakRoute[] = registered.flatMap(({ plan, service }) =>
    proxies.map((proxy, i) => ({ proxy: PROXY_IDS[i], service: plan.name, url: `${service.endpoint(proxy.url)}/chat/completions`, headers: { authorization: `Bearer ${service.consumerKey}` } })),
  );
  const spec: SoakClientSpec = {
    routes,
    ratePerSecond: config.rate,
    warmupMs: config.warmupS * 1000,
    durationMs: config.seconds * 1000,
    body: chatRequestBody(),
    timeoutMs: 10_000,
    windowMs: windowLengthMs(WINDOW),
  };
  const rssNow = (atS: number): RssSample => ({ atS, bytesByProxy: Object.fromEntries(proxies.map((proxy, i) => [PROXY_IDS[i], residentBytes(proxy.child.child.pid)])) });

  const startedAt = new Date();
  const redis = new RedisWindowReader(config.redisUrl, services.map((s) => s.id), WINDOW, startedAt.getTime());
  log(`soak: ${config.rate} req/s over ${PROXY_IDS.length} proxies × ${services.length} services, ${config.warmupS} s warm-up + ${config.seconds} s; capped service: ${cappedLimit} total tokens per ${WINDOW.toLowerCase()} (offered ${offeredPerWindow})`);
  const client = processes.start({ name: 'soak client', command: process.execPath, args: [path.join(scriptsDir, 'soak-client.js'), JSON.stringify(spec)], ipc: true });
  const parseLine = (key: string) => (line: string): unknown => {
    try {
      const message = JSON.parse(line) as Record<string, unknown>;
      return key in message ? message[key] : undefined;
    } catch {
      return undefined;
    }
  };
  const measuring = client.waitForLine(parseLine('measuring'), (config.warmupS + 60) * 1000);
  const finished = client.waitForLine(parseLine('result'), (config.warmupS + config.seconds + 120) * 1000) as Promise<SoakClientResult>;
  finished.catch(() => undefined); // awaited below; a failure before then surfaces there

  await measuring;
  const measuredAt = Date.now();
  const rss: RssSample[] = [rssNow(0)];
  const cpuBefore = takeCpuSnapshot(processes.servingProcesses());
  log(`measuring; RSS ${JSON.stringify(rss[0].bytesByProxy)}`);
  let redisReading: Promise<void> = redis.read();
  const ticker = setInterval(() => {
    const atS = Math.round((Date.now() - measuredAt) / 1000);
    if (atS >= RSS_EVERY_S * rss.length && atS < config.seconds) {
      rss.push(rssNow(atS));
      log(`  ${atS} s: RSS ${JSON.stringify(rss[rss.length - 1].bytesByProxy)}`);
    }
    redisReading = redisReading.then(() => redis.read()).catch((error: unknown) => log(`reading Redis counters: ${error instanceof Error ? error.message : String(error)}`));
  }, REDIS_EVERY_MS);

  let result: SoakClientResult;
  try {
    result = await finished;
  } finally {
    clearInterval(ticker);
  }
  const cpu = cpuUseBetween(cpuBefore, takeCpuSnapshot(processes.servingProcesses()), os.cpus().length);
  rss.push(rssNow(Math.round((Date.now() - measuredAt) / 1000)));
  log('load done; reading the gateway’s counters');

  // Each proxy settles a request before its answer ends; a moment more for the last ones in flight.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await redisReading;
  await redis.read();
  redis.close();
  const proxyMetrics: Record<string, ProxyMetrics> = {};
  for (const [i, proxy] of proxies.entries()) proxyMetrics[PROXY_IDS[i]] = await readProxyMetrics(proxy.url);
  const okByService = new Map(services.map((s) => [s.id, result.statuses.filter((st) => st.service === s.name && st.status === 200).reduce((n, st) => n + st.count, 0)]));
  const reported = await waitForReportedUsage(stack, okByService, 30_000);

  const ledger = buildLedger(services, PROXY_IDS, result.windows, redis.windows(), reported);
  const comparisons = compareProxyMetrics(services, proxyMetrics, result.windows, result.statuses);
  const proxyWarnings = Object.fromEntries(proxyLogs.map((watch, i) => [PROXY_IDS[i], watch.messages()]));
  const checks = evaluateSoak(services, result, ledger, comparisons, proxyMetrics, proxyWarnings);
  const answered = result.statuses.filter((s) => !s.warmUp).reduce((n, s) => n + s.count, 0);
  const throughput = answered / result.measuredSeconds;
  const cores = (name: string): string => (cpu.byProcess[name] === undefined ? '—' : cpu.byProcess[name].toFixed(2));
  const cpus = os.cpus();
  const revision = gitRevision(repositoryRoot);

  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: 'npm run bench:soak',
    revision,
    settings: { SOAK_SECONDS: config.seconds, SOAK_RATE: config.rate, SOAK_WARMUP_S: config.warmupS, SOAK_OVERLOAD: config.overload, window: WINDOW, tokensPerAnswer: USAGE.total_tokens },
    machine: { cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', memoryBytes: os.totalmem(), platform: `${os.platform()} ${os.release()}`, node: process.version, loadAverage: os.loadavg() },
    services,
    throughput: { offeredPerSecond: config.rate, answeredPerSecond: throughput, answered, measuredSeconds: result.measuredSeconds },
    latency: result.latency,
    sendLag: result.sendLag,
    statuses: result.statuses,
    rss,
    cpu,
    ledger,
    proxyMetrics: comparisons,
    proxyWarnings,
    checks,
    client: { measuredStartedAt: result.measuredStartedAt, measuredEndedAt: result.measuredEndedAt, unattributed: result.unattributed, malformed: result.malformed, errorSamples: result.errorSamples },
  };
  const resultsDir = path.join(repositoryRoot, 'bench', 'results');
  await mkdir(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `soak-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);

  const proxyNames = proxies.map((p) => p.processName);
  const out = [
    '',
    `Tokengate soak${revision === null ? '' : ` at ${revision}`} — ${cpus.length} CPUs (${cpus[0]?.model.trim() ?? 'unknown'}), Node ${process.version}`,
    `${config.seconds} s measured after ${config.warmupS} s warm-up; open loop at ${config.rate} req/s, round-robin over ${PROXY_IDS.join(', ')} × services ${services.map((s) => s.name).join(', ')}`,
    `budgets (total tokens per ${WINDOW.toLowerCase()}): open ${services[0].limit.toLocaleString('en-US')}; capped ${cappedLimit.toLocaleString('en-US')} = offered ${offeredPerWindow.toLocaleString('en-US')} / ${config.overload}`,
    '',
    `throughput: ${throughput.toFixed(1)} answers/s (${answered.toLocaleString('en-US')} in ${result.measuredSeconds.toFixed(1)} s; offered ${config.rate} req/s)`,
    '',
    'Latency, from the scheduled send to the last byte (coordinated-omission aware)',
    renderLatencies(result.latency, result.sendLag),
    '',
    'Answers (measured phase)',
    renderStatuses(result, PROXY_IDS, services),
    '',
    'Resident memory of the proxies (VmRSS)',
    renderRss(rss, PROXY_IDS),
    '',
    `CPU, cores over the measured phase: ${proxyNames.map((n, i) => `${PROXY_IDS[i]} ${cores(n)}`).join(', ')}, upstream ${cores(FAKE_UPSTREAM_PROCESS)}, control plane ${cores('tokengate control plane')}, client ${cores('soak client')}, other ${cpu.outsideCores === null ? '—' : cpu.outsideCores.toFixed(2)}`,
    '',
    'Token budget per window: tokens of the 200s (their count) per proxy, from the usage the upstream reported; Redis and control-plane totals',
    renderLedger(ledger, PROXY_IDS),
    '',
    'Checks',
    renderChecks(checks),
    '',
    `result: ${path.relative(process.cwd(), file) || file}`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  if (checks.some((c) => c.passed === false)) process.exitCode = 1;
}

if (require.main === module) {
  runBenchmark((processes, _workDir, repositoryRoot) => soak(loadSoakConfig(), processes, repositoryRoot));
}
