// `npm run bench:streams`: one Tokengate proxy holding many long SSE streams at once (issue 12, item 5).
// A fake OpenAI upstream streams one chat.completion.chunk every 100 ms for a minute per stream; a few
// stream-holder processes open STREAMS_N streams (default 10,000) through the proxy over a short ramp
// and check every chunk of every stream; a probe process times new short requests (JSON and SSE) every
// 100 ms, idle first, then while every stream is open. Every second the proxy's RSS, its open files and
// the CPU of every party are sampled. Reported: completed / failed / stalled streams, the longest gap
// per stream, first-byte latency of new requests, peak RSS, and the goal "proxy RSS ≤ 1 GB with 10,000
// streams, none stalled".
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BenchConfigError, type Env, loadBenchConfig, positiveNumber } from './bench-config';
import type { ChildProcessGroup, ManagedChild } from './child-processes';
import { type CpuSnapshot, cpuUseBetween, takeCpuSnapshot } from './cpu-usage';
import { gitRevision, runBenchmark } from './run';
import { H2C_STREAMS_PER_SESSION, type StreamsClientProgress, type StreamsClientResult, type StreamsClientSpec, type StreamsProtocol } from './streams-client';
import type { StreamsProbeResult, StreamsProbeSpec } from './streams-probe';
import { type PhaseBounds, type SecondSample, evaluateGoal, mib, renderStreamsTable, summarizeStreams } from './streams-report';
import type { UpstreamStats } from './streams-upstream';
import { STREAMS_UPSTREAM_PATH } from './streams-wire';
import { TokengateStack, proxyProfileFlags } from './tokengate-stack';

const log = (message: string): void => {
  process.stderr.write(`${message}\n`);
};

export interface StreamsConfig {
  /** Concurrent streams (STREAMS_N). */
  readonly streams: number;
  /** Length of each stream, seconds (STREAMS_DURATION_S). */
  readonly durationS: number;
  /** Between two chunks of a stream, ms (STREAMS_INTERVAL_MS). */
  readonly intervalMs: number;
  /** Seconds over which the streams are opened (STREAMS_RAMP_S). */
  readonly rampS: number;
  /** A stream with no event for this long stalled (STREAMS_STALL_MS). */
  readonly stallMs: number;
  /** Stream-holder processes (STREAMS_CLIENTS). */
  readonly clients: number;
  /** Seconds of probing the idle proxy before the ramp (STREAMS_IDLE_S). */
  readonly idleS: number;
  /** The clients ask for `stream_options.include_usage` themselves (STREAMS_INCLUDE_USAGE=1); by default the proxy adds it and hides the usage chunk, as for an SDK that does not ask. */
  readonly includeUsage: boolean;
  /** Seconds between the last stream's end and the `after` RSS reading (STREAMS_AFTER_S); the proxy stays up meanwhile. */
  readonly afterS: number;
  /** How the holders reach the proxy (STREAMS_PROTOCOL): `http1`, one connection per stream, or `h2c`, up to 1,000 streams per HTTP/2 session. */
  readonly protocol: StreamsProtocol;
  /** What the streams go through (STREAMS_TARGET): `tokengate`, or `passthrough` (bench/passthrough-proxy.ts, the floor of one Node process). */
  readonly target: 'tokengate' | 'passthrough';
  readonly databaseUrl: string;
  readonly redisUrl: string;
}

