// `npm run bench:scale` (issue 12 item 3): an installation of SCALE_CONNECTIONS connections (one key
// per environment, two environments) over 1,000 services and 100 organizations, SCALE_PROXIES_PER_ENV
// simulated proxies per environment (bench/scale-proxy.ts, in worker processes), and one real
// `tokengate data-plane`, with the rollout worker that tracks every change's deployment. Measures
// createConnection through GraphQL, the time until a new, rotated or deleted key has reached every
// proxy, a sustained minute of mutations, a rollout of every service, memory, and a full snapshot for
// a (re)connecting proxy. See bench/README.md, section "Scale".
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ChildProcessGroup, type ManagedChild } from './child-processes';
import { type CpuUse, cpuUseBetween, takeCpuSnapshot } from './cpu-usage';
import { gitRevision, startFakeUpstream } from './run';
import {
  type ControlPlaneProcess,
  GraphQLClient,
  type Installation,
  SCALE_ENVIRONMENTS,
  type ScaleService,
  type SeededSample,
  bulkInsertConnections,
  clearRedisNamespace,
  controlPlaneHeapUsed,
  countConnections,
  deploymentsByStatus,
  dropBenchDatabase,
  inParallel,
  residentBytes,
  seedThroughGraphQL,
  startControlPlane,
} from './scale-installation';
import { epochMs, startSimulatedProxy } from './scale-proxy';
import { cleanEnv, parseLogLine } from './tokengate-stack';
import type { KeyConditions, WorkerCommand, WorkerReport } from './scale-proxy-worker';
import { recreateBenchDatabase } from './tokengate-stack';

const ROOT = path.join(__dirname, '../..');
const SCRIPTS = __dirname;

function numberSetting(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}=${raw}: expected a non-negative number`);
  return value;
}

const SETTINGS = {
  connections: numberSetting('SCALE_CONNECTIONS', 100_000),
  organizations: numberSetting('SCALE_ORGANIZATIONS', 100),
  services: numberSetting('SCALE_SERVICES', 1000),
  projectsPerOrganization: 2,
  proxiesPerEnvironment: numberSetting('SCALE_PROXIES_PER_ENV', 20),
  workers: numberSetting('SCALE_WORKERS', 4),
  /**
   * Nice level of the simulated proxies' processes. They stand for proxies on other machines; on the
   * benchmark's one machine they would otherwise take CPU from the control plane, PostgreSQL and
   * Redis on equal terms (0.5–1 core at 50 mutations/s). 0: equal terms.
   */
  proxyNice: numberSetting('SCALE_PROXY_NICE', 10),
  samples: numberSetting('SCALE_SAMPLES', 100),
  sampleBudgetS: numberSetting('SCALE_SAMPLE_BUDGET_S', 300),
  sustainedS: numberSetting('SCALE_SUSTAINED_S', 60),
  sustainedRate: numberSetting('SCALE_SUSTAINED_RATE', 50),
  burst: numberSetting('SCALE_BURST', 64),
  batch: numberSetting('SCALE_BATCH', 10_000),
  reconnects: numberSetting('SCALE_RECONNECTS', 5),
  /** 1: a `tokengate worker` runs the rollouts, as `tokengate start` does; 0: none (deployments stay PENDING). */
  rolloutWorker: numberSetting('SCALE_ROLLOUT_WORKER', 1),
  liveTimeoutS: numberSetting('SCALE_LIVE_TIMEOUT_S', 120),
  /** When set: the control plane and the simulated proxies' processes write V8 CPU profiles there (`--cpu-prof`). */
  cpuProfileDir: process.env.SCALE_CPU_PROFILE_DIR ?? '',
  databaseUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/tokengate_bench_scale',
  redisUrl: process.env.BENCH_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
};

/** Longest wait for every proxy to reach the current revisions (after seeding, a burst, the sustained minute). */
const SETTLE_TIMEOUT_MS = 600_000;

/** A key-live time, or how long was waited for one that did not come. */
function live(value: number | null): string {
  return value === null ? `> ${SETTINGS.liveTimeoutS} s (timeout)` : ms(value);
}

/** A time to catch up, or the wait it exceeded. */
function drain(value: number | null): string {
  return value === null ? `> ${SETTLE_TIMEOUT_MS / 1000} s or the control plane died` : ms(value);
}

const GOALS = { createMs: 50, liveMs: 1000, rssBytes: 512 * 1024 * 1024, snapshotMs: 2000, growth: 0.1 };

function log(message: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  return value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

function mb(bytes: number | null | undefined): string {
  return bytes === null || bytes === undefined ? '—' : `${Math.round(bytes / 1024 / 1024)} MB`;
}

function profilingArgs(name: string): string[] {
  return SETTINGS.cpuProfileDir === '' ? [] : ['--cpu-prof', '--cpu-prof-interval=10000', `--cpu-prof-dir=${path.join(SETTINGS.cpuProfileDir, name)}`];
}

const sleep = (delayMs: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, delayMs));

/** `tokengate worker` for the control plane's database and Redis namespace: it runs every rollout. */
async function startRolloutWorker(processes: ChildProcessGroup, controlPlane: ControlPlaneProcess): Promise<ManagedChild> {
  const child = processes.start({
    name: 'tokengate rollout worker',
    command: process.execPath,
    args: [...profilingArgs('rollout-worker'), path.join(ROOT, 'dist/cli/main.js'), 'worker'],
    cwd: ROOT,
    env: { ...controlPlane.env, TOKENGATE_WORKER_PORT: '0' },
  });
  await child.waitForLine((line) => (parseLogLine(line)?.msg === 'rollout worker started' ? true : undefined), 60_000);
  return child;
}

/** A process's RSS, read every second for the whole run: its peak, and the peak since the last mark. */
class RssWatch {
  private peakBytes = 0;
  private sincePeak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number | undefined) {
    this.timer = setInterval(() => this.sample(), 1000).unref();
  }

  sample(): number | null {
    const rss = residentBytes(this.pid);
    if (rss !== null) {
      this.peakBytes = Math.max(this.peakBytes, rss);
      this.sincePeak = Math.max(this.sincePeak, rss);
    }
    return rss;
  }

  get peak(): number {
    return this.peakBytes;
  }

  /** The peak since the previous call (or the start), then starts a new span. */
  peakSinceMark(): number {
    this.sample();
    const peak = this.sincePeak;
    this.sincePeak = 0;
    return peak;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Deployments not yet DEPLOYED or FAILED. */
function unsettledDeployments(byStatus: Record<string, number>): number {
  return (byStatus.PENDING ?? 0) + (byStatus.IN_PROGRESS ?? 0);
}

/** Polls the deployments until none is PENDING or IN_PROGRESS; how long that took (null: timed out), and the counts then. */
async function rolloutsSettled(timeoutMs: number): Promise<{ ms: number | null; byStatus: Record<string, number> }> {
  const begin = performance.now();
  for (;;) {
    const byStatus = await deploymentsByStatus(SETTINGS.databaseUrl);
    if (unsettledDeployments(byStatus) === 0) return { ms: performance.now() - begin, byStatus };
    if (performance.now() - begin > timeoutMs) return { ms: null, byStatus };
    await sleep(250);
  }
}

/** "control plane 0.52, rollout worker 0.21, …; machine 1.83 of 2 busy (0.40 outside the parties)". */
function cores(use: CpuUse): string {
  const parties = Object.entries(use.byProcess).map(([name, value]) => `${name} ${value.toFixed(2)}`).join(', ');
  const machine = use.machineBusyCores === null ? '' : `; machine ${use.machineBusyCores.toFixed(2)} of ${os.cpus().length} busy (${(use.outsideCores ?? 0).toFixed(2)} outside these and the benchmark's own process: PostgreSQL, Redis, the simulated proxies)`;
  return parties + machine;
}

