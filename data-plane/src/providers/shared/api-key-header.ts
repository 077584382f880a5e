// ApiKeyAuth handling shared by every provider: `<header_name>: <header_value>` set verbatim.
import type { ApiKeyAuthMessage, BackendAuthMessage } from '../../config-stream/wire-types';
import { BackendAuthConfigError, type UpstreamRequestDraft } from '../provider-adapter';

const HEADER_NAME_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Visible ASCII, space and tab plus obs-text: what Node accepts without throwing at send time.
const HEADER_VALUE_SAFE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** Headers a credential must never replace: they frame the request or route it. */
const RESERVED_HEADER_NAMES: ReadonlySet<string> = new Set([
  'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer',
  'proxy-connection', 'expect', 'content-type',
]);

/** A validated credential header, lower-cased name. */
export interface CredentialHeader {
  readonly name: string;
  readonly value: string;
}

/**
 * Returns the ApiKeyAuth member of a BackendAuth, or throws when the service is configured for
 * something else (e.g. SigV4 on a provider that cannot use it).
 */
export function requireApiKeyAuth(auth: BackendAuthMessage, providerLabel: string): ApiKeyAuthMessage {
  if (auth.api_key) return auth.api_key;
  if (auth.aws_sigv4) {
    throw new BackendAuthConfigError(`${providerLabel} services authenticate with an API key header, not AWS SigV4`);
  }
  throw new BackendAuthConfigError('backend_auth has neither api_key nor aws_sigv4 set');
}

/**
 * Validates `header_name`/`header_value` once at compile time so sending can never throw.
 * An empty header name falls back to the provider's default header.
 */
export function compileCredentialHeader(auth: ApiKeyAuthMessage, defaultHeaderName: string): CredentialHeader {
  const name = (auth.header_name === '' ? defaultHeaderName : auth.header_name).toLowerCase();
  if (!HEADER_NAME_TOKEN.test(name)) throw new BackendAuthConfigError(`api_key.header_name "${auth.header_name}" is not a valid HTTP header name`);
  if (RESERVED_HEADER_NAMES.has(name)) throw new BackendAuthConfigError(`api_key.header_name "${name}" is reserved and cannot carry a credential`);
  // The value is a secret: the reasons below never quote it.
  if (auth.header_value === '') throw new BackendAuthConfigError(`api_key.header_value is empty for header "${name}"`);
  if (!HEADER_VALUE_SAFE.test(auth.header_value) || auth.header_value.trim() !== auth.header_value) {
    throw new BackendAuthConfigError(`api_key.header_value for header "${name}" contains characters not allowed in an HTTP header`);
  }
  return { name, value: auth.header_value };
}

/** Checks an api_version before it goes into a header or a query string. */
export function compileApiVersion(apiVersion: string, what: string): string {
  if (!HEADER_VALUE_SAFE.test(apiVersion) || /[\s&#]/.test(apiVersion)) {
    throw new BackendAuthConfigError(`api_key.api_version "${apiVersion}" is not a valid ${what}`);
  }
  return apiVersion;
}

/** Sets the credential header on a draft whose consumer credentials were already removed. */
export function setCredentialHeader(draft: UpstreamRequestDraft, header: CredentialHeader): void {
  draft.headers[header.name] = header.value;
}
