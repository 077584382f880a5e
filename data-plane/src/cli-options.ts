// Flags and environment variables of `tokengate data-plane`. A flag wins over its variable.
import type { DataPlaneOptions } from './main';
import { parseRedisUrl, RedisUrlError } from './redis/redis-connection';
import { DEFAULT_UPSTREAM_AGENT_OPTIONS } from './snapshot/upstream-target';

export const DATA_PLANE_USAGE = `Usage: tokengate data-plane --environment <handle> [options]

  --environment <handle>        environment served (TOKENGATE_ENVIRONMENT), required
  --host <address>              listen address (TOKENGATE_PROXY_HOST), default 127.0.0.1
  --port <port>                 listen port (TOKENGATE_PROXY_PORT), default 8080
  --listen-backlog <n>          connections queued before accept (TOKENGATE_PROXY_LISTEN_BACKLOG), default 4096
  --tls-cert <file>             PEM certificate chain: serve HTTPS (TOKENGATE_PROXY_TLS_CERT)
  --tls-key <file>              PEM private key for --tls-cert (TOKENGATE_PROXY_TLS_KEY)
  --control-plane <host:port>   gRPC config service (TOKENGATE_CONTROL_PLANE_GRPC), default 127.0.0.1:50051
  --control-plane-ca <file>     PEM CA of the control plane: use TLS (TOKENGATE_CONTROL_PLANE_CA)
  --control-plane-cert <file>   PEM client certificate for mutual TLS (TOKENGATE_CONTROL_PLANE_CERT)
  --control-plane-key <file>    PEM client key for mutual TLS (TOKENGATE_CONTROL_PLANE_KEY)
  --proxy-id <id>               identity reported to the control plane (TOKENGATE_PROXY_ID)
  --max-body-bytes <n>          request body limit (TOKENGATE_MAX_BODY_BYTES), default 33554432 (32 MiB)
  --upstream-timeout-ms <n>     time to provider response headers (TOKENGATE_UPSTREAM_TIMEOUT_MS), default 60000
  --upstream-idle-timeout-ms <n> longest provider silence mid-response, a streamed answer's or a Realtime
                                response's (TOKENGATE_UPSTREAM_IDLE_TIMEOUT_MS), default 120000
  --realtime-keepalive-ms <n>   Realtime sessions: ping a side silent this long, close the session when it
                                answers nothing for twice as long again (TOKENGATE_REALTIME_KEEPALIVE_MS), default 30000
  --upstream-ca-file <file>     PEM CA certificates trusted for https providers instead of Node's bundle
                                (TOKENGATE_UPSTREAM_CA_FILE): private endpoints, TLS-inspecting egress
  --shutdown-grace-ms <n>       in-flight grace period on SIGTERM (TOKENGATE_SHUTDOWN_GRACE_MS), default 30000
  --access-log <true|false>     one log line per request (TOKENGATE_ACCESS_LOG), default false
  --redis-url <url>             shared token counters (REDIS_URL), default redis://127.0.0.1:6379;
                                a Redis Cluster: redis+cluster://host:port,host:port,... (rediss+cluster:// for TLS)
  --redis-namespace <prefix>    prefix of the rate-limit and usage-spool keys (TOKENGATE_REDIS_NAMESPACE), default tokengate
  --redis-timeout-ms <n>        longest wait for Redis per request (TOKENGATE_REDIS_TIMEOUT_MS), default 50
  --degraded-budget <mode>      what is admitted while Redis is away (TOKENGATE_DEGRADED_BUDGET), default lease:
                                lease      each proxy spends only its lease, set aside in Redis while it answered:
                                           all proxies together never exceed a budget; no lease, no admission
                                fail-open  each proxy admits up to --local-share of each budget on its own:
                                           up to proxies x share x budget in all
  --lease-share <0-1>           lease mode: share of each enforced budget one proxy holds as its lease
                                (TOKENGATE_BUDGET_LEASE_SHARE), default 0.05; 0: no leases (exact to the last
                                token between proxies, nothing admitted while Redis is away)
  --lease-cap <0-1>             lease mode: most of each budget all proxies' leases hold together, so at most
                                that much is out of reach of a proxy near the end of a window
                                (TOKENGATE_BUDGET_LEASE_CAP), default 0.2
  --local-share <0-1>           fail-open mode: share of each budget used alone while Redis is away
                                (TOKENGATE_RATE_LIMIT_LOCAL_SHARE), default 0.5
  --default-completion-tokens <n> reserved when a request sets no max tokens (TOKENGATE_DEFAULT_COMPLETION_TOKENS), default 256
  --usage-report-interval-ms <n> usage batches to the control plane (TOKENGATE_USAGE_REPORT_INTERVAL_MS), default 1000
  --usage-orphan-age-ms <n>     re-send spooled usage batches at least this old (TOKENGATE_USAGE_ORPHAN_AGE_MS), default 30000
  --metric-models <a,b,...>     models with their own metric label, others are "other" (TOKENGATE_METRIC_MODELS),
                                default: the first 20 models seen
  --log-level <level>           pino level (TOKENGATE_LOG_LEVEL), default info
  --help                        this text

The control-plane token is read from TOKENGATE_DATAPLANE_TOKEN only (never a flag: flags show in ps).
`;

