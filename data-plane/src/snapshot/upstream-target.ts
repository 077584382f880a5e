// Upstream endpoints, parsed once per snapshot, and the keep-alive connection pools they share across
// snapshots. The proxy's upstream client is undici (ADR 010): its dispatcher API hands the proxy raw
// chunks and parsed headers without the IncomingMessage/ClientRequest streams node:http builds per request.
import { Pool } from 'undici';
import type { UpstreamEndpoint } from '../providers/provider-adapter';

export interface UpstreamTarget extends UpstreamEndpoint {
  /** scheme://host[:port], the pool key. */
  readonly origin: string;
  /** Path prefix of the upstream URL without trailing slash ('' when none), still percent-encoded. */
  readonly basePath: string;
  /** The keep-alive connection pool of this origin, shared by every service that calls it. */
  readonly agent: Pool;
}

export interface UpstreamAgentOptions {
  /**
   * How long an idle upstream socket is kept for reuse. A shorter `Keep-Alive: timeout` hint from the
   * upstream wins (less a second, so the proxy never reuses a socket the upstream is closing).
   */
  readonly freeSocketTimeoutMs: number;
  /** Most sockets open to one origin at once; null: as many as requests in flight. */
  readonly maxSocketsPerOrigin: number | null;
  /** PEM CA certificates trusted for https upstreams instead of Node's bundled ones (private endpoints, TLS-inspecting egress). */
  readonly ca?: string | Buffer;
}

export const DEFAULT_UPSTREAM_AGENT_OPTIONS: UpstreamAgentOptions = { freeSocketTimeoutMs: 15_000, maxSocketsPerOrigin: null };

/**
 * One keep-alive Pool per upstream origin, outliving snapshots so a config change does not throw away
 * warm connections. A pool whose origin a new snapshot no longer uses is closed gracefully: requests
 * still running on the previous snapshot finish on it, then its sockets close.
 */
export class UpstreamAgentPool {
  private pools = new Map<string, Pool>();

  constructor(private readonly options: UpstreamAgentOptions = DEFAULT_UPSTREAM_AGENT_OPTIONS) {}

  agentFor(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (pool === undefined) {
      pool = new Pool(origin, {
        connections: this.options.maxSocketsPerOrigin,
        // One request per socket at a time: a slow answer must never hold back the next request.
        pipelining: 1,
        keepAliveTimeout: this.options.freeSocketTimeoutMs,
        keepAliveMaxTimeout: this.options.freeSocketTimeoutMs,
        // The proxy runs its own header and idle timers (upstreamHeadersTimeoutMs, upstreamIdleTimeoutMs).
        headersTimeout: 0,
        bodyTimeout: 0,
        // Streamed tokens must not wait for Nagle.
        connect: { noDelay: true, ...(this.options.ca === undefined ? {} : { ca: this.options.ca }) },
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  /** Keeps only the pools of `origins` (called after a swap with the new snapshot's origins). */
  retainOnly(origins: ReadonlySet<string>): void {
    const kept = new Map<string, Pool>();
    for (const [origin, pool] of this.pools) {
      if (origins.has(origin)) kept.set(origin, pool);
      else void pool.close().catch(() => undefined);
    }
    this.pools = kept;
  }

  destroyAll(): void {
    for (const pool of this.pools.values()) void pool.destroy().catch(() => undefined);
    this.pools.clear();
  }
}

/** Why an upstream URL is unusable; the message becomes part of a NACK reason. */
export class UpstreamUrlError extends Error {
  override readonly name = 'UpstreamUrlError';
}

/** Parses and checks a Service.upstream_url once; never called on the request path. */
export function compileUpstreamTarget(upstreamUrl: string, pool: UpstreamAgentPool): UpstreamTarget {
  let url: URL;
  try {
    url = new URL(upstreamUrl);
  } catch {
    throw new UpstreamUrlError(`upstream_url "${upstreamUrl}" is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UpstreamUrlError(`upstream_url "${upstreamUrl}" must use http or https`);
  }
  // Credentials belong in backend_auth; the reason does not repeat the URL since it may hold one.
  if (url.username !== '' || url.password !== '') throw new UpstreamUrlError('upstream_url must not contain user info');
  if (url.search !== '' || url.hash !== '' || upstreamUrl.includes('?') || upstreamUrl.includes('#')) {
    throw new UpstreamUrlError(`upstream_url "${upstreamUrl}" must not have a query or fragment`);
  }
  if (url.hostname === '') throw new UpstreamUrlError(`upstream_url "${upstreamUrl}" has no host`);
  const protocol = url.protocol;
  const port = url.port === '' ? (protocol === 'https:' ? 443 : 80) : Number(url.port);
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const basePath = url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, '');
  return {
    origin: url.origin,
    protocol,
    hostname,
    port,
    hostHeader: url.host,
    basePath,
    agent: pool.agentFor(url.origin),
  };
}
