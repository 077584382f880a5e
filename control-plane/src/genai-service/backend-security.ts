// Turns backend-security input into the stored (sealed) form, merging with what is stored.
// Omitted fields keep their stored value; null clears an optional one.
import { badUserInput } from '../common/errors';
import type { SecretBox } from '../secrets/secret-box';
import { secretHint } from '../secrets/secret-box';
import { BackendAuthType, PROVIDER_DEFAULTS, Provider } from './provider';
import type { BackendSecurityInput } from './genai-service.types';
import type { ProviderCredentials, ServiceEnvironmentConfigEntity } from './service-environment-config.entity';

export const MAX_SECRET_LENGTH = 4096;
export const MAX_HEADER_NAME_LENGTH = 64;
export const MAX_API_VERSION_LENGTH = 40;
/** Region names are short ("ap-southeast-2", "us-gov-west-1"); the pattern alone would take any length. */
export const MAX_AWS_REGION_LENGTH = 64;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;
const API_VERSION = /^[A-Za-z0-9._-]{1,40}$/;
const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const FORBIDDEN_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'cookie']);

export type StoredBackendSecurity = Pick<ServiceEnvironmentConfigEntity, 'authType' | 'headerName' | 'credentialsSealed' | 'credentialsHint' | 'apiVersion' | 'awsRegion'>;

export function defaultBackendSecurity(provider: Provider, serviceUrl: string): StoredBackendSecurity {
  const defaults = PROVIDER_DEFAULTS[provider];
  return {
    authType: BackendAuthType.API_KEY,
    headerName: defaults.headerName,
    credentialsSealed: null,
    credentialsHint: null,
    apiVersion: defaults.apiVersion,
    awsRegion: provider === Provider.AWS_BEDROCK ? regionFromBedrockUrl(serviceUrl) : null,
  };
}

/** bedrock-runtime.us-east-1.amazonaws.com → us-east-1 */
export function regionFromBedrockUrl(serviceUrl: string): string | null {
  const match = /^bedrock(?:-runtime)?(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com/.exec(new URL(serviceUrl).hostname);
  return match ? match[1] : null;
}

function secretField(field: string, value: string | null | undefined): string | null | undefined {
  if (value === undefined || value === null) return value;
  const trimmed = value.trim();
  if (trimmed.length === 0) throw badUserInput(field, 'must not be empty (use null to clear)');
  if (trimmed.length > MAX_SECRET_LENGTH || /[\r\n\0]/.test(trimmed)) throw badUserInput(field, 'is not a valid credential');
  return trimmed;
}

export function applyBackendSecurity(
  box: SecretBox,
  provider: Provider,
  current: StoredBackendSecurity,
  input: BackendSecurityInput,
  field: string,
): StoredBackendSecurity {
  const next = { ...current };
  const stored: ProviderCredentials = current.credentialsSealed ? (JSON.parse(box.open(current.credentialsSealed)) as ProviderCredentials) : {};
  const apiKey = secretField(`${field}.value`, input.value);
  const accessKeyId = secretField(`${field}.awsAccessKeyId`, input.awsAccessKeyId);
  const secretAccessKey = secretField(`${field}.awsSecretAccessKey`, input.awsSecretAccessKey);
  const sessionToken = secretField(`${field}.awsSessionToken`, input.awsSessionToken);
  const touchesAws = [input.awsRegion, input.awsAccessKeyId, input.awsSecretAccessKey, input.awsSessionToken].some((v) => v !== undefined && v !== null);
  if (provider !== Provider.AWS_BEDROCK && touchesAws) {
    throw badUserInput(`${field}.awsAccessKeyId`, 'AWS credentials apply to AWS_BEDROCK services only');
  }
  if (input.headerName !== undefined) {
    const headerName = input.headerName === null ? PROVIDER_DEFAULTS[provider].headerName : input.headerName.trim();
    if (!HEADER_NAME.test(headerName) || FORBIDDEN_HEADERS.has(headerName.toLowerCase())) throw badUserInput(`${field}.headerName`, 'is not a header name the proxy may set');
    next.headerName = headerName;
  }
  if (input.apiVersion !== undefined) {
    const trimmed = input.apiVersion === null ? PROVIDER_DEFAULTS[provider].apiVersion : input.apiVersion.trim();
    // Azure's v1 API (`/openai/v1/...`) takes none: "" configures the service without one; the proxy
    // then adds none to deployment paths either, unless the client sends its own.
    const apiVersion = trimmed === '' && provider === Provider.AZURE_OPENAI ? null : trimmed;
    if (apiVersion !== null && !API_VERSION.test(apiVersion)) throw badUserInput(`${field}.apiVersion`, 'must look like "2024-10-21" (Azure OpenAI: "" for none, as its v1 API takes)');
    next.apiVersion = apiVersion;
  }
  if (input.awsRegion !== undefined) {
    if (input.awsRegion !== null && (input.awsRegion.length > MAX_AWS_REGION_LENGTH || !AWS_REGION.test(input.awsRegion))) throw badUserInput(`${field}.awsRegion`, 'must be an AWS region such as "us-east-1"');
    next.awsRegion = input.awsRegion;
  }

  let credentials: ProviderCredentials = stored;
  if (accessKeyId !== undefined || secretAccessKey !== undefined) {
    // Switching to (or re-keying) SigV4: the key pair is replaced as a whole.
    if (!accessKeyId || !secretAccessKey) throw badUserInput(`${field}.${accessKeyId ? 'awsSecretAccessKey' : 'awsAccessKeyId'}`, 'SigV4 needs both awsAccessKeyId and awsSecretAccessKey');
    credentials = { awsAccessKeyId: accessKeyId, awsSecretAccessKey: secretAccessKey, ...(sessionToken ? { awsSessionToken: sessionToken } : {}) };
    next.authType = BackendAuthType.AWS_SIGV4;
    next.headerName = 'Authorization';
  } else if (sessionToken !== undefined) {
    if (current.authType !== BackendAuthType.AWS_SIGV4) throw badUserInput(`${field}.awsSessionToken`, 'a session token needs awsAccessKeyId and awsSecretAccessKey');
    credentials = { ...stored };
    if (sessionToken === null) delete credentials.awsSessionToken;
    else credentials.awsSessionToken = sessionToken;
  }
  if (apiKey !== undefined) {
    if (accessKeyId !== undefined) throw badUserInput(`${field}.value`, 'give either an API key (value) or AWS credentials, not both');
    credentials = apiKey === null ? {} : { apiKey };
    next.authType = BackendAuthType.API_KEY;
    if (provider === Provider.AWS_BEDROCK && input.headerName === undefined) next.headerName = 'Authorization';
  }
  if (next.authType === BackendAuthType.AWS_SIGV4 && !next.awsRegion) {
    throw badUserInput(`${field}.awsRegion`, 'SigV4 needs awsRegion (it could not be read from the service URL)');
  }

  const hasCredentials = Boolean(credentials.apiKey || credentials.awsAccessKeyId);
  if (credentials !== stored || !hasCredentials) {
    next.credentialsSealed = hasCredentials ? box.seal(JSON.stringify(credentials)) : null;
    next.credentialsHint = credentials.apiKey ? secretHint(credentials.apiKey) : credentials.awsAccessKeyId ? secretHint(credentials.awsAccessKeyId) : null;
  }
  return next;
}
