// The control plane's Redis clients (pub/sub channels, BullMQ): one Redis, or a Redis Cluster when
// the URL says so (ADR 008).
//   redis://[user:password@]host:port[/db]             one Redis (as before; rediss:// for TLS)
//   redis+cluster://[user:password@]host:port,host:port  a Redis Cluster, seeded with the nodes listed
//                                                        (one is enough; rediss+cluster:// for TLS)
// The data plane reads the same syntax (data-plane/src/redis/redis-connection.ts); the two planes
// share no code, test/cluster/redis-url.test.ts keeps both parsers in step.
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { ConfigError } from './config-error';

/** What every caller holds (BullMQ takes either; pub/sub works on both). */
export type RedisClient = Redis | Cluster;

export type RedisTarget =
  | { readonly kind: 'single'; readonly url: string }
  | {
      readonly kind: 'cluster';
      readonly nodes: ReadonlyArray<{ readonly host: string; readonly port: number }>;
      readonly username?: string;
      readonly password?: string;
      readonly tls: boolean;
    };

const CLUSTER_URL = /^(rediss?)\+cluster:\/\/(?:([^@/?#]*)@)?([^/?#]+)\/?$/i;

/** Reads a Redis URL; anything but the cluster schemes is one Redis, handed to ioredis unchanged. @throws ConfigError */
export function parseRedisUrl(url: string): RedisTarget {
  if (!/^rediss?\+cluster:/i.test(url)) {
    if (/^rediss?:\/\/(?:[^@/?#]*@)?[^@/?#]*,[^@/?#]*(?:[/?#]|$)/i.test(url)) throw new ConfigError(`several nodes make a cluster URL: redis+cluster://host:port,host:port,..., got "${redact(url)}"`);
    return { kind: 'single', url };
  }
  const match = CLUSTER_URL.exec(url);
  if (match === null) throw new ConfigError(`a cluster URL is redis+cluster://[user:password@]host:port,host:port,... (no database, path or query), got "${redact(url)}"`);
  const [, scheme, userinfo, hostList] = match;
  const nodes = hostList.split(',').map((entry) => parseNode(entry, url));
  const [username, password] = userinfo === undefined ? [] : splitUserinfo(userinfo);
  return {
    kind: 'cluster',
    nodes,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    tls: scheme.toLowerCase() === 'rediss',
  };
}

/**
 * A client for `url` with `options` as for one Redis. For a cluster they apply to each node's
 * connection, except the reconnection policy, the offline queue and auto-pipelining, which are the
 * cluster's.
 */
export function createRedisClient(url: string, options: RedisOptions): RedisClient {
  const target = parseRedisUrl(url);
  if (target.kind === 'single') return new Redis(target.url, options);
  const { retryStrategy, enableOfflineQueue, lazyConnect, enableAutoPipelining, ...nodeOptions } = options;
  const clusterOptions: ClusterOptions = {
    redisOptions: {
      ...nodeOptions,
      ...(target.username ? { username: target.username } : {}),
      ...(target.password ? { password: target.password } : {}),
      ...(target.tls ? { tls: {} } : {}),
    },
  };
  // Only what was set: an undefined option would override ioredis' default.
  if (retryStrategy !== undefined) clusterOptions.clusterRetryStrategy = retryStrategy;
  if (enableOfflineQueue !== undefined) clusterOptions.enableOfflineQueue = enableOfflineQueue;
  if (lazyConnect !== undefined) clusterOptions.lazyConnect = lazyConnect;
  if (enableAutoPipelining !== undefined) clusterOptions.enableAutoPipelining = enableAutoPipelining;
  return new Cluster([...target.nodes], clusterOptions);
}

function parseNode(entry: string, url: string): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  const plain = /^([^:[\]]+)(?::(\d+))?$/.exec(entry);
  const found = bracketed ?? plain;
  const port = Number(found?.[2] ?? 6379);
  if (!found || !Number.isInteger(port) || port < 1 || port > 65_535) throw new ConfigError(`"${entry}" is not host:port in the cluster URL "${redact(url)}"`);
  return { host: found[1], port };
}

function splitUserinfo(userinfo: string): [string, string] {
  const colon = userinfo.indexOf(':');
  // As ioredis reads redis://user@host: no colon, no password.
  if (colon < 0) return [decodeURIComponent(userinfo), ''];
  return [decodeURIComponent(userinfo.slice(0, colon)), decodeURIComponent(userinfo.slice(colon + 1))];
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^@/:]*):[^@/]*@/, '//$1:***@');
}
