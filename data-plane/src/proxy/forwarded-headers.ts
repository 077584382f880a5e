// Which headers cross the proxy. Requests lose hop-by-hop headers, HTTP/2 pseudo-headers and every
// consumer credential; responses lose hop-by-hop headers (which HTTP/2 also forbids).
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** RFC 9110 §7.6.1 connection-specific headers, plus the HTTP/2 upgrade leftovers. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings'];

const NOT_FORWARDED_UPSTREAM: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP,
  // Replaced by the upstream's.
  'host',
  // Answered by this proxy already (Node sends 100 Continue itself).
  'expect',
  // Consumer credentials: the consumer key never leaves the proxy.
  'authorization',
  'api-key',
  'x-api-key',
]);

/** alt-svc would advertise the provider's alternative services as if they were the proxy's. */
const NOT_FORWARDED_DOWNSTREAM: ReadonlySet<string> = new Set([...HOP_BY_HOP, 'alt-svc']);

/**
 * Copies the client's headers minus hop-by-hop headers (including those the Connection header names),
 * pseudo-headers, consumer credentials and AWS signing headers (x-amz-*, amz-sdk-*: the proxy signs anew).
 */
export function upstreamRequestHeaders(incoming: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = connectionListed(incoming['connection']);
  const out: OutgoingHttpHeaders = {};
  for (const name in incoming) {
    if (NOT_FORWARDED_UPSTREAM.has(name)) continue;
    const first = name.charCodeAt(0);
    if (first === 58 /* ':' */) continue;
    if ((first === 120 /* x */ && name.startsWith('x-amz-')) || (first === 97 /* a */ && name.startsWith('amz-sdk-'))) continue;
    if (listed !== null && listed.has(name)) continue;
    const value = incoming[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** Copies an upstream response's headers for the client, minus hop-by-hop ones. */
export function downstreamResponseHeaders(incoming: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = connectionListed(incoming['connection']);
  const out: OutgoingHttpHeaders = {};
  for (const name in incoming) {
    if (NOT_FORWARDED_DOWNSTREAM.has(name)) continue;
    if (listed !== null && listed.has(name)) continue;
    const value = incoming[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

const COMMON_CONNECTION = new Set(['keep-alive', 'close']);

/** Header names listed in a Connection header (other than the usual keep-alive/close), or null. */
function connectionListed(connection: string | string[] | undefined): Set<string> | null {
  if (connection === undefined) return null;
  // Nearly every message says just this: no split, no Set.
  if (typeof connection === 'string' && (COMMON_CONNECTION.has(connection) || COMMON_CONNECTION.has(connection.toLowerCase()))) return null;
  let listed: Set<string> | null = null;
  for (const token of (Array.isArray(connection) ? connection.join(',') : connection).split(',')) {
    const name = token.trim().toLowerCase();
    if (name === '' || name === 'close' || name === 'keep-alive') continue;
    (listed ??= new Set()).add(name);
  }
  return listed;
}

/**
 * A redirect's Location for the client. One that points inside the service's upstream (same origin,
 * under its base path) names the same resource through the proxy instead, as an absolute path under
 * `clientPrefix` (`/{organization}{context path}`), as nginx's `proxy_redirect default` does: a client
 * that follows it keeps going through the proxy with its consumer key, rather than sending that key
 * to the provider, which refuses it. Any other Location (another host, e.g. a signed download URL)
 * is left as the provider sent it; null when there is none to rewrite.
 */
export function proxiedLocation(location: string | string[] | undefined, upstream: { origin: string; basePath: string }, upstreamPath: string, clientPrefix: string): string | null {
  if (typeof location !== 'string' || location === '') return null;
  let target: URL;
  try {
    target = new URL(location, upstream.origin + upstreamPath);
  } catch {
    return null;
  }
  if (target.origin !== upstream.origin) return null;
  const { basePath } = upstream;
  const path = target.pathname;
  if (basePath !== '' && path !== basePath && !path.startsWith(`${basePath}/`)) return null;
  return clientPrefix + path.slice(basePath.length) + target.search + target.hash;
}

/** A header's value as one string (repeated headers joined with commas). */
export function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

const HOST = /^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/;

function firstValue(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  return text?.split(',')[0]?.trim();
}

/**
 * The origin the client reached this proxy at, for URLs handed back to it: the `X-Forwarded-Proto`
 * and `X-Forwarded-Host` a load balancer in front of the proxy sets (first values), else the
 * connection's own scheme and its Host (`:authority` over HTTP/2). Null when the host is not one.
 * Whatever a client sends here only shapes the URLs of its own answers.
 */
export function clientOrigin(headers: IncomingHttpHeaders, encrypted: boolean): string | null {
  const forwardedProto = firstValue(headers['x-forwarded-proto'])?.toLowerCase();
  const scheme = forwardedProto === 'https' || forwardedProto === 'http' ? forwardedProto : encrypted ? 'https' : 'http';
  const host = firstValue(headers['x-forwarded-host']) ?? headers.host ?? firstValue(headers[':authority']);
  return host !== undefined && HOST.test(host) ? `${scheme}://${host}` : null;
}
