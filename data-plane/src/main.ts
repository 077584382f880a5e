// Wires one data-plane proxy: config stream → snapshot holder → request handler → listener.
// startDataPlane() is what tests and the `tokengate data-plane` command both use.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { parseDataPlaneCliOptions, DATA_PLANE_USAGE, DataPlaneCliUsageError } from './cli-options';
import { ConfigStreamClient, type ConfigStreamEvent, type ConfigStreamTlsOptions } from './config-stream/config-stream-client';
import type { BackoffOptions } from './config-stream/reconnect-backoff';
import { DataPlaneMetrics } from './observability/data-plane-metrics';
import { createLogger } from './observability/logger';
import { OperationalEndpoints } from './proxy/operational-endpoints';
import { ProxyListener } from './proxy/proxy-listener';
import { ProxyRequestHandler } from './proxy/proxy-request-handler';
import type { ProxyRequest, ProxyResponse } from './proxy/proxy-types';
import { locateUpward } from './runtime/locate-upward';
import type { CompiledSnapshot } from './snapshot/compiled-snapshot';
import { SnapshotCompiler } from './snapshot/snapshot-compiler';
import { SnapshotHolder } from './snapshot/snapshot-holder';
import { UpstreamAgentPool, type UpstreamAgentOptions } from './snapshot/upstream-target';
import { type DegradedMode, TokenBudget } from './rate-limit/token-budget';
import { TokenCounter } from './tokens/token-counter';
import type { MeterDependencies } from './usage/request-meter';
import { UsageDelivery } from './usage/usage-delivery';
import { UsageReporter } from './usage/usage-reporter';
import { UsageSpool } from './usage/usage-spool';
import { ResponseCharges } from './usage/response-charges';

export interface ControlPlaneConnectionOptions {
  /** host:port of the gRPC config service. */
  readonly address: string;
  /** TOKENGATE_DATAPLANE_TOKEN. */
  readonly token?: string;
  /** Absent: plaintext channel. */
  readonly tls?: ConfigStreamTlsOptions;
  readonly backoff?: BackoffOptions;
}

export interface DataPlaneOptions {
  /** Handle of the one environment this proxy serves. */
  readonly environment: string;
  /** null: no config stream (tests swap compiled snapshots into `holder` themselves). */
  readonly controlPlane: ControlPlaneConnectionOptions | null;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 8080; 0 picks a free port (see handle.url). */
  readonly port?: number;
  /** PEM certificate chain and key: serve HTTPS. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  /** Default `<hostname>-<pid>-<random>`. */
  readonly proxyId?: string;
  /** Reported in Hello; default: package.json's version. */
  readonly version?: string;
  /** Default 10 MiB. */
  readonly maxBodyBytes?: number;
  /** Time from sending upstream to the response headers; default 60 s. */
  readonly upstreamHeadersTimeoutMs?: number;
  /** Longest silence inside an upstream response body; default 120 s. */
  readonly upstreamIdleTimeoutMs?: number;
  /** Realtime sessions: a side silent this long is pinged, and cut when it answers nothing for twice as long again; default 30 s. */
  readonly realtimeKeepaliveMs?: number;
  /** How long close() lets in-flight exchanges finish; default 30 s. */
  readonly shutdownGraceMs?: number;
  readonly keepAliveTimeoutMs?: number;
  /** Connections the kernel queues before the proxy accepts them; default 4096 (the kernel caps it at net.core.somaxconn). */
  readonly listenBacklog?: number;
  readonly upstreamAgents?: UpstreamAgentOptions;
  /**
   * One info log line per proxied request. Default false: it costs ~15% of throughput in the passthrough
   * benchmark, and metrics already count every request.
   */
  readonly accessLog?: boolean;
  /** Default: JSON to stdout at info. */
  readonly logger?: Logger;
  /** Node process metrics on /metrics; default false. */
  readonly collectProcessMetrics?: boolean;
  /** Path of config.proto; default: found by walking up from this file. */
  readonly protoPath?: string;
  /**
   * Token budgets (and the Redis spool that keeps unacknowledged usage batches); null: no Redis, limits
   * are not enforced, usage is still metered and reported (batches then wait in memory only).
   */
  readonly rateLimiting?: RateLimitingOptions | null;
  /** How often usage is reported to the control plane; default 1000 ms (what a crash can lose). */
  readonly usageReportIntervalMs?: number;
  /** Spooled usage batches at least this old are re-sent by any proxy that reaches the control plane; default 30 s. */
  readonly usageOrphanAgeMs?: number;
  /** Models with their own metric label (the rest are `other`); default: the first 20 seen. */
  readonly metricModels?: readonly string[];
  /** Observes the config stream (connected, disconnected, applied, rejected). */
  readonly onConfigStreamEvent?: (event: ConfigStreamEvent) => void;
}