function statusCounts(byStatus: Record<string, number>): string {
  return ['DEPLOYED', 'FAILED', 'IN_PROGRESS', 'PENDING'].map((status) => `${status} ${(byStatus[status] ?? 0).toLocaleString('en-US')}`).join(', ');
}

/** The worker processes holding the simulated proxies, driven over IPC. */
class ProxyFleet {
  private nextId = 1;
  private readonly waiting = new Map<string, (report: WorkerReport) => void>();

  private constructor(private readonly workers: ManagedChild[]) {
    for (const worker of workers) {
      worker.child.on('message', (report: WorkerReport) => {
        if (report.type === 'failed') {
          log(`${worker.name} failed: ${report.message}`);
          return;
        }
        const key = `${worker.name}:${report.type}:${'watch' in report ? report.watch : 'id' in report ? report.id : ''}`;
        const listener = this.waiting.get(key);
        if (listener !== undefined) {
          this.waiting.delete(key);
          listener(report);
        }
      });
    }
  }

  static start(processes: ChildProcessGroup, count: number): ProxyFleet {
    const workers = Array.from({ length: count }, (_, i) =>
      processes.start({ name: `simulated proxies #${i + 1}`, command: process.execPath, args: ['--max-old-space-size=8192', ...profilingArgs('simulated-proxies'), path.join(SCRIPTS, 'scale-proxy-worker.js')], ipc: true }),
    );
    return new ProxyFleet(workers);
  }

  get pids(): number[] {
    return this.workers.flatMap((w) => (w.child.pid === undefined ? [] : [w.child.pid]));
  }

  private ask<R extends WorkerReport>(worker: ManagedChild, command: WorkerCommand, expect: R['type'], id: string | number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.set(`${worker.name}:${expect}:${id}`, (report) => resolve(report as R));
      worker.child.send(command, (error) => {
        if (error) reject(error);
      });
      void worker.exited.then((code) => reject(new Error(`${worker.name} exited (${code}): ${worker.outputTail()}`)));
    });
  }

  /** Starts proxies `<environment>-<n>` spread over the workers; resolves once each applied its first snapshot. */
  async startProxies(controlPlane: ControlPlaneProcess, perEnvironment: number): Promise<Array<{ proxyId: string; firstSnapshotMs: number }>> {
    const assignments: Array<Array<{ proxyId: string; environment: string }>> = this.workers.map(() => []);
    let n = 0;
    for (const environment of SCALE_ENVIRONMENTS) for (let i = 0; i < perEnvironment; i++) assignments[n++ % this.workers.length].push({ proxyId: `scale-${environment}-${i}`, environment });
    const reports = await Promise.all(
      this.workers.map((worker, index) =>
        this.ask<Extract<WorkerReport, { type: 'started' }>>(worker, { type: 'start', controlPlaneAddress: controlPlane.grpcAddress, dataPlaneToken: controlPlane.dataPlaneToken, proxies: assignments[index] }, 'started', ''),
      ),
    );
    return reports.flatMap((r) => r.proxies);
  }

  async arm(): Promise<number> {
    const watch = this.nextId++;
    await Promise.all(this.workers.map((w) => this.ask(w, { type: 'arm', watch }, 'armed', watch)));
    return watch;
  }

  /** epochMs() at which every proxy concerned applied a snapshot meeting the conditions; null when one timed out. */
  async resolve(watch: number, conditions: KeyConditions): Promise<number | null> {
    const reports = await Promise.all(
      this.workers.map((w) => this.ask<Extract<WorkerReport, { type: 'resolved' }>>(w, { type: 'resolve', watch, conditions, timeoutMs: SETTINGS.liveTimeoutS * 1000 }, 'resolved', watch)),
    );
    const times = reports.flatMap((r) => r.times);
    return times.some((t) => t === null) ? null : Math.max(...(times as number[]));
  }

  /** epochMs() at which the last proxy reached these revisions; null on timeout. */
  async waitForRevisions(revisions: Record<string, string>, timeoutMs: number): Promise<number | null> {
    const id = this.nextId++;
    const reports = await Promise.all(this.workers.map((w) => this.ask<Extract<WorkerReport, { type: 'reached' }>>(w, { type: 'waitRevision', id, revisions, timeoutMs }, 'reached', id)));
    const times = reports.flatMap((r) => r.times);
    return times.some((t) => t === null) ? null : Math.max(...(times as number[]));
  }

  async memory(): Promise<{ rssBytes: number; heapUsedBytes: number }> {
    const id = this.nextId++;
    const reports = await Promise.all(this.workers.map((w) => this.ask<Extract<WorkerReport, { type: 'memory' }>>(w, { type: 'memory', id }, 'memory', id)));
    return { rssBytes: reports.reduce((s, r) => s + r.rssBytes, 0), heapUsedBytes: reports.reduce((s, r) => s + r.heapUsedBytes, 0) };
  }
}

interface ConnectionHandle {
  readonly id: string;
  readonly service: ScaleService;
  readonly keys: Record<string, string>;
}

interface LiveSample {
  readonly mutationMs: number;
  /** From the mutation's answer until every proxy concerned applied it; null: not within SCALE_LIVE_TIMEOUT_S. */
  readonly liveMs: number | null;
}

/** What a developer does through GraphQL, timed. */
class Developer {
  private created = 0;

  constructor(
    private readonly graphql: GraphQLClient,
    private readonly installation: Installation,
  ) {}

  service(n: number): ScaleService {
    return this.installation.services[n % this.installation.services.length];
  }

  async createConnection(tag: string): Promise<ConnectionHandle> {
    const n = this.created++;
    const service = this.service(n * 7919);
    const { createConnection } = await this.graphql.request<{ createConnection: { connection: { id: string }; keys: Array<{ environment: string; apiKey: string }> } }>(
      `mutation($i: CreateConnectionInput!) { createConnection(input: $i) { connection { id } keys { environment apiKey } } }`,
      { i: { projectId: service.projectIds[n % service.projectIds.length], serviceId: service.id, name: `${tag}-${n}-${randomBytes(3).toString('hex')}` } },
    );
    return { id: createConnection.connection.id, service, keys: Object.fromEntries(createConnection.keys.map((k) => [k.environment, k.apiKey])) };
  }

  async rotateKey(connection: ConnectionHandle, environment: string): Promise<string> {
    const { rotateConnectionKey } = await this.graphql.request<{ rotateConnectionKey: { apiKey: string } }>(
      `mutation($c: ID!, $e: String!) { rotateConnectionKey(connectionId: $c, environment: $e) { apiKey } }`,
      { c: connection.id, e: environment },
    );
    return rotateConnectionKey.apiKey;
  }

  async deleteConnection(connection: ConnectionHandle): Promise<void> {
    await this.graphql.request(`mutation($c: ID!) { deleteConnection(id: $c) }`, { c: connection.id });
  }
}