export function loadStreamsConfig(env: Env = process.env): StreamsConfig {
  const { redisUrl } = loadBenchConfig(env);
  const intervalMs = positiveNumber(env, 'STREAMS_INTERVAL_MS', 100, true, 5);
  const target = env.STREAMS_TARGET || 'tokengate';
  if (target !== 'tokengate' && target !== 'passthrough') throw new BenchConfigError(`STREAMS_TARGET must be tokengate or passthrough, got "${target}"`);
  const protocol = env.STREAMS_PROTOCOL || 'http1';
  if (protocol !== 'http1' && protocol !== 'h2c') throw new BenchConfigError(`STREAMS_PROTOCOL must be http1 or h2c, got "${protocol}"`);
  if (protocol === 'h2c' && target === 'passthrough') throw new BenchConfigError('STREAMS_PROTOCOL=h2c needs STREAMS_TARGET=tokengate: the passthrough proxy speaks HTTP/1.1 only');
  return {
    streams: positiveNumber(env, 'STREAMS_N', 10_000, true, 1),
    durationS: positiveNumber(env, 'STREAMS_DURATION_S', 60, false, intervalMs / 1000),
    intervalMs,
    rampS: positiveNumber(env, 'STREAMS_RAMP_S', 5, false, 0),
    stallMs: positiveNumber(env, 'STREAMS_STALL_MS', 2000, true, 1),
    clients: positiveNumber(env, 'STREAMS_CLIENTS', 2, true, 1),
    idleS: positiveNumber(env, 'STREAMS_IDLE_S', 3, false, 0),
    includeUsage: ['1', 'true'].includes(env.STREAMS_INCLUDE_USAGE ?? ''),
    protocol,
    target,
    afterS: positiveNumber(env, 'STREAMS_AFTER_S', 3, false, 0),
    // Its own scratch database by default, so that it can run beside the other benchmarks.
    databaseUrl: env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/tokengate_bench_streams',
    redisUrl,
  };
}

const UPSTREAM_PROCESS = 'streams upstream';
const PROBE_PROCESS = 'streams probe';
/** Files a process opens beside its sockets (stdio, epoll, the libuv pool, gRPC, Redis, logs). */
const FD_MARGIN = 100;
/** How long past the last stream's scheduled end the holders wait before cutting what is left. */
const GRACE_MS = 30_000;
const METRICS_EVERY_MS = 5000;

// ── /proc readers (Linux; null elsewhere) ──────────────────────────────────────────────────────────
function procText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** VmRSS in bytes. */
function rssBytes(pid: number): number | null {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(procText(`/proc/${pid}/status`) ?? '');
  return match === null ? null : Number(match[1]) * 1024;
}

function openFiles(pid: number): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

interface FileLimit {
  readonly soft: number;
  readonly hard: number;
}

function fileLimit(pid: number): FileLimit | null {
  const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(procText(`/proc/${pid}/limits`) ?? '');
  if (match === null) return null;
  const value = (text: string): number => (text === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(text));
  return { soft: value(match[1]), hard: value(match[2]) };
}

/** CPU pressure (PSI): the share of the last 10 s in which some runnable task waited for a CPU, %. */
function cpuPressure(): number | null {
  const match = /^some avg10=([0-9.]+)/m.exec(procText('/proc/pressure/cpu') ?? '');
  return match === null ? null : Number(match[1]);
}

/** TcpExt ListenOverflows of this network namespace: connections dropped because an accept queue was full. */
function listenOverflows(): number | null {
  const lines = (procText('/proc/net/netstat') ?? '').split('\n').filter((line) => line.startsWith('TcpExt:'));
  if (lines.length < 2) return null;
  const names = lines[0].split(/\s+/);
  const values = lines[1].split(/\s+/);
  const at = names.indexOf('ListenOverflows');
  return at === -1 ? null : Number(values[at]);
}

/** Connections waiting to be accepted on a 127.0.0.1 listening port: for a LISTEN socket, /proc/net/tcp's rx_queue. */
function acceptQueue(port: number): number | null {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of (procText('/proc/net/tcp') ?? '').split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === local && fields[3] === '0A') return Number.parseInt(fields[4].split(':')[1], 16);
  }
  return null;
}

/** The listen backlog of a port (ss's Send-Q for a listening socket); null without ss. */
function listenBacklog(port: number): number | null {
  try {
    const out = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const fields = out.trim().split(/\s+/);
    return fields.length > 2 ? Number(fields[2]) : null;
  } catch {
    return null;
  }
}

export interface FileLimitCheck {
  readonly process: string;
  readonly needs: number;
  readonly before: FileLimit | null;
  readonly after: FileLimit | null;
  /** Null when the limit was enough (or was raised enough). */
  readonly warning: string | null;
}

/**
 * A process that will hold `needs` files: raises its soft limit (prlimit, to its hard limit or to `needs`
 * when it may raise the hard one) when it is too low, and says so when it cannot be raised enough.
 */