/** How long close() waits, after the grace period, for the exchanges it cut to be counted and recorded. */
const CUT_EXCHANGES_SETTLE_MS = 5_000;

/** Default grace period for requests in flight on close() (SIGTERM). */
export const DEFAULT_SHUTDOWN_GRACE_MS = 30_000;

/**
 * The longest a proxy's close() takes before its usage is recorded: the grace period, then the
 * settling of the exchanges it cut. A supervisor must wait at least this long before killing it.
 */
export function shutdownDurationMs(shutdownGraceMs = DEFAULT_SHUTDOWN_GRACE_MS): number {
  return shutdownGraceMs + CUT_EXCHANGES_SETTLE_MS;
}

/** How long start-up waits for the rate limiter's Redis connection before listening anyway. */
const REDIS_CONNECT_WAIT_MS = 2000;

export interface RateLimitingOptions {
  /** One Redis (redis://…) or a Redis Cluster (redis+cluster://host:port,…; ADR 008). Default redis://127.0.0.1:6379. */
  readonly redisUrl?: string;
  /** Prefix of the rate-limit keys (the control plane's TOKENGATE_REDIS_NAMESPACE); default `tokengate`. */
  readonly redisNamespace?: string;
  /** Longest wait for Redis on the request path; default 50 ms. */
  readonly redisTimeoutMs?: number;
  /** What is admitted while Redis is away (ADR 011); default 'lease'. */
  readonly degradedMode?: DegradedMode;
  /** lease mode: share of each enforced budget one proxy holds as its lease; default 0.05. */
  readonly leaseShare?: number;
  /** lease mode: the most of each budget all proxies' leases hold together; default 0.2. */
  readonly leaseCap?: number;
  /** fail-open mode: share of each budget this proxy may use alone while Redis is away; default 0.5. */
  readonly localShare?: number;
  /** Completion tokens reserved when a request sets no limit; default 256. */
  readonly defaultCompletionTokens?: number;
  /** Same as DataPlaneOptions.usageReportIntervalMs (kept for existing callers). */
  readonly usageReportIntervalMs?: number;
  /** Wall clock for window boundaries (tests pin it so no window rolls over mid-test). */
  readonly clock?: () => number;
}

export interface DataPlaneHandle {
  /** Base URL of the listener, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  readonly port: number;
  readonly proxyId: string;
  readonly holder: SnapshotHolder;
  readonly metrics: DataPlaneMetrics;
  /** null when started with controlPlane: null. */
  readonly configStream: ConfigStreamClient | null;
  /** Builds CompiledSnapshots for this proxy's environment (what the config stream uses). */
  readonly compiler: SnapshotCompiler;
  /** Resolves once a snapshot with at least this revision is being served. */
  waitForRevision(revision: bigint): Promise<void>;
  /** Stops accepting, lets in-flight exchanges finish (up to the grace period), closes everything. Idempotent. */
  close(): Promise<void>;
}

export const DEFAULT_PROXY_PORT = 8080;
/**
 * 32 MiB: Anthropic's limit for a Messages request (PDFs and images inline) and above OpenAI's 25 MB
 * audio files, so the providers' own limits answer first; JSON bodies are held whole for counting.
 */
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

