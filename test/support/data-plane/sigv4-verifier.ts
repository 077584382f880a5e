// Upstream-side SigV4 check for tests: re-signs the request exactly as received (host, the headers it
// names as signed, raw path and query, body) and compares with the Authorization header it carried.
import { createHash } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { parseQueryForSigning } from '../../../data-plane/src/providers/aws-bedrock/sigv4-authenticator';
import type { RecordedRequest } from './recording-upstream';

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

export interface SigV4Expectation {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly region: string;
  readonly service?: string;
}

export interface SigV4Verdict {
  readonly valid: boolean;
  readonly reason: string;
  readonly signedHeaders: readonly string[];
}

export async function verifySigV4(request: RecordedRequest, expected: SigV4Expectation): Promise<SigV4Verdict> {
  const header = (name: string): string | undefined => {
    const value = request.headers[name];
    return Array.isArray(value) ? value.join(',') : value;
  };
  const match = AUTHORIZATION.exec(header('authorization') ?? '');
  if (match === null) return { valid: false, reason: 'no SigV4 Authorization header', signedHeaders: [] };
  const [, accessKeyId, , region, service, signedHeaderList] = match;
  const signedHeaders = signedHeaderList.split(';');
  if (accessKeyId !== expected.accessKeyId) return { valid: false, reason: 'other access key', signedHeaders };
  if (region !== expected.region || service !== (expected.service ?? 'bedrock')) return { valid: false, reason: 'other scope', signedHeaders };
  const payloadHash = createHash('sha256').update(request.body).digest('hex');
  if (header('x-amz-content-sha256') !== payloadHash) return { valid: false, reason: 'x-amz-content-sha256 does not match the body', signedHeaders };
  const amzDate = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(header('x-amz-date') ?? '');
  if (amzDate === null) return { valid: false, reason: 'no x-amz-date', signedHeaders };
  const signingDate = new Date(Date.UTC(+amzDate[1], +amzDate[2] - 1, +amzDate[3], +amzDate[4], +amzDate[5], +amzDate[6]));
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = header(name);
    if (value === undefined) return { valid: false, reason: `signed header ${name} missing`, signedHeaders };
    headers[name] = value;
  }
  const queryStart = request.url.indexOf('?');
  const signer = new SignatureV4({
    service: expected.service ?? 'bedrock',
    region: expected.region,
    credentials: { accessKeyId: expected.accessKeyId, secretAccessKey: expected.secretAccessKey, sessionToken: expected.sessionToken },
    sha256: Sha256,
  });
  const host = headers['host'] ?? '';
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: 'http:',
      hostname: host.split(':')[0],
      path: queryStart < 0 ? request.url : request.url.slice(0, queryStart),
      query: parseQueryForSigning(queryStart < 0 ? '' : request.url.slice(queryStart)),
      headers,
      body: request.body,
    },
    { signingDate, signableHeaders: new Set(signedHeaders) },
  );
  const valid = signed.headers['authorization'] === header('authorization');
  return { valid, reason: valid ? 'ok' : 'signature mismatch', signedHeaders };
}