function ensureFileLimit(name: string, pid: number | undefined, needs: number): FileLimitCheck {
  if (pid === undefined) return { process: name, needs, before: null, after: null, warning: null };
  const before = fileLimit(pid);
  if (before === null || before.soft >= needs) return { process: name, needs, before, after: before, warning: null };
  const attempts = [`--nofile=${needs}:${Math.max(needs, before.hard)}`, ...(before.hard > before.soft ? [`--nofile=${before.hard}:${before.hard}`] : [])];
  let refusal = '';
  for (const attempt of attempts) {
    try {
      execFileSync('prlimit', ['--pid', String(pid), attempt], { stdio: ['ignore', 'ignore', 'pipe'] });
      break;
    } catch (error) {
      refusal ||= (error as { stderr?: Buffer }).stderr?.toString().trim() || (error as Error).message;
    }
  }
  const after = fileLimit(pid);
  if (after !== null && after.soft >= needs) return { process: name, needs, before, after, warning: null };
  return {
    process: name,
    needs,
    before,
    after,
    warning:
      `${name} may need ${needs} open files (its sockets + ${FD_MARGIN}) but its limit is ${after?.soft ?? before.soft} (hard ${after?.hard ?? before.hard}) ` +
      `and could not be raised (${refusal || 'prlimit unavailable'}): raise the hard limit (ulimit -Hn, limits.conf, systemd LimitNOFILE, docker --ulimit nofile=…) and run again; streams beyond it fail with EMFILE`,
  };
}

// ── the proxy's own view: prom-client default metrics on /metrics ─────────────────────────────────
export interface ProxyMetricsSample {
  readonly atS: number;
  /** Event-loop delay since the previous scrape (prom-client resets it on each collection). */
  readonly eventLoopLagP99Ms: number | null;
  readonly eventLoopLagMaxMs: number | null;
  readonly heapUsedBytes: number | null;
  readonly heapTotalBytes: number | null;
  readonly externalBytes: number | null;
  readonly activeHandles: number | null;
  readonly scrapeMs: number;
}

async function scrapeProxyMetrics(url: string, atS: number): Promise<ProxyMetricsSample | null> {
  const started = performance.now();
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    const value = (name: string): number | null => {
      const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
      return match === null ? null : Number(match[1]);
    };
    const toMs = (seconds: number | null): number | null => (seconds === null ? null : Math.round(seconds * 1e5) / 100);
    return {
      atS,
      eventLoopLagP99Ms: toMs(value('nodejs_eventloop_lag_p99_seconds')),
      eventLoopLagMaxMs: toMs(value('nodejs_eventloop_lag_max_seconds')),
      heapUsedBytes: value('nodejs_heap_size_used_bytes'),
      heapTotalBytes: value('nodejs_heap_size_total_bytes'),
      externalBytes: value('nodejs_external_memory_bytes'),
      activeHandles: value('nodejs_active_handles_total'),
      scrapeMs: Math.round(performance.now() - started),
    };
  } catch {
    return null;
  }
}

// ── what the proxy logged at warn or above (pino's numeric levels) ───────────────────────────────────
class ProxyWarningTally {
  readonly counts: Record<string, number> = {};
  private partial = '';

  constructor(proxy: ManagedChild) {
    proxy.child.stdout?.on('data', (text: string) => {
      const lines = (this.partial + text).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) this.read(line);
    });
  }

  private read(line: string): void {
    if (!line.startsWith('{')) return;
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; error?: unknown };
      if ((entry.level ?? 0) < 40) return;
      const key = `${entry.msg ?? '?'}${entry.error === undefined ? '' : `: ${String(entry.error)}`}`;
      this.counts[key] = (this.counts[key] ?? 0) + 1;
    } catch {
      // not a log line
    }
  }
}

// ── processes ─────────────────────────────────────────────────────────────────────────────────────
/** Proxy CPU time between two snapshots ÷ events the clients received: what relaying one chunk costs (stream set-up included). */
function proxyCpuPerEventUs(start: CpuSnapshot | null, end: CpuSnapshot | null, proxyName: string, events: number): number | null {
  if (start === null || end === null || events === 0) return null;
  const cores = cpuUseBetween(start, end, os.cpus().length).byProcess[proxyName];
  if (cores === undefined) return null;
  const seconds = Number(end.at - start.at) / 1e9;
  return Math.round(((cores * seconds) / events) * 1e7) / 10;
}