export async function startDataPlane(options: DataPlaneOptions): Promise<DataPlaneHandle> {
  const logger = options.logger ?? createLogger();
  const proxyId = options.proxyId ?? defaultProxyId();
  const version = options.version ?? packageVersion();
  const holder = new SnapshotHolder();
  const metrics = new DataPlaneMetrics({ collectProcessMetrics: options.collectProcessMetrics, environment: options.environment, metricModels: options.metricModels });
  const agentPool = new UpstreamAgentPool(options.upstreamAgents);
  const compiler = new SnapshotCompiler({ environment: options.environment, agentPool });

  let servicesSeen: CompiledSnapshot['services'] | null = null;
  holder.onSwap((snapshot) => {
    metrics.setSnapshotRevision(snapshot.revision);
    // A delta of keys alone keeps the services map (snapshot-compiler.ts): the upstreams are the same.
    if (snapshot.services === servicesSeen) return;
    servicesSeen = snapshot.services;
    const origins = new Set<string>();
    for (const service of snapshot.services.values()) origins.add(service.upstream.origin);
    agentPool.retainOnly(origins);
  });

  const rateLimiting = options.rateLimiting === undefined ? {} : options.rateLimiting;
  let budget: TokenBudget | null = null;
  let spool: UsageSpool | null = null;
  let responseCharges: ResponseCharges | null = null;
  if (rateLimiting !== null) {
    const redisUrl = rateLimiting.redisUrl ?? 'redis://127.0.0.1:6379';
    budget = new TokenBudget({
      redisUrl,
      keyPrefix: rateLimiting.redisNamespace,
      environment: options.environment,
      proxyId,
      commandTimeoutMs: rateLimiting.redisTimeoutMs,
      degradedMode: rateLimiting.degradedMode,
      leaseShare: rateLimiting.leaseShare,
      leaseCap: rateLimiting.leaseCap,
      localShare: rateLimiting.localShare,
      logger,
      onDegradedChange: (degraded) => metrics.setRateLimitDegraded(degraded),
      now: rateLimiting.clock,
    });
    // Without a control plane nobody would ever acknowledge a batch: nothing is spooled.
    if (options.controlPlane !== null) spool = new UsageSpool({ redisUrl, keyPrefix: rateLimiting.redisNamespace, environment: options.environment, proxyId, logger });
    responseCharges = new ResponseCharges({ redisUrl, keyPrefix: rateLimiting.redisNamespace, environment: options.environment, logger });
  }
  // Every request is metered; the tokenizer is needed only when a provider reports no usage (or a
  // budget needs an exact count), so without budgets its worker starts at the first count.
  const counter = rateLimiting === null ? TokenCounter.startLazily() : TokenCounter.start();
  const delivery = new UsageDelivery({ spool, logger, orphanAgeMs: options.usageOrphanAgeMs });
  const reporter = new UsageReporter({
    deliver: (batch) => delivery.deliver(batch),
    proxyId,
    intervalMs: options.usageReportIntervalMs ?? rateLimiting?.usageReportIntervalMs,
  });
  const metering: MeterDependencies = {
    budget,
    counter,
    reporter,
    responseCharges,
    defaultCompletionTokens: rateLimiting?.defaultCompletionTokens ?? 256,
    logger,
    onRefusal: (serviceId, budget, dimension) => metrics.countRateLimitRefusal(serviceId, budget, dimension),
    onWouldHaveRefused: (serviceId, budget, dimension) => metrics.countWouldHaveRefused(serviceId, budget, dimension),
    now: rateLimiting?.clock,
  };
  if (rateLimiting !== null) {
    // Encoders are built (in the counter's worker) as soon as a snapshot has services to meter.
    holder.onSwap((snapshot) => {
      if (snapshot.services.size === 0) return;
      // A warm-up cut short by shutdown (Ctrl-C soon after start) is no failure worth a warning.
      counter.warm().catch((error: unknown) => {
        if (!counter.isClosed) logger.warn({ err: (error as Error).message }, 'warming the tokenizer failed');
      });
    });
  }

  const handler = new ProxyRequestHandler({
    holder,
    metrics,
    logger,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    upstreamHeadersTimeoutMs: options.upstreamHeadersTimeoutMs ?? 60_000,
    upstreamIdleTimeoutMs: options.upstreamIdleTimeoutMs ?? 120_000,
    realtimeKeepaliveMs: options.realtimeKeepaliveMs ?? 30_000,
    accessLog: options.accessLog ?? false,
    metering,
    upstreamCa: options.upstreamAgents?.ca,
  });
  const operational = new OperationalEndpoints(holder, metrics);
  const listener = new ProxyListener({
    host: options.host ?? '127.0.0.1',
    port: options.port ?? DEFAULT_PROXY_PORT,
    tls: options.tls,
    logger,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs,
    backlog: options.listenBacklog,
    listener: (req: ProxyRequest, res: ProxyResponse) => {
      const url = req.url ?? '';
      const queryStart = url.indexOf('?');
      const path = queryStart < 0 ? url : url.slice(0, queryStart);
      if (path.length <= 8 && operational.handle(path, res)) return;
      handler.handle(req, res, path, queryStart < 0 ? '' : url.slice(queryStart));
    },
    upgradeListener: (req, socket, head) => {
      const url = req.url ?? '';
      const queryStart = url.indexOf('?');
      handler.handleUpgrade(req, socket, head, queryStart < 0 ? url : url.slice(0, queryStart), queryStart < 0 ? '' : url.slice(queryStart));
    },
  });

  if (budget !== null && !(await budget.whenConnected(REDIS_CONNECT_WAIT_MS))) {
    logger.warn({ waitedMs: REDIS_CONNECT_WAIT_MS }, 'Redis not reachable at start-up: serving rate-limited services on local counters until it is');
  }
  const port = await listener.listen();

  let configStream: ConfigStreamClient | null = null;
  let orphanTimer: NodeJS.Timeout | null = null;
  // No control plane (tests that swap snapshots in themselves): usage batches have nowhere to go.
  if (options.controlPlane === null) delivery.attach(() => undefined);
  else {
    configStream = new ConfigStreamClient({
      address: options.controlPlane.address,
      token: options.controlPlane.token,
      tls: options.controlPlane.tls,
      backoff: options.controlPlane.backoff,
      environment: options.environment,
      proxyId,
      version,
      compiler,
      holder,
      logger,
      protoPath: options.protoPath,
      onUsageAcknowledged: (batchId) => delivery.acknowledged(batchId),
      onEvent: (event) => {
        if (event.type === 'connected') {
          metrics.setControlPlaneConnected(true);
          delivery.adoptOrphans();
        }
        else if (event.type === 'disconnected') metrics.setControlPlaneConnected(false);
        else if (event.type === 'rejected') metrics.countSnapshotRejection();
        options.onConfigStreamEvent?.(event);
      },
    });
    configStream.start();
    const stream = configStream;
    delivery.attach((batch) => stream.sendUsage(batch));
    // Batches left in the spool by proxies that stopped (or that this one dropped) while connected.
    orphanTimer = setInterval(() => {
      if (stream.connected) delivery.adoptOrphans();
    }, 60_000);
    orphanTimer.unref();
  }
  logger.info({ url: listener.url, environment: options.environment, proxyId, version }, 'data-plane proxy listening');

  const shutdownGraceMs = options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      logger.info({ inFlight: handler.inFlightCount, graceMs: shutdownGraceMs }, 'data-plane proxy shutting down');
      handler.startDraining();
      const listenerClosed = listener.close();
      let graceTimer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<void>((resolve) => {
        graceTimer = setTimeout(resolve, shutdownGraceMs);
      });
      await Promise.race([handler.whenIdle(), graceOver]);
      clearTimeout(graceTimer);
      // Whatever is still open is idle (or overstayed the grace period).
      listener.destroyConnections();
      await listenerClosed;
      // Exchanges cut just now (streams that overstayed the grace period) settle from their 'close'
      // events: what they streamed is counted by the token counter and recorded, so the counter and
      // the reporter close only after them (bounded, in case a count never answers).
      let settleTimer: NodeJS.Timeout | undefined;
      const settleOver = new Promise<void>((resolve) => {
        settleTimer = setTimeout(resolve, CUT_EXCHANGES_SETTLE_MS);
      });
      await Promise.race([handler.whenIdle(), settleOver]);
      clearTimeout(settleTimer);
      // Exchanges count as idle once settled, so the last usage is in the reporter: spool it before
      // leaving (with the control plane away, the spool is where it survives this proxy).
      reporter.close();
      await delivery.settled();
      if (orphanTimer !== null) clearInterval(orphanTimer);
      await budget?.close();
      await spool?.close();
      responseCharges?.close();
      await counter.close();
      configStream?.stop();
      metrics.setControlPlaneConnected(false);
      agentPool.destroyAll();
    })();
    return closing;
  };

  const waitForRevision = (revision: bigint): Promise<void> =>
    new Promise((resolve) => {
      if (holder.revision >= revision && holder.current !== null) {
        resolve();
        return;
      }
      const unsubscribe = holder.onSwap((snapshot) => {
        if (snapshot.revision >= revision) {
          unsubscribe();
          resolve();
        }
      });
    });

  return { url: listener.url, port, proxyId, holder, metrics, configStream, compiler, waitForRevision, close };
}