class ScaleRun {
  private readonly fleet: ProxyFleet;
  private readonly developer: Developer;
  /** Control-plane samples over the whole run (after seeding), for its peak RSS. */
  private peakControlPlaneRss = 0;

  constructor(
    private readonly controlPlane: ControlPlaneProcess,
    private readonly admin: GraphQLClient,
    private readonly installation: Installation,
    fleet: ProxyFleet,
  ) {
    this.fleet = fleet;
    this.developer = new Developer(new GraphQLClient(controlPlane.graphqlUrl, installation.developer.token), installation);
  }

  get controlPlanePeakRss(): number {
    return this.peakControlPlaneRss;
  }

  sampleControlPlaneRss(): number | null {
    const rss = residentBytes(this.controlPlane.child.child.pid);
    if (rss !== null) this.peakControlPlaneRss = Math.max(this.peakControlPlaneRss, rss);
    return rss;
  }

  async revisions(): Promise<Record<string, string>> {
    const { environments } = await this.admin.request<{ environments: Array<{ handle: string; revision: string | number }> }>('{ environments { handle revision } }', {}, 3);
    return Object.fromEntries(environments.map((e) => [e.handle, String(e.revision)]));
  }

  /** Waits until every proxy serves the current revisions; returns how long that took. */
  async settle(timeoutMs = SETTLE_TIMEOUT_MS): Promise<number | null> {
    if (!this.controlPlane.child.isRunning()) return null;
    const begin = epochMs();
    try {
      const reached = await Promise.race([this.fleet.waitForRevisions(await this.revisions(), timeoutMs), this.controlPlane.child.exited.then(() => null)]);
      return reached === null ? null : Math.max(0, reached - begin);
    } catch (error) {
      log(`  could not wait for the proxies: ${(error as Error).message.slice(0, 300)}`);
      return null;
    }
  }

  private async timed<T>(mutation: () => Promise<T>, conditions: (result: T) => KeyConditions): Promise<{ sample: LiveSample; result: T }> {
    const watch = await this.fleet.arm();
    const begin = performance.now();
    const result = await mutation();
    const mutationMs = performance.now() - begin;
    const answeredAt = epochMs();
    const liveAt = await this.fleet.resolve(watch, conditions(result));
    return { sample: { mutationMs, liveMs: liveAt === null ? null : Math.max(0, liveAt - answeredAt) }, result };
  }

  timedCreate(tag: string): Promise<{ sample: LiveSample; result: ConnectionHandle }> {
    return this.timed(
      () => this.developer.createConnection(tag),
      (connection) => Object.fromEntries(Object.entries(connection.keys).map(([environment, key]) => [environment, { present: [key], absent: [] }])),
    );
  }

  async timedRotate(connection: ConnectionHandle, environment: string): Promise<{ sample: LiveSample; result: ConnectionHandle }> {
    const { sample, result } = await this.timed(
      () => this.developer.rotateKey(connection, environment),
      (apiKey) => ({ [environment]: { present: [apiKey], absent: [connection.keys[environment]] } }),
    );
    return { sample, result: { ...connection, keys: { ...connection.keys, [environment]: result } } };
  }

  async timedDelete(connection: ConnectionHandle): Promise<LiveSample> {
    const { sample } = await this.timed(
      () => this.developer.deleteConnection(connection),
      () => Object.fromEntries(Object.entries(connection.keys).map(([environment, key]) => [environment, { present: [], absent: [key] }])),
    );
    return sample;
  }

