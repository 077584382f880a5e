// SigV4 for Bedrock, signed by the proxy over the request exactly as it goes upstream: the real
// upstream host, the forwarded path (already percent-encoded once; the signer encodes it again, as
// Bedrock and the AWS SDKs do) and the final body.
import { createHash } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsSigV4AuthMessage } from '../../config-stream/wire-types';
import { BackendAuthConfigError, type UpstreamAuthenticator, type UpstreamEndpoint, type UpstreamRequestDraft } from '../provider-adapter';

const REGION = /^[a-z]{2}(-[a-z0-9]+)+-\d+$/;
const ACCESS_KEY_ID = /^[A-Za-z0-9]{8,128}$/;
const SIGNING_NAME = /^[a-z0-9-]+$/;

/**
 * Validates the SigV4 settings and builds one SignatureV4 per service (it caches derived signing keys
 * per day). The reasons never quote the secret or the session token.
 */
export function compileSigV4Authenticator(auth: AwsSigV4AuthMessage): UpstreamAuthenticator {
  if (auth.region === '') throw new BackendAuthConfigError('aws_sigv4.region is empty');
  if (!REGION.test(auth.region)) throw new BackendAuthConfigError(`aws_sigv4.region "${auth.region}" is not an AWS region`);
  if (auth.access_key_id === '') throw new BackendAuthConfigError('aws_sigv4.access_key_id is empty');
  if (!ACCESS_KEY_ID.test(auth.access_key_id)) throw new BackendAuthConfigError('aws_sigv4.access_key_id is malformed');
  if (auth.secret_access_key === '') throw new BackendAuthConfigError('aws_sigv4.secret_access_key is empty');
  const service = auth.service === '' ? 'bedrock' : auth.service;
  if (!SIGNING_NAME.test(service)) throw new BackendAuthConfigError(`aws_sigv4.service "${service}" is not a signing name`);

  const signer = new SignatureV4({
    service,
    region: auth.region,
    credentials: {
      accessKeyId: auth.access_key_id,
      secretAccessKey: auth.secret_access_key,
      ...(auth.session_token === '' ? {} : { sessionToken: auth.session_token }),
    },
    sha256: Sha256,
    uriEscapePath: true,
  });

  return {
    kind: 'signed-body',
    async sign(draft: UpstreamRequestDraft, body: Buffer, endpoint: UpstreamEndpoint): Promise<void> {
      // Hashing the (possibly multi-MiB) body natively and handing the signer the result keeps the
      // pure-JS Sha256 to the few short strings of the signature itself.
      const payloadHash = createHash('sha256').update(body).digest('hex');
      // Only host, content-type and the x-amz-* headers are signed: every header of the forwarded
      // request need not be, and a smaller signed set cannot be broken by a header rewritten downstream.
      const signedHeaders: Record<string, string> = { host: endpoint.hostHeader, 'x-amz-content-sha256': payloadHash };
      const contentType = draft.headers['content-type'];
      if (typeof contentType === 'string') signedHeaders['content-type'] = contentType;
      const signed = await signer.sign(
        {
          method: draft.method,
          protocol: endpoint.protocol,
          hostname: endpoint.hostname,
          port: endpoint.port,
          path: draft.path,
          query: parseQueryForSigning(draft.query),
          headers: signedHeaders,
        },
        { signingDate: new Date() },
      );
      const headers = draft.headers;
      headers['authorization'] = signed.headers['authorization'];
      headers['x-amz-date'] = signed.headers['x-amz-date'];
      headers['x-amz-content-sha256'] = payloadHash;
      const securityToken = signed.headers['x-amz-security-token'];
      if (securityToken !== undefined) headers['x-amz-security-token'] = securityToken;
      headers['content-length'] = body.length;
    },
  };
}

/** Decodes a raw query ('' or '?a=b&c') into the name → value(s) map the signer canonicalizes. */
export function parseQueryForSigning(query: string): Record<string, string | string[]> {
  const result: Record<string, string | string[]> = {};
  if (query.length <= 1) return result;
  for (const part of query.slice(1).split('&')) {
    if (part === '') continue;
    const equals = part.indexOf('=');
    const name = decodeComponent(equals < 0 ? part : part.slice(0, equals));
    const value = equals < 0 ? '' : decodeComponent(part.slice(equals + 1));
    const existing = result[name];
    if (existing === undefined) result[name] = value;
    else if (typeof existing === 'string') result[name] = [existing, value];
    else existing.push(value);
  }
  return result;
}

function decodeComponent(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