function parseJsonLine<T>(key: string): (line: string) => T | undefined {
  return (line) => {
    try {
      const message = JSON.parse(line) as Record<string, unknown>;
      return key in message ? (message[key] as T) : undefined;
    } catch {
      return undefined;
    }
  };
}

/** Resolves with the first IPC message of `type` from the child, or null when it exits first. */
function nextMessage<T extends { type: string }>(child: ManagedChild, type: T['type'], timeoutMs: number): Promise<T | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(null), timeoutMs);
    const onMessage = (message: unknown): void => {
      if (typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type) finish(message as T);
    };
    const finish = (value: T | null): void => {
      clearTimeout(timer);
      child.child.off('message', onMessage);
      resolve(value);
    };
    child.child.on('message', onMessage);
    void child.exited.then(() => finish(null));
  });
}

/** Until a real request with the consumer key answers 200: the proxy serves a snapshot holding the key. */
async function waitUntilServing(url: string, consumerKey: string, body: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${consumerKey}`, 'content-type': 'application/json' }, body }).then(
      async (r) => {
        await r.arrayBuffer();
        return r.status;
      },
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`the proxy does not serve the new key after 30 s (last status ${status})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function requestBody(stream: boolean, includeUsage: boolean): string {
  return JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'Count slowly, one word at a time.' },
    ],
    ...(stream ? { stream: true } : {}),
    ...(stream && includeUsage ? { stream_options: { include_usage: true } } : {}),
  });
}

/** What the streams go through: a Tokengate proxy, or the plain Node passthrough proxy (the floor). */
interface StreamsTarget {
  readonly url: string;
  readonly processName: string;
  readonly child: ManagedChild;
  readonly chatPath: string;
  /** The key the clients send: the consumer key (Tokengate), or the upstream's own key (passthrough). */
  readonly key: string;
  /** Serves prom-client's /metrics (event-loop lag, heap). */
  readonly hasMetrics: boolean;
}

async function startTarget(config: StreamsConfig, processes: ChildProcessGroup, repositoryRoot: string, upstreamOrigin: string, apiKey: string): Promise<StreamsTarget> {
  if (config.target === 'passthrough') {
    const child = processes.start({ name: 'passthrough proxy', command: process.execPath, args: [...proxyProfileFlags(), path.join(__dirname, 'passthrough-proxy.js'), '--upstream', upstreamOrigin], ipc: true });
    const port = await child.waitForLine(parseJsonLine<number>('listening'), 10_000);
    log(`${child.name}: http://127.0.0.1:${port}`);
    return { url: `http://127.0.0.1:${port}`, processName: child.name, child, chatPath: STREAMS_UPSTREAM_PATH, key: apiKey, hasMetrics: false };
  }
  const stack = await TokengateStack.start({ repositoryRoot, databaseUrl: config.databaseUrl, redisUrl: config.redisUrl, processes, log });
  const service = await stack.registerService({ contextPath: '/streams', serviceUrl: `${upstreamOrigin}/v1`, providerApiKey: apiKey });
  const proxy = await stack.proxy();
  return { url: proxy.url, processName: proxy.processName, child: proxy.child, chatPath: new URL(`${service.endpoint(proxy.url)}/chat/completions`).pathname, key: service.consumerKey, hasMetrics: true };
}