  /** The issue's table row: once settled (median of 3), then right after a burst of creations 8 at a time. */
  async tableRow(size: number): Promise<TableRow> {
    const settledDrainMs = await this.settle();
    const settled: LiveSample[] = [];
    for (let i = 0; i < 3; i++) {
      settled.push((await this.timedCreate('settled')).sample);
      await this.settle();
    }
    const burstBegin = performance.now();
    let burstLeft = SETTINGS.burst;
    const burstLatencies: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (burstLeft > 0) {
          burstLeft--;
          const begin = performance.now();
          await this.developer.createConnection('burst');
          burstLatencies.push(performance.now() - begin);
        }
      }),
    );
    const burstSeconds = (performance.now() - burstBegin) / 1000;
    const afterBurst = (await this.timedCreate('after-burst')).sample;
    const drainBegin = performance.now();
    const drained = await this.settle();
    const row: TableRow = {
      size,
      connections: await countConnections(SETTINGS.databaseUrl),
      afterBurst,
      burst: { creations: SETTINGS.burst, perSecond: SETTINGS.burst / burstSeconds, p50Ms: percentile(burstLatencies, 50), p99Ms: percentile(burstLatencies, 99) },
      backlogDrainMs: drained === null ? null : performance.now() - drainBegin,
      settled: { mutationMs: percentile(settled.map((s) => s.mutationMs), 50)!, liveMs: settled.some((s) => s.liveMs === null) ? null : percentile(settled.map((s) => s.liveMs!), 50) },
      settleAfterSeedMs: settledDrainMs,
      controlPlaneRss: this.sampleControlPlaneRss(),
    };
    log(
      `  ${row.connections} connections: settled create ${ms(row.settled.mutationMs)}, live ${live(row.settled.liveMs)}; burst ${row.burst.perSecond.toFixed(1)}/s; after burst create ${ms(afterBurst.mutationMs)}, live ${live(afterBurst.liveMs)}; backlog drained in ${drain(row.backlogDrainMs)}`,
    );
    return row;
  }

  /** create → rotate → delete, each waited for at every proxy, until SCALE_SAMPLES rounds or the time budget. */
  async sequentialSamples(): Promise<{ create: LiveSample[]; rotate: LiveSample[]; delete: LiveSample[]; errors: string[]; seconds: number }> {
    const create: LiveSample[] = [];
    const rotate: LiveSample[] = [];
    const remove: LiveSample[] = [];
    const begin = performance.now();
    const errors: string[] = [];
    for (let i = 0; i < SETTINGS.samples && performance.now() - begin < SETTINGS.sampleBudgetS * 1000 && this.controlPlane.child.isRunning(); i++) {
      const roundBegin = performance.now();
      try {
        const created = await this.timedCreate('sample');
        create.push(created.sample);
        const rotated = await this.timedRotate(created.result, SCALE_ENVIRONMENTS[i % SCALE_ENVIRONMENTS.length]);
        rotate.push(rotated.sample);
        remove.push(await this.timedDelete(rotated.result));
      } catch (error) {
        // A failed mutation is reported, not retried; its round ends there.
        errors.push((error as Error).message.slice(0, 300));
        log(`  round ${i + 1} failed: ${(error as Error).message.slice(0, 300)}`);
      }
      if ((i + 1) % 10 === 0 || performance.now() - roundBegin > 10_000) log(`  ${i + 1} rounds (${Math.round((performance.now() - begin) / 1000)} s)`);
    }
    return { create, rotate, delete: remove, errors, seconds: (performance.now() - begin) / 1000 };
  }

  /**
   * A rollout of every service: each one's rate limit set anew in `environment`, 8 mutations at a
   * time, as an administrator changing a policy everywhere would. Each is a deployment that the
   * rollout worker follows until every proxy of the environment has applied it.
   */
  async rolloutEveryService(environment: string): Promise<{ latencies: number[]; errors: string[]; seconds: number }> {
    const latencies: number[] = [];
    const errors: string[] = [];
    const begin = performance.now();
    await inParallel(this.installation.services, 8, async (service, index) => {
      const started = performance.now();
      try {
        await this.admin.request(
          'mutation($s: ID!, $e: String!, $i: ConfigureServiceEnvironmentInput!) { configureServiceEnvironment(serviceId: $s, environment: $e, input: $i) { id } }',
          { s: service.id, e: environment, i: { rateLimit: { timeUnit: 'MINUTE', maxTotalTokens: 1_000_000_000 + index } } },
        );
        latencies.push(performance.now() - started);
      } catch (error) {
        errors.push((error as Error).message.slice(0, 200));
      }
    });
    return { latencies: latencies.sort((a, b) => a - b), errors, seconds: (performance.now() - begin) / 1000 };
  }

  /** SCALE_SUSTAINED_RATE mutations/s (create, rotate, delete in turn) for SCALE_SUSTAINED_S, open loop; memory sampled every second. */
  async sustained(proxyPid: number | undefined): Promise<SustainedResult> {
    const rate = SETTINGS.sustainedRate;
    const total = Math.round(rate * SETTINGS.sustainedS);
    const latencies: Record<'create' | 'rotate' | 'delete', number[]> = { create: [], rotate: [], delete: [] };
    const errors: string[] = [];
    const created: ConnectionHandle[] = [];
    const rotated: ConnectionHandle[] = [];
    let inFlight = 0;
    let skipped = 0;
    const maxInFlight = 256;
    const samples: MemorySample[] = [];
    /** Per second of the minute: the share of it in which some runnable task waited for a CPU (PSI). */
    const pressure: number[] = [];
    const begin = performance.now();
    let stalled = cpuStallMicros();
    const sampler = setInterval(() => {
      const t = (performance.now() - begin) / 1000;
      const rss = this.sampleControlPlaneRss();
      const stalledNow = cpuStallMicros();
      if (stalled !== null && stalledNow !== null) pressure.push((stalledNow - stalled) / 1e6);
      stalled = stalledNow;
      void controlPlaneHeapUsed(this.controlPlane.metricsUrl).then((heap) => samples.push({ t, controlPlaneRss: rss, controlPlaneHeapUsed: heap.used, controlPlaneHeapAfterGc: heap.afterMajorGc, proxyRss: residentBytes(proxyPid), inFlight }));
    }, 1000);
    const operations: Array<Promise<void>> = [];
    for (let k = 0; k < total; k++) {
      const due = begin + (k * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      if (inFlight >= maxInFlight) {
        skipped++;
        continue;
      }
      let kind: 'create' | 'rotate' | 'delete' = (['create', 'rotate', 'delete'] as const)[k % 3];
      const target = kind === 'rotate' ? created.shift() : kind === 'delete' ? rotated.shift() : undefined;
      if (target === undefined) kind = 'create';
      inFlight++;
      const started = performance.now();
      const operation = (async () => {
        if (kind === 'create') created.push(await this.developer.createConnection('sustained'));
        else if (kind === 'rotate') rotated.push({ ...target!, keys: { ...target!.keys, [SCALE_ENVIRONMENTS[k % 2]]: await this.developer.rotateKey(target!, SCALE_ENVIRONMENTS[k % 2]) } });
        else await this.developer.deleteConnection(target!);
        latencies[kind].push(performance.now() - started);
      })()
        .catch((error: unknown) => {
          if (errors.length < 20) errors.push(`${kind}: ${(error as Error).message.slice(0, 300)}`);
          else errors.push('');
        })
        .finally(() => inFlight--);
      operations.push(operation);
    }
    const sentSeconds = (performance.now() - begin) / 1000;
    await Promise.all(operations);
    clearInterval(sampler);
    const answeredSeconds = (performance.now() - begin) / 1000;
    const drainBegin = performance.now();
    const drained = await this.settle();
    const heap = await controlPlaneHeapUsed(this.controlPlane.metricsUrl);
    const afterDrain: MemorySample = {
      t: (performance.now() - begin) / 1000,
      controlPlaneRss: this.sampleControlPlaneRss(),
      controlPlaneHeapUsed: heap.used,
      controlPlaneHeapAfterGc: heap.afterMajorGc,
      proxyRss: residentBytes(proxyPid),
      inFlight: 0,
    };
    return { offered: total, skipped, errors: errors.length, errorSamples: errors.filter(Boolean).slice(0, 5), latencies, sentSeconds, answeredSeconds, drainMs: drained === null ? null : performance.now() - drainBegin, samples, afterDrain, pressure };
  }
}

interface MemorySample {
  t: number;
  controlPlaneRss: number | null;
  controlPlaneHeapUsed: number | null;
  /** The control plane's heap as its latest major collection left it (`…_heap_used_after_major_gc_bytes`). */
  controlPlaneHeapAfterGc: number | null;
  proxyRss: number | null;
  inFlight: number;
}

