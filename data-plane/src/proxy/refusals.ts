// Refusals in the caller's provider format, with the Tokengate code in body and header.
import { type IncomingHttpHeaders, type OutgoingHttpHeaders, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ProviderName } from '../config-stream/wire-types';
import type { ErrorResponse, ProviderAdapter, TokengateErrorCode } from '../providers/provider-adapter';
import { PROVIDER_ADAPTERS } from '../providers/provider-registry';
import type { ProxyRequest, ProxyResponse } from './proxy-types';

/**
 * Before a route is found the provider is unknown; the SDK's own headers tell it well enough that the
 * refusal still parses as that SDK's error. Mistral speaks OpenAI's header dialect and gets OpenAI's format.
 */
export function guessProviderFromHeaders(headers: IncomingHttpHeaders): ProviderAdapter {
  return adapter(guessProviderName(headers));
}

function guessProviderName(headers: IncomingHttpHeaders): ProviderName {
  if (headers['anthropic-version'] !== undefined || headers['x-api-key'] !== undefined) return 'ANTHROPIC';
  if (headers['api-key'] !== undefined) return 'AZURE_OPENAI';
  if (headers['x-amz-date'] !== undefined || headers['amz-sdk-invocation-id'] !== undefined || headers['x-amz-content-sha256'] !== undefined) return 'AWS_BEDROCK';
  return 'OPENAI';
}

function adapter(name: ProviderName): ProviderAdapter {
  const found = PROVIDER_ADAPTERS.get(name);
  if (found === undefined) throw new Error(`no adapter registered for ${name}`);
  return found;
}

/**
 * Sends a complete refusal. `closeConnection` is for refusals sent while the request body is still
 * unread (413): an HTTP/1.1 connection is closed rather than drained; HTTP/2 just ends the stream.
 */
export function sendRefusal(
  req: ProxyRequest,
  res: ProxyResponse,
  provider: ProviderAdapter,
  status: number,
  code: TokengateErrorCode,
  message: string,
  requestId: string,
  closeConnection = false,
  extraHeaders?: Readonly<Record<string, string>>,
): void {
  const rendered = provider.errorResponse(status, code, message, requestId);
  const headers = refusalHeaders(rendered, code, requestId, extraHeaders);
  if (closeConnection && req.httpVersionMajor === 1) headers['connection'] = 'close';
  res.writeHead(status, headers);
  res.end(rendered.body);
}

/**
 * A refusal of a WebSocket upgrade: an ordinary HTTP response written on the socket before any
 * handshake (the SDKs report its status), then the connection is closed.
 */
export function sendUpgradeRefusal(
  socket: Duplex,
  provider: ProviderAdapter,
  status: number,
  code: TokengateErrorCode,
  message: string,
  requestId: string,
  extraHeaders?: Readonly<Record<string, string>>,
): void {
  const rendered = provider.errorResponse(status, code, message, requestId);
  writeRawResponse(socket, status, refusalHeaders(rendered, code, requestId, extraHeaders), rendered.body);
}

/** Writes a complete HTTP/1.1 response on a socket no HTTP server answers any more (an upgrade's), and closes it. */
export function writeRawResponse(socket: Duplex, status: number, headers: OutgoingHttpHeaders, body: string | Buffer): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
  for (const name in headers) {
    if (name === 'content-length' || name === 'connection' || name === 'transfer-encoding') continue;
    const value = headers[name];
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) head += `${name}: ${String(one)}\r\n`;
  }
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  head += `content-length: ${bytes.length}\r\nconnection: close\r\n\r\n`;
  socket.end(Buffer.concat([Buffer.from(head, 'latin1'), bytes]));
}

function refusalHeaders(rendered: ErrorResponse, code: TokengateErrorCode, requestId: string, extraHeaders?: Readonly<Record<string, string>>): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {
    'content-type': rendered.contentType,
    'content-length': Buffer.byteLength(rendered.body),
    'x-tokengate-error-code': code,
    'x-tokengate-request-id': requestId,
  };
  if (rendered.headers !== undefined) Object.assign(headers, rendered.headers);
  if (extraHeaders !== undefined) Object.assign(headers, extraHeaders);
  return headers;
}