async function streamsBenchmark(config: StreamsConfig, processes: ChildProcessGroup, repositoryRoot: string): Promise<void> {
  const scriptsDir = __dirname;
  const contentChunks = Math.round((config.durationS * 1000) / config.intervalMs);
  const streamMs = contentChunks * config.intervalMs;
  const rampMs = config.rampS * 1000;

  const apiKey = `sk-bench-${randomBytes(12).toString('hex')}`;
  const upstream = processes.start({
    name: UPSTREAM_PROCESS,
    command: process.execPath,
    args: [path.join(scriptsDir, 'streams-upstream.js'), '--api-key', apiKey, '--chunks', String(contentChunks), '--interval-ms', String(config.intervalMs)],
    ipc: true,
  });
  const upstreamPort = await upstream.waitForLine(parseJsonLine<number>('listening'), 10_000);
  const upstreamOrigin = `http://127.0.0.1:${upstreamPort}`;
  log(`${UPSTREAM_PROCESS}: ${upstreamOrigin}`);

  const proxy = await startTarget(config, processes, repositoryRoot, upstreamOrigin, apiKey);
  const proxyPid = proxy.child.child.pid;
  if (proxyPid === undefined) throw new Error(`${proxy.processName} has no pid`);
  const proxyPort = Number(new URL(proxy.url).port);
  const chatPath = proxy.chatPath;
  const jsonBody = requestBody(false, false);
  await waitUntilServing(`${proxy.url}${chatPath}`, proxy.key, jsonBody);
  const proxyWarnings = new ProxyWarningTally(proxy.child);

  // A socket per stream towards the upstream; towards the holders one per stream (HTTP/1.1) or one per session (h2c).
  const clientSockets = config.protocol === 'h2c' ? Math.ceil(config.streams / H2C_STREAMS_PER_SESSION) + config.clients : config.streams;
  const fileLimits = [
    ensureFileLimit(proxy.processName, proxyPid, config.streams + clientSockets + FD_MARGIN),
    ensureFileLimit(UPSTREAM_PROCESS, upstream.child.pid, config.streams + FD_MARGIN),
  ];
  for (const check of fileLimits) {
    if (check.warning !== null) log(`WARNING: ${check.warning}`);
    else if (check.before !== null && check.after !== null && check.before.soft !== check.after.soft) log(`${check.process}: open-file limit raised from ${check.before.soft} to ${check.after.soft}`);
  }

  // Timeline: probes from now (idle baseline); stream 0 due at startAt; all open from startAt + ramp.
  const startAt = Date.now() + config.idleS * 1000 + 2000;
  const bounds: PhaseBounds = { startAt, rampMs, streamMs };
  // Sampled from here on: the seconds before startAt are the idle baseline.
  const progress: Array<StreamsClientProgress | null> = Array.from({ length: config.clients }, () => null);
  const overflowsBefore = listenOverflows();
  const proxyBacklog = listenBacklog(proxyPort);
  const seconds: SecondSample[] = [];
  const metrics: ProxyMetricsSample[] = [];
  let previous: CpuSnapshot = takeCpuSnapshot(processes.servingProcesses());
  /** From the first sample at or after startAt to the end of the last stream: the proxy's CPU per relayed event. */
  let cpuAtStart: CpuSnapshot | null = null;
  let cpuAtEnd: CpuSnapshot | null = null;
  const atS = (): number => Math.round((Date.now() - startAt) / 100) / 10;
  const sampler = setInterval(() => {
    const now = takeCpuSnapshot(processes.servingProcesses());
    const cpu = cpuUseBetween(previous, now, os.cpus().length);
    previous = now;
    const sum = (pick: (p: StreamsClientProgress) => number): number => progress.reduce((n, p) => n + (p === null ? 0 : pick(p)), 0);
    const sample: SecondSample = {
      atS: atS(),
      proxyRssBytes: rssBytes(proxyPid),
      proxyFds: openFiles(proxyPid),
      proxyAcceptQueue: acceptQueue(proxyPort),
      cpuPressure: cpuPressure(),
      cpu,
      opened: sum((p) => p.opened),
      open: sum((p) => p.open),
      completed: sum((p) => p.completed),
      failed: sum((p) => p.failed),
      stalledNow: sum((p) => p.stalledNow),
    };
    seconds.push(sample);
    if (cpuAtStart === null && sample.atS >= 0) cpuAtStart = now;
    if (seconds.length % 5 === 0) {
      log(
        `  ${sample.atS.toFixed(0).padStart(4)} s: open ${sample.open}, completed ${sample.completed}, failed ${sample.failed}, stalled now ${sample.stalledNow}; ` +
          `proxy RSS ${mib(sample.proxyRssBytes)}, ${sample.proxyFds ?? '—'} files, ${cpu.byProcess[proxy.processName]?.toFixed(2) ?? '—'} cores`,
      );
    }
  }, 1000);
  let scraping = false;
  const scraper = setInterval(() => {
    if (scraping || !proxy.hasMetrics) return;
    scraping = true;
    void scrapeProxyMetrics(proxy.url, atS())
      .then((sample) => {
        if (sample !== null) metrics.push(sample);
      })
      .finally(() => (scraping = false));
  }, METRICS_EVERY_MS);

  const deadlineAt = startAt + rampMs + streamMs + GRACE_MS;
  const probeSpec: StreamsProbeSpec = { origin: proxy.url, path: chatPath, consumerKey: proxy.key, jsonBody, sseBody: requestBody(true, false), everyMs: 100, until: startAt + rampMs + streamMs + 5000 };
  const probe = processes.start({ name: PROBE_PROCESS, command: process.execPath, args: [path.join(scriptsDir, 'streams-probe.js'), JSON.stringify(probeSpec)], ipc: true });
  const probeResult = nextMessage<StreamsProbeResult>(probe, 'result', deadlineAt - Date.now() + 60_000);

  const holders = Array.from({ length: config.clients }, (_, c) => {
    const spec: StreamsClientSpec = {
      origin: proxy.url,
      path: chatPath,
      consumerKey: proxy.key,
      body: requestBody(true, config.includeUsage),
      expectUsage: config.includeUsage,
      contentChunks,
      offset: c,
      stride: config.clients,
      total: config.streams,
      startAt,
      rampMs,
      stallMs: config.stallMs,
      deadlineAt,
      protocol: config.protocol,
    };
    const child = processes.start({ name: `streams client ${c + 1}`, command: process.execPath, args: [path.join(scriptsDir, 'streams-client.js'), JSON.stringify(spec)], ipc: true });
    const holds = Math.ceil(config.streams / config.clients);
    fileLimits.push(ensureFileLimit(child.name, child.child.pid, (config.protocol === 'h2c' ? Math.ceil(holds / H2C_STREAMS_PER_SESSION) : holds) + FD_MARGIN));
    return { child, result: nextMessage<StreamsClientResult>(child, 'result', deadlineAt - Date.now() + 60_000) };
  });
  holders.forEach(({ child }, c) =>
    child.child.on('message', (message: { type?: string }) => {
      if (message.type === 'progress') progress[c] = message as StreamsClientProgress;
    }),
  );
  log(
    `${config.streams} streams of ${contentChunks} chunks every ${config.intervalMs} ms (${streamMs / 1000} s) through ${proxy.url}, ` +
      `opened over ${config.rampS} s by ${config.clients} clients (${config.protocol === 'h2c' ? 'h2c, up to 1,000 streams per session' : 'HTTP/1.1, a connection per stream'}); idle probing for ${config.idleS} s first`,
  );

  let clients: StreamsClientResult[];
  let probes: StreamsProbeResult | null;
  try {
    const results = await Promise.all(holders.map((h) => h.result));
    const missing = results.flatMap((r, c) => (r === null ? [holders[c].child] : []));
    if (missing.length > 0) throw new Error(`${missing.map((m) => m.name).join(', ')} ended without a result: ${missing.map((m) => m.outputTail()).join('\n')}`);
    clients = results as StreamsClientResult[];
    cpuAtEnd = takeCpuSnapshot(processes.servingProcesses());
    probes = await probeResult;
    // The proxy once the streams are over: what it gave back.
    log(`streams over; the proxy's RSS is read again in ${config.afterS} s`);
    await new Promise((resolve) => setTimeout(resolve, config.afterS * 1000));
  } finally {
    clearInterval(sampler);
    clearInterval(scraper);
  }
  const afterRss = rssBytes(proxyPid);
  const afterMetrics = proxy.hasMetrics ? await scrapeProxyMetrics(proxy.url, atS()) : null;
  if (afterMetrics !== null) metrics.push(afterMetrics);
  const overflowsAfter = listenOverflows();
  upstream.child.send({ type: 'stats' });
  const upstreamStats = (await nextMessage<{ type: 'stats'; stats: UpstreamStats }>(upstream, 'stats', 5000))?.stats ?? null;

  const summary = summarizeStreams(config.streams, clients, probes?.samples ?? [], seconds, bounds, afterRss, proxy.processName, config.protocol === 'h2c' ? 1 : 2);
  const proxyCpuPerEvent = proxyCpuPerEventUs(cpuAtStart, cpuAtEnd, proxy.processName, clients.reduce((n, c) => n + c.events, 0));
  const goal = evaluateGoal(summary, config.target);
  const cpus = os.cpus();
  const revision = gitRevision(repositoryRoot);
  const startedAt = new Date(startAt - config.idleS * 1000 - 2000);
  const listenOverflowsDelta = overflowsBefore === null || overflowsAfter === null ? null : overflowsAfter - overflowsBefore;
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: 'npm run bench:streams',
    revision,
    settings: {
      STREAMS_N: config.streams,
      STREAMS_DURATION_S: config.durationS,
      STREAMS_INTERVAL_MS: config.intervalMs,
      STREAMS_RAMP_S: config.rampS,
      STREAMS_STALL_MS: config.stallMs,
      STREAMS_CLIENTS: config.clients,
      STREAMS_IDLE_S: config.idleS,
      STREAMS_INCLUDE_USAGE: config.includeUsage,
      STREAMS_TARGET: config.target,
      STREAMS_PROTOCOL: config.protocol,
      STREAMS_AFTER_S: config.afterS,
      contentChunksPerStream: contentChunks,
    },
    machine: { cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', memoryBytes: os.totalmem(), platform: `${os.platform()} ${os.release()}`, node: process.version, loadAverage: os.loadavg() },
    phases: { startAt: new Date(startAt).toISOString(), rampMs, streamMs, note: 'idle: before startAt; ramp: streams opening; full: every stream open; after: streams ending' },
    fileLimits,
    listenOverflows: listenOverflowsDelta,
    proxyBacklog,
    summary,
    goal,
    proxyCpuPerEventUs: proxyCpuPerEvent,
    proxyWarnings: proxyWarnings.counts,
    upstream: upstreamStats,
    clients: clients.map(({ maxGapsMs: _gaps, firstEventMs: _first, ...rest }) => rest),
    perStream: { maxGapsMs: clients.flatMap((c) => c.maxGapsMs), firstEventMs: clients.flatMap((c) => c.firstEventMs) },
    probes: { skipped: probes?.skipped ?? null, samples: probes?.samples ?? [] },
    proxyMetrics: metrics,
    seconds,
  };
  const resultsDir = path.join(repositoryRoot, 'bench', 'results');
  await mkdir(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `streams-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);

  const fdWarnings = fileLimits.filter((f) => f.warning !== null);
  const proxyLimit = fileLimits[0].after ?? fileLimits[0].before;
  const fdNote = `limit ${proxyLimit?.soft ?? '—'}, needs ~${fileLimits[0].needs}${fdWarnings.length > 0 ? ` — WARNING: ${fdWarnings.map((f) => f.process).join(', ')} below need` : ''}`;
  const loadAverage = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  process.stdout.write(
    `${renderStreamsTable({
      summary,
      goal,
      upstream: upstreamStats,
      clients,
      fdNote,
      listenOverflows: listenOverflowsDelta,
      proxyBacklog,
      proxyCpuPerEventUs: proxyCpuPerEvent,
      eventsPerSecond: Math.round((config.streams * 1000) / config.intervalMs),
      proxyWarnings: proxyWarnings.counts,
      heading: [
        '',
        `Long streams through ${config.target === 'tokengate' ? 'Tokengate' : 'the passthrough proxy (STREAMS_TARGET=passthrough)'}${revision === null ? '' : ` at ${revision}`} — ${cpus.length} CPUs (${cpus[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, load average ${loadAverage}`,
        `${config.streams} streams × ${contentChunks} chunks every ${config.intervalMs} ms, ramp ${config.rampS} s, ${config.clients} clients over ${config.protocol === 'h2c' ? 'h2c' : 'HTTP/1.1'}, stall = no event for ${config.stallMs} ms; ` +
          `usage chunk ${config.includeUsage ? 'asked for by the clients' : config.target === 'tokengate' ? 'added and hidden by the proxy' : 'not asked for'}`,
      ].join('\n'),
      resultFile: path.relative(process.cwd(), file) || file,
    })}\n`,
  );
  for (const f of fdWarnings) process.stdout.write(`WARNING: ${f.warning}\n`);
  if (goal.status === 'FAIL') process.exitCode = 1;
}

if (require.main === module) {
  runBenchmark((processes, _workDir, repositoryRoot) => streamsBenchmark(loadStreamsConfig(), processes, repositoryRoot));
}
