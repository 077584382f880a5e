// Upstream endpoints, parsed once per snapshot, and the keep-alive agents they share across snapshots.
import http from 'node:http';
import https from 'node:https';
import type { UpstreamEndpoint } from '../providers/provider-adapter';

export interface UpstreamTarget extends UpstreamEndpoint {
  /** scheme://host[:port], the agent pool key. */
  readonly origin: string;
  /** Path prefix of the upstream URL without trailing slash ('' when none), still percent-encoded. */
  readonly basePath: string;
  readonly agent: http.Agent;
  readonly request: typeof http.request;
}

export interface UpstreamAgentOptions {
  /** How long an idle upstream socket is kept for reuse. Node honours a shorter `Keep-Alive: timeout` hint. */
  readonly freeSocketTimeoutMs: number;
  readonly maxFreeSocketsPerOrigin: number;
}

export const DEFAULT_UPSTREAM_AGENT_OPTIONS: UpstreamAgentOptions = { freeSocketTimeoutMs: 15_000, maxFreeSocketsPerOrigin: 256 };

/**
 * One keep-alive Agent per upstream origin, outliving snapshots so a config change does not throw away
 * warm connections. Agents for origins a new snapshot no longer uses are forgotten, not destroyed: requests
 * still running on the previous snapshot keep theirs, and idle sockets expire on their own.
 */
export class UpstreamAgentPool {
  private agents = new Map<string, http.Agent>();

  constructor(private readonly options: UpstreamAgentOptions = DEFAULT_UPSTREAM_AGENT_OPTIONS) {}

  agentFor(origin: string, protocol: 'http:' | 'https:'): http.Agent {
    let agent = this.agents.get(origin);
    if (agent === undefined) {
      const agentOptions: https.AgentOptions = {
        keepAlive: true,
        scheduling: 'lifo',
        maxFreeSockets: this.options.maxFreeSocketsPerOrigin,
        timeout: this.options.freeSocketTimeoutMs,
        // Passed on to net.connect: streamed tokens must not wait for Nagle.
        noDelay: true,
      };
      agent = protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
      this.agents.set(origin, agent);
    }
    return agent;
  }

  /** Keeps only the agents of `origins` (called after a swap with the new snapshot's origins). */
  retainOnly(origins: ReadonlySet<string>): void {
    const kept = new Map<string, http.Agent>();
    for (const [origin, agent] of this.agents) if (origins.has(origin)) kept.set(origin, agent);
    this.agents = kept;
  }

  destroyAll(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
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
    agent: pool.agentFor(url.origin, protocol),
    request: protocol === 'https:' ? https.request : http.request,
  };
}
