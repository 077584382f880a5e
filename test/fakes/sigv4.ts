// Checks an AWS Signature Version 4 `Authorization` header on a recorded request by signing the
// request again, as received, with @smithy/signature-v4 and comparing the two headers.
import { createHash, timingSafeEqual } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { RecordedRequest } from './recorder';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;.-]+), Signature=[0-9a-f]{64}$/;
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

/**
 * True when the request's `Authorization` header is the SigV4 signature of this request by these
 * credentials for `region`/`service`.
 *
 * The canonical request is rebuilt from what was received: the `host` header and the other headers
 * named in `SignedHeaders`, `x-amz-date`, the query, and the path exactly as received, still
 * URL-encoded. The signer's default `uriEscapePath` encodes that path once more, which is what the
 * AWS SDK signs (a model id `v1:0` travels as `v1%3A0` and is signed as `v1%253A0`). The body is
 * checked against a signed `x-amz-content-sha256` (the signer would otherwise trust that header).
 */
export async function verifySigV4(
  request: RecordedRequest,
  credentials: AwsCredentials,
  region: string,
  service = 'bedrock',
): Promise<boolean> {
  const authorization = headerValue(request, 'authorization');
  const amzDate = headerValue(request, 'x-amz-date');
  const match = authorization === undefined ? null : AUTHORIZATION.exec(authorization);
  if (!authorization || !match || !amzDate) return false;
  const [, accessKeyId, shortDate, scopeRegion, scopeService, signedHeaderList] = match;
  if (accessKeyId !== credentials.accessKeyId || scopeRegion !== region || scopeService !== service) return false;
  const signingDate = parseAmzDate(amzDate);
  if (!signingDate || !amzDate.startsWith(shortDate)) return false;

  const signedHeaders = signedHeaderList.split(';');
  if (!signedHeaders.includes('host')) return false;
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = headerValue(request, name);
    if (value === undefined) return false;
    headers[name] = value;
  }
  const payloadHash = headers['x-amz-content-sha256'];
  if (payloadHash !== undefined && payloadHash !== UNSIGNED_PAYLOAD && payloadHash !== sha256Hex(request.rawBody)) return false;

  const [hostname, port] = splitHost(headers.host);
  const signer = new SignatureV4({ credentials, region, service, sha256: Sha256, uriEscapePath: true, applyChecksum: false });
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: 'http:',
      hostname,
      port,
      path: request.path,
      query: rawQuery(request.url),
      headers,
      body: request.rawBody.length > 0 ? new Uint8Array(request.rawBody) : undefined,
    },
    { signingDate, signableHeaders: new Set(signedHeaders) },
  );
  const expected = signed.headers.authorization;
  return typeof expected === 'string' && constantTimeEqual(expected, authorization);
}

function headerValue(request: RecordedRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** `20240102T030405Z` → Date. */
function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

function splitHost(host: string): [string, number | undefined] {
  const m = /^(.*?)(?::(\d+))?$/.exec(host);
  return m ? [m[1], m[2] === undefined ? undefined : Number(m[2])] : [host, undefined];
}

/** Query as the SDK's HttpRequest holds it: decoded names to a value or a list of values. */
function rawQuery(url: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  const start = url.indexOf('?');
  if (start === -1) return query;
  for (const [name, value] of new URLSearchParams(url.slice(start + 1))) {
    const existing = query[name];
    query[name] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  return query;
}

function sha256Hex(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