export class DataPlaneCliUsageError extends Error {
  override readonly name = 'DataPlaneCliUsageError';
}

/** Everything but the logger, which the CLI builds from logLevel. */
export type CliDataPlaneOptions = Omit<DataPlaneOptions, 'logger'>;

export interface ParsedDataPlaneCli {
  readonly options: CliDataPlaneOptions;
  readonly logLevel: string;
}

const FLAG_VARIABLES: Readonly<Record<string, string>> = {
  environment: 'TOKENGATE_ENVIRONMENT',
  host: 'TOKENGATE_PROXY_HOST',
  port: 'TOKENGATE_PROXY_PORT',
  'listen-backlog': 'TOKENGATE_PROXY_LISTEN_BACKLOG',
  'tls-cert': 'TOKENGATE_PROXY_TLS_CERT',
  'tls-key': 'TOKENGATE_PROXY_TLS_KEY',
  'control-plane': 'TOKENGATE_CONTROL_PLANE_GRPC',
  'control-plane-ca': 'TOKENGATE_CONTROL_PLANE_CA',
  'control-plane-cert': 'TOKENGATE_CONTROL_PLANE_CERT',
  'control-plane-key': 'TOKENGATE_CONTROL_PLANE_KEY',
  'proxy-id': 'TOKENGATE_PROXY_ID',
  'max-body-bytes': 'TOKENGATE_MAX_BODY_BYTES',
  'upstream-timeout-ms': 'TOKENGATE_UPSTREAM_TIMEOUT_MS',
  'upstream-idle-timeout-ms': 'TOKENGATE_UPSTREAM_IDLE_TIMEOUT_MS',
  'realtime-keepalive-ms': 'TOKENGATE_REALTIME_KEEPALIVE_MS',
  'upstream-ca-file': 'TOKENGATE_UPSTREAM_CA_FILE',
  'shutdown-grace-ms': 'TOKENGATE_SHUTDOWN_GRACE_MS',
  'access-log': 'TOKENGATE_ACCESS_LOG',
  'log-level': 'TOKENGATE_LOG_LEVEL',
  'redis-url': 'REDIS_URL',
  'redis-namespace': 'TOKENGATE_REDIS_NAMESPACE',
  'redis-timeout-ms': 'TOKENGATE_REDIS_TIMEOUT_MS',
  'local-share': 'TOKENGATE_RATE_LIMIT_LOCAL_SHARE',
  'degraded-budget': 'TOKENGATE_DEGRADED_BUDGET',
  'lease-share': 'TOKENGATE_BUDGET_LEASE_SHARE',
  'lease-cap': 'TOKENGATE_BUDGET_LEASE_CAP',
  'default-completion-tokens': 'TOKENGATE_DEFAULT_COMPLETION_TOKENS',
  'usage-report-interval-ms': 'TOKENGATE_USAGE_REPORT_INTERVAL_MS',
  'usage-orphan-age-ms': 'TOKENGATE_USAGE_ORPHAN_AGE_MS',
  'metric-models': 'TOKENGATE_METRIC_MODELS',
};

/**
 * Parses argv (without `node script`) and env. `readFile` loads certificate files (injected for tests).
 * @throws DataPlaneCliUsageError
 */