/** /proc/pressure/cpu `some total`: µs in which some runnable task waited for a CPU (null off Linux). */
function cpuStallMicros(): number | null {
  try {
    const match = /^some .*total=(\d+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

interface SustainedResult {
  offered: number;
  skipped: number;
  errors: number;
  errorSamples: string[];
  latencies: Record<'create' | 'rotate' | 'delete', number[]>;
  sentSeconds: number;
  answeredSeconds: number;
  drainMs: number | null;
  samples: MemorySample[];
  afterDrain: MemorySample;
  /** Per second: the share of it in which some runnable task of the machine waited for a CPU (PSI; empty off Linux). */
  pressure: number[];
}

interface TableRow {
  size: number;
  connections: number;
  afterBurst: LiveSample;
  burst: { creations: number; perSecond: number; p50Ms: number | null; p99Ms: number | null };
  backlogDrainMs: number | null;
  settled: { mutationMs: number; liveMs: number | null };
  settleAfterSeedMs: number | null;
  controlPlaneRss: number | null;
}

/** A real `tokengate data-plane` for the first environment, with the whole configuration. */
async function startRealProxy(processes: ChildProcessGroup, controlPlane: ControlPlaneProcess): Promise<{ child: ManagedChild; url: string; startedAt: number }> {
  const startedAt = performance.now();
  const child = processes.start({
    name: 'tokengate data-plane',
    command: process.execPath,
    args: [
      path.join(ROOT, 'dist/cli/main.js'),
      'data-plane',
      '--environment', SCALE_ENVIRONMENTS[0],
      '--host', '127.0.0.1',
      '--port', '0',
      '--control-plane', controlPlane.grpcAddress,
      '--proxy-id', 'scale-real-proxy',
      '--log-level', 'info',
      '--shutdown-grace-ms', '1000',
    ],
    cwd: ROOT,
    env: cleanEnv({ TOKENGATE_DATAPLANE_TOKEN: controlPlane.dataPlaneToken, REDIS_URL: SETTINGS.redisUrl, TOKENGATE_REDIS_NAMESPACE: controlPlane.redisNamespace }),
  });
  const url = await child.waitForLine((line) => {
    const entry = parseLogLine(line);
    return entry?.msg === 'data-plane proxy listening' && typeof entry.url === 'string' ? entry.url : undefined;
  }, 60_000);
  return { child, url, startedAt };
}

async function callThroughProxy(proxyUrl: string, service: ScaleService, apiKey: string): Promise<number> {
  const response = await fetch(`${proxyUrl}/${service.organizationHandle}${service.contextPath}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] }),
    signal: AbortSignal.timeout(10_000),
  });
  await response.arrayBuffer();
  return response.status;
}

/** Polls until the key answers 200 (the proxy has applied a snapshot holding it); returns the status seen last. */
async function waitFor200(proxyUrl: string, service: ScaleService, apiKey: string, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let status = 0;
  while (performance.now() < deadline) {
    status = await callThroughProxy(proxyUrl, service, apiKey).catch(() => 0);
    if (status === 200) return status;
    await sleep(250);
  }
  return status;
}

/** Fresh proxies (no snapshot) connecting to the control plane: time to the full snapshot received and compiled. */
async function reconnects(controlPlane: ControlPlaneProcess, count: number): Promise<Array<{ totalMs: number; compileMs: number | null; keys: number }>> {
  const results: Array<{ totalMs: number; compileMs: number | null; keys: number }> = [];
  for (let i = 0; i < count; i++) {
    const begin = epochMs();
    const proxy = await startSimulatedProxy({ environment: SCALE_ENVIRONMENTS[0], controlPlaneAddress: controlPlane.grpcAddress, dataPlaneToken: controlPlane.dataPlaneToken, proxyId: `scale-reconnect-${i}` });
    const applied = await new Promise<{ at: number; keys: number } | null>((resolve) => {
      const current = proxy.current();
      if (current !== null) {
        resolve({ at: epochMs(), keys: current.consumerKeys });
        return;
      }
      const timer = setTimeout(() => {
        off();
        resolve(null);
      }, SETTLE_TIMEOUT_MS);
      const off = proxy.onApplied((at, snapshot) => {
        off();
        clearTimeout(timer);
        resolve({ at, keys: snapshot.consumerKeys });
      });
    });
    if (applied === null) {
      log(`  reconnect ${i + 1}: no snapshot within ${SETTLE_TIMEOUT_MS / 1000} s`);
      await proxy.close();
      break;
    }
    results.push({ totalMs: applied.at - begin, compileMs: proxy.connectedAtMs === null ? null : applied.at - proxy.connectedAtMs, keys: applied.keys });
    await proxy.close();
    await sleep(500);
  }
  return results;
}

/** Counts the control plane's warn/error log lines by message (pino JSON on stdout), with the first detail of each. */
function captureWarnings(child: ManagedChild): Map<string, { count: number; example: string }> {
  const seen = new Map<string, { count: number; example: string }>();
  child
    .waitForLine((line) => {
      const entry = parseLogLine(line);
      if (entry === undefined || typeof entry.level !== 'number' || entry.level < 40) return undefined;
      const message = String(entry.msg ?? '');
      const current = seen.get(message);
      if (current !== undefined) current.count++;
      else {
        const err = entry.err ?? entry.error ?? entry.reason ?? '';
        const example = typeof err === 'object' && err !== null ? String((err as { message?: unknown }).message ?? JSON.stringify(err)) : String(err);
        seen.set(message, { count: 1, example: example.slice(0, 300) });
      }
      return undefined;
    }, 24 * 3600_000)
    .catch(() => undefined);
  return seen;
}

function goal(name: string, pass: boolean | null, detail: string): { name: string; result: 'PASS' | 'FAIL' | 'SKIP'; detail: string } {
  return { name, result: pass === null ? 'SKIP' : pass ? 'PASS' : 'FAIL', detail };
}

function growth(samples: MemorySample[], pick: (s: MemorySample) => number | null): { first: number | null; last: number | null; ratio: number | null } {
  const window = Math.max(1, Math.floor(samples.length / 4));
  const values = (list: MemorySample[]) => list.map(pick).filter((v): v is number => v !== null);
  const first = values(samples.slice(0, window));
  const last = values(samples.slice(-window));
  if (first.length === 0 || last.length === 0) return { first: null, last: null, ratio: null };
  const a = first.reduce((s, v) => s + v, 0) / first.length;
  const b = last.reduce((s, v) => s + v, 0) / last.length;
  return { first: a, last: b, ratio: b / a - 1 };
}

function pct(ratio: number | null): string {
  return ratio === null ? '—' : `${ratio >= 0 ? '+' : ''}${(ratio * 100).toFixed(0)} %`;
}

/**
 * Growth judged on a sawtooth: the heap in use climbs for 20–30 s at this rate and falls at each
 * major collection, and the RSS climbs to the working size those peaks need and stays there. Quarter
 * means (growth()) catch where the sawtooth stands when the minute starts and ends; a leak instead
 * raises what survives each major collection (the control plane's
 * `heap_used_after_major_gc_bytes`: compared as the mean of each half) and the RSS's ceiling (the
 * highest sample of each half).
 */
function halvesGrowth(samples: MemorySample[], pick: (s: MemorySample) => number | null, statistic: 'mean' | 'max'): { first: number | null; last: number | null; ratio: number | null } {
  const half = Math.floor(samples.length / 2);
  const values = (list: MemorySample[]) => list.map(pick).filter((v): v is number => v !== null);
  const first = values(samples.slice(0, half));
  const last = values(samples.slice(half));
  if (first.length === 0 || last.length === 0) return { first: null, last: null, ratio: null };
  const of = (list: number[]) => (statistic === 'max' ? Math.max(...list) : list.reduce((sum, v) => sum + v, 0) / list.length);
  return { first: of(first), last: of(last), ratio: of(last) / of(first) - 1 };
}

async function main(): Promise<void> {
  const processes = new ChildProcessGroup();
  let stopping = false;
  let redisNamespace: string | null = null;
  const stop = async (code: number): Promise<never> => {
    if (!stopping) {
      stopping = true;
      // A process writes its CPU profile as it exits: give it time to.
      await processes.stopAll(SETTINGS.cpuProfileDir === '' ? 3000 : 30_000);
      if (redisNamespace !== null) await clearRedisNamespace(SETTINGS.redisUrl, redisNamespace).catch((error: unknown) => log(`could not clear Redis namespace ${redisNamespace}: ${String(error)}`));
      await dropBenchDatabase(SETTINGS.databaseUrl, (comment) => comment?.startsWith('tokengate benchmark scratch database') ?? false).catch(() => undefined);
    }
    process.exit(code);
  };
  process.once('SIGINT', () => void stop(130));
  process.once('SIGTERM', () => void stop(143));
  process.once('exit', () => processes.killAllNow());

  const sizes = [...new Set([1000, 10_000, 100_000].filter((s) => s < SETTINGS.connections).concat(SETTINGS.connections))];
  log(`scale benchmark: ${SETTINGS.connections} connections (table at ${sizes.join(', ')}), ${SETTINGS.services} services, ${SETTINGS.organizations} organizations, ${SETTINGS.proxiesPerEnvironment} simulated proxies per environment in ${SETTINGS.workers} processes`);
  await recreateBenchDatabase(SETTINGS.databaseUrl);
  const upstream = await startFakeUpstream(processes, SCRIPTS);
  const controlPlane = await startControlPlane(processes, ROOT, SETTINGS.databaseUrl, SETTINGS.redisUrl, profilingArgs('control-plane'));
  redisNamespace = controlPlane.redisNamespace;
  log(`control plane: ${controlPlane.graphqlUrl} (gRPC ${controlPlane.grpcAddress})`);
  const rolloutWorker = SETTINGS.rolloutWorker > 0 ? await startRolloutWorker(processes, controlPlane) : null;
  const workerRss = new RssWatch(rolloutWorker?.child.pid);
  log(rolloutWorker === null ? 'no rollout worker (SCALE_ROLLOUT_WORKER=0): deployments stay PENDING' : 'rollout worker started');
  const controlPlaneLog = captureWarnings(controlPlane.child);
  const admin = new GraphQLClient(controlPlane.graphqlUrl, controlPlane.adminToken);
  const seedBegin = performance.now();
  const installation = await seedThroughGraphQL(
    admin,
    { organizations: SETTINGS.organizations, projectsPerOrganization: SETTINGS.projectsPerOrganization, services: SETTINGS.services, upstreamUrl: `${upstream.origin}/v1`, upstreamApiKey: upstream.apiKey },
    log,
  );
  const graphqlSeedSeconds = (performance.now() - seedBegin) / 1000;
  log(`seeded through GraphQL in ${graphqlSeedSeconds.toFixed(1)} s: ${installation.services.length} services`);

  const fleet = ProxyFleet.start(processes, SETTINGS.workers);
  for (const pid of fleet.pids) {
    try {
      os.setPriority(pid, SETTINGS.proxyNice);
    } catch (error) {
      log(`could not renice simulated proxies ${pid}: ${String(error)}`);
    }
  }
  const started = await fleet.startProxies(controlPlane, SETTINGS.proxiesPerEnvironment);
  log(`${started.length} simulated proxies connected (first snapshot p50 ${ms(percentile(started.map((s) => s.firstSnapshotMs), 50))})`);
  const run = new ScaleRun(controlPlane, admin, installation, fleet);

  const table: TableRow[] = [];
  const bulk: Array<{ to: number; seconds: number }> = [];
  let seeded = 0;
  let sample: SeededSample | null = null;
  for (const size of sizes) {
    const existing = await countConnections(SETTINGS.databaseUrl);
    const target = Math.max(seeded, size - (existing - seeded));
    const begin = performance.now();
    const inserted = await bulkInsertConnections(SETTINGS.databaseUrl, installation, seeded, target, SETTINGS.batch);
    sample ??= inserted;
    bulk.push({ to: target, seconds: (performance.now() - begin) / 1000 });
    log(`bulk-inserted connections ${seeded}…${target - 1} in ${((performance.now() - begin) / 1000).toFixed(1)} s; measuring at ~${size}`);
    seeded = target;
    try {
      table.push(await run.tableRow(size));
    } catch (error) {
      log(`  the measurement at ~${size} failed: ${(error as Error).message.slice(0, 300)}`);
    }
  }

  log(`sequential samples (create → rotate → delete, up to ${SETTINGS.samples} rounds or ${SETTINGS.sampleBudgetS} s)`);
  await run.settle();
  const sequential = await run.sequentialSamples();
  const settledControlPlane = { rss: run.sampleControlPlaneRss(), heapUsed: (await controlPlaneHeapUsed(controlPlane.metricsUrl)).used };
  const workerMemory = await fleet.memory();

  log('real tokengate data-plane with the full configuration');
  const real = await startRealProxy(processes, controlPlane);
  const fresh = await new Developer(new GraphQLClient(controlPlane.graphqlUrl, installation.developer.token), installation).createConnection('real-proxy').catch((error: unknown) => {
    log(`  createConnection for the real proxy failed: ${(error as Error).message.slice(0, 300)}`);
    return null;
  });
  const freshStatus = fresh === null ? 0 : await waitFor200(real.url, fresh.service, fresh.keys[SCALE_ENVIRONMENTS[0]], SETTINGS.liveTimeoutS * 1000);
  const readyMs = performance.now() - real.startedAt;
  const seededStatus = sample === null ? 0 : await waitFor200(real.url, sample.service, sample.keys[SCALE_ENVIRONMENTS[0]].apiKey, 30_000);
  const unknownStatus = await callThroughProxy(real.url, installation.services[0], `tgk_${randomBytes(32).toString('base64url')}`).catch(() => 0);
  const realProxyRss = residentBytes(real.child.child.pid);
  log(`  new key ${freshStatus}, seeded key ${seededStatus}, unknown key ${unknownStatus}; RSS ${mb(realProxyRss)} (ready with the key after ${ms(readyMs)})`);

  log(`reconnecting proxies (${SETTINGS.reconnects})`);
  const reconnect = await reconnects(controlPlane, SETTINGS.reconnects);

  log(`sustained: ${SETTINGS.sustainedRate} mutations/s for ${SETTINGS.sustainedS} s`);
  await run.settle();
  // Who had the cores: the control plane, the rollout worker, the real proxy, and the machine.
  const cpuParties = [
    { name: 'control plane', pid: controlPlane.child.child.pid },
    { name: 'rollout worker', pid: rolloutWorker?.child.pid },
    { name: 'real proxy', pid: real.child.child.pid },
  ].filter((p): p is { name: string; pid: number } => p.pid !== undefined);
  const sustainedCpuBefore = takeCpuSnapshot(cpuParties);
  const sustained = await run.sustained(real.child.child.pid);
  const sustainedCpu = cpuUseBetween(sustainedCpuBefore, takeCpuSnapshot(cpuParties), os.cpus().length);
  const realProxyRssAfter = residentBytes(real.child.child.pid);
  const controlPlaneAlive = controlPlane.child.isRunning();

  // What the rollout worker did with every change so far, then a rollout of every service.
  let rollouts: { afterSustained: { ms: number | null; byStatus: Record<string, number> }; workerPeakSoFar: number; everyService: Awaited<ReturnType<ScaleRun['rolloutEveryService']>>; settled: { ms: number | null; byStatus: Record<string, number> }; workerPeakDuring: number; cpu: CpuUse; seconds: number } | null = null;
  if (rolloutWorker !== null) {
    log('rollouts: waiting for every deployment so far to settle');
    const afterSustained = await rolloutsSettled(SETTLE_TIMEOUT_MS);
    const workerPeakSoFar = workerRss.peakSinceMark();
    log(`  settled ${drain(afterSustained.ms)} after the sustained minute's proxies caught up: ${statusCounts(afterSustained.byStatus)}`);
    log(`rollout of every service in ${SCALE_ENVIRONMENTS[0]} (${installation.services.length} configureServiceEnvironment, 8 at a time)`);
    const rolloutCpuBefore = takeCpuSnapshot(cpuParties);
    const rolloutBegin = performance.now();
    const everyService = await run.rolloutEveryService(SCALE_ENVIRONMENTS[0]);
    const settled = await rolloutsSettled(SETTLE_TIMEOUT_MS);
    const cpu = cpuUseBetween(rolloutCpuBefore, takeCpuSnapshot(cpuParties), os.cpus().length);
    rollouts = { afterSustained, workerPeakSoFar, everyService, settled, workerPeakDuring: workerRss.peakSinceMark(), cpu, seconds: (performance.now() - rolloutBegin) / 1000 };
    log(`  ${everyService.latencies.length} answered in ${everyService.seconds.toFixed(1)} s (${everyService.errors.length} errors); every deployment settled ${drain(settled.ms)} after the last answer: ${statusCounts(settled.byStatus)}`);
  }
  workerRss.stop();

  // Report.
  const all = (list: LiveSample[]) => ({
    n: list.length,
    mutationP50: percentile(list.map((s) => s.mutationMs), 50),
    mutationP99: percentile(list.map((s) => s.mutationMs), 99),
    timeouts: list.filter((s) => s.liveMs === null).length,
    liveP50: percentile(list.flatMap((s) => (s.liveMs === null ? [] : [s.liveMs])), 50),
    liveP99: list.some((s) => s.liveMs === null) ? null : percentile(list.map((s) => s.liveMs!), 99),
    liveMax: list.some((s) => s.liveMs === null) ? null : percentile(list.map((s) => s.liveMs!), 100),
  });
  const create = all(sequential.create);
  const rotate = all(sequential.rotate);
  const remove = all(sequential.delete);
  const sustainedCreateP99 = percentile(sustained.latencies.create, 99);
  const heapGrowth = growth(sustained.samples, (s) => s.controlPlaneHeapUsed);
  const rssGrowth = growth(sustained.samples, (s) => s.controlPlaneRss);
  const heapFloorGrowth = halvesGrowth(sustained.samples, (s) => s.controlPlaneHeapAfterGc, 'mean');
  const rssCeilingGrowth = halvesGrowth(sustained.samples, (s) => s.controlPlaneRss, 'max');
  const proxyPeak = Math.max(realProxyRss ?? 0, realProxyRssAfter ?? 0, ...sustained.samples.map((s) => s.proxyRss ?? 0));
  const reconnectTotals = reconnect.map((r) => r.totalMs);
  const out: string[] = [];
  const connectionsNow = await countConnections(SETTINGS.databaseUrl);
  out.push('');
  out.push(`## Scale: ${connectionsNow.toLocaleString('en-US')} connections (${(connectionsNow * SCALE_ENVIRONMENTS.length).toLocaleString('en-US')} keys), ${installation.services.length} services, ${SETTINGS.organizations} organizations, ${SETTINGS.proxiesPerEnvironment} simulated proxies × ${SCALE_ENVIRONMENTS.length} environments`);
  out.push('');
  out.push(`| connections | right after a burst of ${SETTINGS.burst} creations (8 at a time): createConnection; key live | once settled: createConnection; key live (median of 3) | burst rate; backlog drained in |`);
  out.push('| --- | --- | --- | --- |');
  for (const row of table) {
    out.push(`| ${row.connections.toLocaleString('en-US')} | ${ms(row.afterBurst.mutationMs)}; ${live(row.afterBurst.liveMs)} | ${ms(row.settled.mutationMs)}; ${live(row.settled.liveMs)} | ${row.burst.perSecond.toFixed(1)}/s (p99 ${ms(row.burst.p99Ms)}); ${drain(row.backlogDrainMs)} |`);
  }
  out.push('');
  out.push(`Sequential mutations at ${connectionsNow.toLocaleString('en-US')} connections (each waited for at every proxy; ${sequential.seconds.toFixed(0)} s):`);
  out.push('');
  out.push('| mutation | n | GraphQL p50 / p99 | at every proxy p50 / p99 / max | timeouts |');
  out.push('| --- | --- | --- | --- | --- |');
  for (const [name, s] of [['createConnection (new key live)', create], ['rotateConnectionKey (new key live, old refused)', rotate], ['deleteConnection (keys refused)', remove]] as const) {
    out.push(`| ${name} | ${s.n} | ${ms(s.mutationP50)} / ${ms(s.mutationP99)} | ${ms(s.liveP50)} / ${ms(s.liveP99)} / ${ms(s.liveMax)} | ${s.timeouts} |`);
  }
  if (sequential.errors.length) out.push(`Failed mutations in these rounds: ${sequential.errors.length}, e.g. ${sequential.errors[0]}`);
  out.push('');
  const rate = (n: number) => (n / SETTINGS.sustainedS).toFixed(1);
  const answered = sustained.latencies.create.length + sustained.latencies.rotate.length + sustained.latencies.delete.length;
  out.push(`Sustained: ${sustained.offered} mutations offered at ${SETTINGS.sustainedRate}/s over ${SETTINGS.sustainedS} s; ${answered} answered (${rate(answered)}/s), ${sustained.errors} errors, ${sustained.skipped} not sent (256 in flight); last answer after ${sustained.answeredSeconds.toFixed(1)} s; proxies caught up ${drain(sustained.drainMs)} after.`);
  for (const kind of ['create', 'rotate', 'delete'] as const) out.push(`  ${kind}: n ${sustained.latencies[kind].length}, p50 ${ms(percentile(sustained.latencies[kind], 50))}, p99 ${ms(percentile(sustained.latencies[kind], 99))}, max ${ms(percentile(sustained.latencies[kind], 100))}`);
  if (sustained.errorSamples.length) out.push(`  errors, e.g.: ${sustained.errorSamples.join(' | ')}`);
  out.push(`  control plane heap used: ${mb(heapGrowth.first)} (first quarter) → ${mb(heapGrowth.last)} (last quarter), RSS ${mb(rssGrowth.first)} → ${mb(rssGrowth.last)}; heap after major GCs ${mb(heapFloorGrowth.first)} (first half) → ${mb(heapFloorGrowth.last)} (second half), highest RSS ${mb(rssCeilingGrowth.first)} → ${mb(rssCeilingGrowth.last)}; after the proxies caught up: heap ${mb(sustained.afterDrain.controlPlaneHeapUsed)}, RSS ${mb(sustained.afterDrain.controlPlaneRss)}`);
  out.push(`  cores over the minute: ${cores(sustainedCpu)}; simulated proxies at nice ${SETTINGS.proxyNice}`);
  if (sustained.pressure.length > 0) {
    const sorted = [...sustained.pressure].sort((a, b) => a - b);
    const share = (v: number) => `${(v * 100).toFixed(0)} %`;
    out.push(`  CPU pressure (some task waiting for a CPU), per second of the minute: mean ${share(sorted.reduce((sum, v) => sum + v, 0) / sorted.length)}, p50 ${share(sorted[Math.floor(sorted.length / 2)])}, worst ${share(sorted[sorted.length - 1])}`);
  }
  out.push(`  memory every ~5 s (t s: CP RSS / heap / real proxy RSS / in flight): ${sustained.samples.filter((_, i) => i % 5 === 0).map((s) => `${Math.round(s.t)}: ${mb(s.controlPlaneRss)}/${mb(s.controlPlaneHeapUsed)}/${mb(s.proxyRss)}/${s.inFlight}`).join(', ')}`);
  out.push('');
  out.push(`Memory: control plane RSS ${mb(settledControlPlane.rss)} settled (heap ${mb(settledControlPlane.heapUsed)}), peak ${mb(run.controlPlanePeakRss)}${controlPlaneAlive ? '' : ' — the control plane DIED during the run'}; real proxy RSS ${mb(realProxyRss)} with the full configuration, ${mb(realProxyRssAfter)} after the sustained minute, peak sampled ${mb(proxyPeak)}; simulated proxies ${mb(workerMemory.rssBytes)} RSS in ${SETTINGS.workers} processes.`);
  out.push(`Real proxy: new key ${freshStatus}, bulk-seeded key ${seededStatus}, unknown key ${unknownStatus}; first 200 with the new key ${ms(readyMs)} after start.`);
  out.push(`Reconnecting proxy (full snapshot of ${reconnect[0]?.keys ?? '—'} keys): start → applied ${reconnect.map((r) => ms(r.totalMs)).join(', ')}; of which after the snapshot arrived (decoded) → compiled and swapped: ${reconnect.map((r) => ms(r.compileMs)).join(', ')}`);
  out.push(`Bulk inserts: ${bulk.map((b) => `to ${b.to.toLocaleString('en-US')} in ${b.seconds.toFixed(1)} s`).join(', ')}; GraphQL seeding ${graphqlSeedSeconds.toFixed(0)} s.`);
  out.push('');
  const goals = [
    goal('createConnection p99 ≤ 50 ms (sequential)', create.mutationP99 === null ? null : create.mutationP99 <= GOALS.createMs, ms(create.mutationP99)),
    goal('createConnection p99 ≤ 50 ms (under the sustained rate)', sustainedCreateP99 === null ? null : sustainedCreateP99 <= GOALS.createMs, ms(sustainedCreateP99)),
    goal('new key live at every proxy p99 ≤ 1 s', create.n === 0 ? null : create.liveP99 !== null && create.liveP99 <= GOALS.liveMs, create.liveP99 === null ? `${create.timeouts} timeouts` : ms(create.liveP99)),
    goal('rotated key live at every proxy p99 ≤ 1 s', rotate.n === 0 ? null : rotate.liveP99 !== null && rotate.liveP99 <= GOALS.liveMs, rotate.liveP99 === null ? `${rotate.timeouts} timeouts` : ms(rotate.liveP99)),
    goal('deleted key refused everywhere p99 ≤ 1 s', remove.n === 0 ? null : remove.liveP99 !== null && remove.liveP99 <= GOALS.liveMs, remove.liveP99 === null ? `${remove.timeouts} timeouts` : ms(remove.liveP99)),
    goal(
      `${SETTINGS.sustainedRate} mutations/s for ${SETTINGS.sustainedS} s, no control-plane memory growth (≤ 10 %, second half vs first: heap after major GCs, RSS's highest)`,
      // RSS from /proc is always there; the heap (from /metrics) may not answer under load, and then only RSS judges growth.
      rssCeilingGrowth.ratio === null
        ? null
        : controlPlaneAlive && sustained.errors === 0 && sustained.skipped === 0 && rssCeilingGrowth.ratio <= GOALS.growth && (heapFloorGrowth.ratio === null || heapFloorGrowth.ratio <= GOALS.growth),
      `heap after GCs ${pct(heapFloorGrowth.ratio)}, RSS ceiling ${pct(rssCeilingGrowth.ratio)} (quarter means: heap ${pct(heapGrowth.ratio)}, RSS ${pct(rssGrowth.ratio)}), ${rate(answered)}/s answered, ${sustained.errors} errors`,
    ),
    goal('control plane RSS ≤ 512 MB (peak)', run.controlPlanePeakRss === 0 ? null : run.controlPlanePeakRss <= GOALS.rssBytes, mb(run.controlPlanePeakRss)),
    goal('proxy RSS ≤ 512 MB (peak)', proxyPeak === 0 ? null : proxyPeak <= GOALS.rssBytes && freshStatus === 200 && seededStatus === 200, `${mb(proxyPeak)}; keys answer ${freshStatus}/${seededStatus}`),
    goal('full snapshot received and compiled ≤ 2 s (worst reconnect)', reconnectTotals.length === 0 ? null : Math.max(...reconnectTotals) <= GOALS.snapshotMs, ms(reconnectTotals.length ? Math.max(...reconnectTotals) : null)),
  ];
  if (rollouts !== null) {
    const r = rollouts;
    goals.push(goal('rollout worker RSS ≤ 512 MB (peak)', workerRss.peak === 0 ? null : workerRss.peak <= GOALS.rssBytes, mb(workerRss.peak)));
    out.push(
      `Rollouts (\`tokengate worker\`, one per change and environment): every deployment of the run so far settled ${drain(r.afterSustained.ms)} after the sustained minute's proxies caught up (${statusCounts(r.afterSustained.byStatus)}); worker RSS peak ${mb(r.workerPeakSoFar)} up to then.`,
    );
    out.push(
      `Rollout of every service in ${SCALE_ENVIRONMENTS[0]}: ${r.everyService.latencies.length} configureServiceEnvironment answered in ${r.everyService.seconds.toFixed(1)} s (8 at a time; p50 ${ms(percentile(r.everyService.latencies, 50))}, p99 ${ms(percentile(r.everyService.latencies, 99))}; ${r.everyService.errors.length} errors${r.everyService.errors.length ? `, e.g. ${r.everyService.errors[0]}` : ''}); every deployment settled ${drain(r.settled.ms)} after the last answer (${statusCounts(r.settled.byStatus)}); worker RSS peak ${mb(r.workerPeakDuring)} meanwhile.`,
    );
    const workerCores = r.cpu.byProcess['rollout worker'];
    const deployments = r.everyService.latencies.length;
    out.push(
      `  cores over those ${r.seconds.toFixed(1)} s: ${cores(r.cpu)}${workerCores === undefined || deployments === 0 ? '' : `; the worker's CPU per deployment ${((workerCores * r.seconds * 1000) / deployments).toFixed(2)} ms`}`,
    );
    out.push('');
  }
  for (const g of goals) out.push(`${g.result} ${g.name}: ${g.detail}`);
  const warnings = [...controlPlaneLog.entries()].sort((a, b) => b[1].count - a[1].count);
  if (warnings.length) {
    out.push('');
    out.push('Control plane warnings and errors (count: message, e.g. the first detail):');
    for (const [message, { count, example }] of warnings.slice(0, 10)) out.push(`  ${count}: ${message}${example ? ` (${example})` : ''}`);
  }
  const load = os.loadavg();
  out.push('');
  out.push(`Machine: ${os.cpus().length} vCPUs (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 1024 ** 3).toFixed(1)} GB, Node ${process.version}; load average at the end ${load.map((l) => l.toFixed(2)).join(' ')}; commit ${gitRevision(ROOT) ?? '?'}`);
  process.stdout.write(`${out.join('\n')}\n`);

  mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  const file = path.join(ROOT, 'bench/results', `scale-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      { measuredAt: new Date().toISOString(), commit: gitRevision(ROOT), settings: { ...SETTINGS, databaseUrl: undefined }, table, bulk, graphqlSeedSeconds, started, sequential, sustained, sustainedCpu, reconnect, memory: { settledControlPlane, peakControlPlaneRss: run.controlPlanePeakRss, realProxyRss, realProxyRssAfter, proxyPeak, workerMemory, rolloutWorkerPeakRss: workerRss.peak }, realProxy: { freshStatus, seededStatus, unknownStatus, readyMs }, rollouts, goals },
      null,
      2,
    ),
  );
  log(`written ${file}`);
  await stop(0);
}

main().catch(async (error: unknown) => {
  console.error(error);
  process.exitCode = 1;
  process.kill(process.pid, 'SIGTERM');
});