/**
 * `tokengate data-plane [flags]`: starts a proxy from flags and environment variables and shuts it down
 * gracefully on SIGTERM/SIGINT. Resolves with the running proxy; rejects on bad usage.
 */
export async function runDataPlaneCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<DataPlaneHandle | null> {
  let parsed;
  try {
    parsed = parseDataPlaneCliOptions(argv, env, readFileSync);
  } catch (error) {
    if (error instanceof DataPlaneCliUsageError) {
      process.stderr.write(`${error.message}\n\n${DATA_PLANE_USAGE}`);
      process.exitCode = 2;
      return null;
    }
    throw error;
  }
  if (parsed === 'help') {
    process.stdout.write(DATA_PLANE_USAGE);
    return null;
  }
  const logger = createLogger({ level: parsed.logLevel });
  const handle = await startDataPlane({ ...parsed.options, logger, collectProcessMetrics: true });
  const shutdown = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, 'signal received');
    handle.close().then(
      () => logger.flush(() => process.exit(0)),
      (error: unknown) => {
        logger.error({ error: (error as Error).message }, 'shutdown failed');
        logger.flush(() => process.exit(1));
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  return handle;
}

function defaultProxyId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

let cachedVersion: string | undefined;

function packageVersion(): string {
  if (cachedVersion === undefined) {
    try {
      const manifest = JSON.parse(readFileSync(locateUpward('package.json'), 'utf8')) as { version?: unknown };
      cachedVersion = typeof manifest.version === 'string' ? manifest.version : '0.0.0';
    } catch {
      cachedVersion = '0.0.0';
    }
  }
  return cachedVersion;
}

if (require.main === module) {
  runDataPlaneCli(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`tokengate data-plane: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