export function parseDataPlaneCliOptions(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  readFile: (path: string) => Buffer,
): ParsedDataPlaneCli | 'help' {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return 'help';
    if (!arg.startsWith('--')) throw new DataPlaneCliUsageError(`unexpected argument "${arg}"`);
    const equals = arg.indexOf('=');
    const name = equals < 0 ? arg.slice(2) : arg.slice(2, equals);
    if (!(name in FLAG_VARIABLES)) throw new DataPlaneCliUsageError(`unknown flag --${name}`);
    let value: string;
    if (equals >= 0) value = arg.slice(equals + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new DataPlaneCliUsageError(`--${name} needs a value`);
      value = next;
      i += 1;
    }
    flags.set(name, value);
  }
  const get = (name: string): string | undefined => {
    const value = flags.get(name) ?? env[FLAG_VARIABLES[name]];
    return value === undefined || value === '' ? undefined : value;
  };
  const integer = (name: string, min: number, max: number): number | undefined => {
    const raw = get(name);
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new DataPlaneCliUsageError(`--${name} (${FLAG_VARIABLES[name]}) must be an integer from ${min} to ${max}, got "${raw}"`);
    }
    return value;
  };
  const file = (name: string): Buffer | undefined => {
    const path = get(name);
    if (path === undefined) return undefined;
    try {
      return readFile(path);
    } catch (error) {
      throw new DataPlaneCliUsageError(`--${name}: cannot read ${path}: ${(error as Error).message}`);
    }
  };

  const environment = get('environment');
  if (environment === undefined) throw new DataPlaneCliUsageError('--environment (TOKENGATE_ENVIRONMENT) is required');

  const cert = file('tls-cert');
  const key = file('tls-key');
  if ((cert === undefined) !== (key === undefined)) throw new DataPlaneCliUsageError('--tls-cert and --tls-key go together');

  const caCert = file('control-plane-ca');
  const clientCert = file('control-plane-cert');
  const clientKey = file('control-plane-key');
  if ((clientCert === undefined) !== (clientKey === undefined)) {
    throw new DataPlaneCliUsageError('--control-plane-cert and --control-plane-key go together');
  }
  if (clientCert !== undefined && caCert === undefined) throw new DataPlaneCliUsageError('--control-plane-cert needs --control-plane-ca');

  const accessLogRaw = get('access-log');
  const metricModelsRaw = get('metric-models');
  const metricModels = metricModelsRaw === undefined ? undefined : metricModelsRaw.split(',').map((model) => model.trim()).filter((model) => model !== '');
  if (accessLogRaw !== undefined && !['true', 'false', '1', '0'].includes(accessLogRaw)) {
    throw new DataPlaneCliUsageError(`--access-log must be true or false, got "${accessLogRaw}"`);
  }

  const share = (flag: 'local-share' | 'lease-share' | 'lease-cap', zeroAllowed: boolean): number | undefined => {
    const raw = get(flag);
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (raw.trim() === '' || !(value <= 1 && (zeroAllowed ? value >= 0 : value > 0))) {
      throw new DataPlaneCliUsageError(`--${flag} (${FLAG_VARIABLES[flag]}) must be a number in ${zeroAllowed ? '[0' : '(0'}, 1], got "${raw}"`);
    }
    return value;
  };
  const degradedBudget = get('degraded-budget');
  if (degradedBudget !== undefined && degradedBudget !== 'lease' && degradedBudget !== 'fail-open') {
    throw new DataPlaneCliUsageError(`--degraded-budget (TOKENGATE_DEGRADED_BUDGET) must be lease or fail-open, got "${degradedBudget}"`);
  }

  const redisUrl = (): string => {
    const url = get('redis-url') ?? 'redis://127.0.0.1:6379';
    try {
      parseRedisUrl(url);
    } catch (error) {
      if (error instanceof RedisUrlError) throw new DataPlaneCliUsageError(`--redis-url (REDIS_URL): ${error.message}`);
      throw error;
    }
    return url;
  };

  const upstreamCa = file('upstream-ca-file');
  const token = env['TOKENGATE_DATAPLANE_TOKEN'];
  return {
    logLevel: get('log-level') ?? 'info',
    options: {
      environment,
      host: get('host') ?? '127.0.0.1',
      port: integer('port', 0, 65_535) ?? 8080,
      listenBacklog: integer('listen-backlog', 1, 1_000_000),
      ...(cert !== undefined && key !== undefined ? { tls: { cert, key } } : {}),
      controlPlane: {
        address: get('control-plane') ?? '127.0.0.1:50051',
        ...(token === undefined || token === '' ? {} : { token }),
        ...(caCert === undefined ? {} : { tls: { caCert, clientCert, clientKey } }),
      },
      proxyId: get('proxy-id'),
      maxBodyBytes: integer('max-body-bytes', 1, 2 ** 31),
      upstreamHeadersTimeoutMs: integer('upstream-timeout-ms', 1, 3_600_000),
      upstreamIdleTimeoutMs: integer('upstream-idle-timeout-ms', 1, 3_600_000),
      realtimeKeepaliveMs: integer('realtime-keepalive-ms', 100, 3_600_000),
      ...(upstreamCa === undefined ? {} : { upstreamAgents: { ...DEFAULT_UPSTREAM_AGENT_OPTIONS, ca: upstreamCa } }),
      shutdownGraceMs: integer('shutdown-grace-ms', 0, 3_600_000),
      accessLog: accessLogRaw === 'true' || accessLogRaw === '1',
      usageReportIntervalMs: integer('usage-report-interval-ms', 100, 3_600_000),
      usageOrphanAgeMs: integer('usage-orphan-age-ms', 0, 86_400_000),
      ...(metricModels === undefined ? {} : { metricModels }),
      rateLimiting: {
        redisUrl: redisUrl(),
        redisNamespace: get('redis-namespace') || 'tokengate',
        redisTimeoutMs: integer('redis-timeout-ms', 1, 60_000),
        ...(degradedBudget === undefined ? {} : { degradedMode: degradedBudget }),
        leaseShare: share('lease-share', true),
        leaseCap: share('lease-cap', true),
        localShare: share('local-share', false),
        defaultCompletionTokens: integer('default-completion-tokens', 1, 10_000_000),
      },
    },
  };
}
