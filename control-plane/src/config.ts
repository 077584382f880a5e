// Control-plane settings: every value comes from an environment variable (and the CLI maps its flags onto them).
import { ConfigError } from './common/config-error';
import { parseRedisUrl } from './common/redis-connection';
import { SecretBox, parseSecretKeys } from './secrets/secret-box';

export { ConfigError };

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/tokengate';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export interface ControlPlaneConfig {
  databaseUrl: string;
  /** One Redis (redis://host:port) or a Redis Cluster (redis+cluster://host:port,host:port,...); see common/redis-connection.ts. */
  redisUrl: string;
  /** Prefix of every Redis key, channel and queue of this installation (several may share a Redis). */
  redisNamespace: string;
  host: string;
  port: number;
  grpcHost: string;
  grpcPort: number;
  adminToken: string | undefined;
  dataPlaneToken: string | undefined;
  secretBox: SecretBox;
  developmentMode: boolean;
  maxRequestBytes: number;
  maxQueryDepth: number;
  grpcTls: { certFile: string; keyFile: string; clientCaFile?: string } | undefined;
  /** How often the config stream compares revisions with what proxies were sent (pub/sub safety net). */
  revisionPollMs: number;
  /** Bytes of config messages being flushed to proxies at once (config-stream/write-budget.ts). */
  maxUnflushedConfigBytes: number;
  /** How often a replica renews the liveness of the proxies connected to it; each renewal lasts three (data-plane-store.ts). */
  proxyHeartbeatMs: number;
  /** sweepIntervalMs: how often deployments left PENDING (e.g. committed while Redis was away) are enqueued again. */
  rollout: { timeoutMs: number; lockDurationMs: number; inProcessWorker: boolean; sweepIntervalMs: number };
}

type Env = Record<string, string | undefined>;

export function isDevelopmentMode(env: Env): boolean {
  return env.TOKENGATE_MODE === 'development' || env.NODE_ENV === 'development';
}

function intVar(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new ConfigError(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

/**
 * Reads the configuration. Outside development mode a missing or malformed TOKENGATE_SECRET_KEY is
 * refused: provider credentials would otherwise be stored under a key nobody can recover.
 */
export function loadControlPlaneConfig(env: Env = process.env): ControlPlaneConfig {
  const developmentMode = isDevelopmentMode(env);
  const grpcHost = env.TOKENGATE_GRPC_HOST || '127.0.0.1';
  const tls = grpcTls(env);
  // The config stream carries every provider credential of an environment, decrypted.
  if (!developmentMode && tls === undefined && !isLoopbackHost(grpcHost) && env.TOKENGATE_GRPC_ALLOW_CLEARTEXT !== 'true') {
    throw new ConfigError(
      `refusing to send provider credentials to proxies in cleartext on ${grpcHost}: set TOKENGATE_GRPC_TLS_CERT and TOKENGATE_GRPC_TLS_KEY (and TOKENGATE_GRPC_TLS_CLIENT_CA for mutual TLS), listen on a loopback address, or set TOKENGATE_GRPC_ALLOW_CLEARTEXT=true where the network is already private and encrypted`,
    );
  }
  const secretBox = new SecretBox(parseSecretKeys(env.TOKENGATE_SECRET_KEY, env.TOKENGATE_PREVIOUS_SECRET_KEYS, developmentMode));
  return {
    databaseUrl: databaseUrl(env),
    redisUrl: redisUrl(env),
    redisNamespace: env.TOKENGATE_REDIS_NAMESPACE || 'tokengate',
    host: env.TOKENGATE_HOST || '127.0.0.1',
    port: intVar(env, 'TOKENGATE_PORT', 4000),
    grpcHost,
    grpcPort: intVar(env, 'TOKENGATE_GRPC_PORT', 50051),
    adminToken: env.TOKENGATE_ADMIN_TOKEN || undefined,
    dataPlaneToken: env.TOKENGATE_DATAPLANE_TOKEN || undefined,
    secretBox,
    developmentMode,
    maxRequestBytes: intVar(env, 'TOKENGATE_MAX_REQUEST_BYTES', 1024 * 1024),
    maxQueryDepth: intVar(env, 'TOKENGATE_MAX_QUERY_DEPTH', 10),
    grpcTls: tls,
    revisionPollMs: intVar(env, 'TOKENGATE_REVISION_POLL_MS', 5000),
    maxUnflushedConfigBytes: intVar(env, 'TOKENGATE_MAX_UNFLUSHED_CONFIG_BYTES', 64 * 1024 * 1024),
    proxyHeartbeatMs: proxyHeartbeat(env),
    rollout: {
      timeoutMs: intVar(env, 'TOKENGATE_ROLLOUT_TIMEOUT_MS', 30_000),
      lockDurationMs: intVar(env, 'TOKENGATE_ROLLOUT_LOCK_MS', 30_000),
      inProcessWorker: env.TOKENGATE_INPROCESS_WORKER === 'true' || env.TOKENGATE_INPROCESS_WORKER === '1',
      sweepIntervalMs: sweepInterval(env),
    },
  };
}

function databaseUrl(env: Env): string {
  const url = env.DATABASE_URL || DEFAULT_DATABASE_URL;
  if (!URL.canParse(url) || !['postgres:', 'postgresql:'].includes(new URL(url).protocol)) {
    throw new ConfigError(`DATABASE_URL must be a PostgreSQL URL such as ${DEFAULT_DATABASE_URL}, got "${url}"`);
  }
  return url;
}

function redisUrl(env: Env): string {
  const url = env.REDIS_URL || DEFAULT_REDIS_URL;
  try {
    parseRedisUrl(url);
  } catch (error) {
    throw new ConfigError(`REDIS_URL: ${(error as Error).message}`);
  }
  return url;
}

function sweepInterval(env: Env): number {
  const ms = intVar(env, 'TOKENGATE_ROLLOUT_SWEEP_INTERVAL_MS', 10_000);
  if (ms === 0) throw new ConfigError('TOKENGATE_ROLLOUT_SWEEP_INTERVAL_MS must be at least 1 (milliseconds)');
  return ms;
}

function proxyHeartbeat(env: Env): number {
  const ms = intVar(env, 'TOKENGATE_PROXY_HEARTBEAT_MS', 10_000);
  if (ms === 0) throw new ConfigError('TOKENGATE_PROXY_HEARTBEAT_MS must be at least 1 (milliseconds)');
  return ms;
}

function grpcTls(env: Env): ControlPlaneConfig['grpcTls'] {
  const certFile = env.TOKENGATE_GRPC_TLS_CERT;
  const keyFile = env.TOKENGATE_GRPC_TLS_KEY;
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw new ConfigError('set both TOKENGATE_GRPC_TLS_CERT and TOKENGATE_GRPC_TLS_KEY to serve the config stream over TLS');
  return { certFile, keyFile, clientCaFile: env.TOKENGATE_GRPC_TLS_CLIENT_CA || undefined };
}

/** 127.0.0.0/8, ::1 and localhost: a listener only this machine reaches. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}
