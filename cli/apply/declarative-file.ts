// The declarative file of `tokengate apply`: read (YAML or JSON), `${VAR}` expansion from the
// environment, and validation into typed desired state. Nothing here talks to the control plane.
// Every problem names the path of the offending field; no message ever repeats a string value
// (secret fields in particular), only enum values, which are never secret.
import { readFileSync } from 'node:fs';
import { GraphQLError } from 'graphql';
import { parseDocument } from 'yaml';
import {
  contextPathsOverlap,
  normalizeContextPath,
  normalizeLabels,
  normalizeServiceUrl,
  validateHandle,
  validateName,
  validateOrganizationHandle,
  validateText,
} from '../../control-plane/src/common/validation';

export const PROVIDERS = ['OPENAI', 'AZURE_OPENAI', 'ANTHROPIC', 'MISTRAL', 'AWS_BEDROCK'] as const;
export const SCOPES = ['ORGANIZATION', 'PROJECT'] as const;
export const MARKETPLACE_STATUSES = ['PUBLISHED', 'REMOVED'] as const;
export const TIME_UNITS = ['MINUTE', 'HOUR', 'DAY'] as const;

export type Provider = (typeof PROVIDERS)[number];
export type Scope = (typeof SCOPES)[number];
export type MarketplaceStatus = (typeof MARKETPLACE_STATUSES)[number];
export type TimeUnit = (typeof TIME_UNITS)[number];

/** Write-only credential fields: never printed, never compared except through the API's hint. */
export const SECRET_FIELDS = ['value', 'awsAccessKeyId', 'awsSecretAccessKey', 'awsSessionToken'] as const;

/** A token budget: the service's (rateLimit) or the default quota of each connection (connectionQuota). */
export interface DesiredRateLimit {
  timeUnit: TimeUnit;
  /** null = unlimited */
  maxPromptTokens: number | null;
  maxCompletionTokens: number | null;
  maxTotalTokens: number | null;
  /** false: shadow mode (counted, never refuses). Left out of the file: true, as the API defaults it. */
  enforce: boolean;
}

/** Fields left out are not managed by the file (the control plane keeps its value). */
export interface DesiredBackendSecurity {
  headerName?: string;
  apiVersion?: string;
  awsRegion?: string;
  value?: string;
  awsAccessKeyId?: string;
  awsSecretAccessKey?: string;
  awsSessionToken?: string;
}

export interface DesiredEnvironment {
  /** Environment handle. */
  handle: string;
  /** Path in the file, for messages: `services[0].environments.production`. */
  path: string;
  backendSecurity?: DesiredBackendSecurity;
  /** undefined: not managed; null: no limits. */
  rateLimit?: DesiredRateLimit | null;
  /** undefined: not managed; null: no default quota for the service's connections. */
  connectionQuota?: DesiredRateLimit | null;
  /** undefined: not managed. */
  streamCutoff?: boolean;
  /** undefined: not managed; null: no per-environment override. */
  serviceUrl?: string | null;
}

export interface DesiredService {
  path: string;
  /** Normalized as the control plane normalizes it; with the organization, the identity of a service. */
  contextPath: string;
  provider: Provider;
  name: string;
  serviceUrl: string;
  scope: Scope;
  /** Project handle; set exactly when scope is PROJECT. */
  project: string | null;
  summary?: string;
  description?: string;
  labels?: string[];
  marketplace?: MarketplaceStatus;
  environments: DesiredEnvironment[];
}

export interface DesiredConnection {
  path: string;
  /** Project handle; with the name, the identity of a connection. */
  project: string;
  /** Context path of the service (normalized). */
  service: string;
  name: string;
  description?: string;
}

export interface DeclarativeFile {
  organization: string;
  services: DesiredService[];
  connections: DesiredConnection[];
}

export interface FileIssue {
  /** e.g. `services[0].environments.production.rateLimit.maxTotalTokens`; empty for the whole file. */
  path: string;
  message: string;
}

/** The file cannot be used as it is; nothing has been sent. */
export class DeclarativeFileError extends Error {
  constructor(
    readonly source: string,
    readonly issues: FileIssue[],
  ) {
    super(`${source} is not a valid tokengate file:\n${issues.map((i) => `  ${i.path ? `${i.path}: ` : ''}${i.message}`).join('\n')}`);
    this.name = 'DeclarativeFileError';
  }
}

/** Reads `path` (`-` for stdin), expands `${VAR}` from `env` and validates. Throws DeclarativeFileError. */
export function loadDeclarativeFile(path: string, env: NodeJS.ProcessEnv = process.env): DeclarativeFile {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DeclarativeFileError(path, [{ path: '', message: code === 'ENOENT' ? 'file not found' : `cannot be read (${code ?? 'unknown error'})` }]);
  }
  return parseDeclarativeFile(text, path, env);
}

export function parseDeclarativeFile(text: string, source: string, env: NodeJS.ProcessEnv = process.env): DeclarativeFile {
  const raw = parseText(text, source);
  const issues: FileIssue[] = [];
  const expanded = expandVariables(raw, '', env, issues);
  const file = validateFile(expanded, issues);
  if (issues.length || !file) throw new DeclarativeFileError(source, issues);
  return file;
}

function parseText(text: string, source: string): unknown {
  if (source.endsWith('.json')) {
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new DeclarativeFileError(source, [{ path: '', message: `invalid JSON: ${(error as Error).message}` }]);
    }
  }
  // YAML 1.2 (core schema) is a superset of JSON, so stdin and other names may hold either.
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (document.errors.length) {
    throw new DeclarativeFileError(source, document.errors.map((e) => ({ path: '', message: `invalid YAML: ${e.message.split('\n')[0]}` })));
  }
  return document.toJS({ maxAliasCount: 100 }) as unknown;
}

const VARIABLE = /\$\{([^}]*)\}|\$\$\{/g;

/**
 * `${NAME}` in any string value is replaced by the environment variable NAME; `$${` gives a literal
 * `${`. A variable that is unset or empty is an error at the path of the value using it.
 */
function expandVariables(value: unknown, path: string, env: NodeJS.ProcessEnv, issues: FileIssue[]): unknown {
  if (typeof value === 'string') {
    return value.replace(VARIABLE, (match: string, name: string | undefined) => {
      if (match === '$${') return '${';
      if (!name || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        issues.push({ path, message: `"\${${name ?? ''}}" is not a valid variable reference (use \${NAME}, or $\${ for a literal)` });
        return match;
      }
      const resolved = env[name];
      if (resolved === undefined || resolved === '') {
        issues.push({ path, message: `environment variable ${name} is not set${resolved === '' ? ' (it is empty)' : ''}` });
        return match;
      }
      return resolved;
    });
  }
  if (Array.isArray(value)) return value.map((item, index) => expandVariables(item, `${path}[${index}]`, env, issues));
  if (isRecord(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, expandVariables(item, join(path, key), env, issues)]));
  }
  return value;
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Small typed readers; each records an issue and returns undefined when the value does not fit. */
class FieldReader {
  constructor(readonly issues: FileIssue[]) {}

  object(value: unknown, path: string, allowed: readonly string[]): Record<string, unknown> | undefined {
    if (!isRecord(value)) {
      this.issues.push({ path, message: `must be an object, got ${describe(value)}` });
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.issues.push({ path: join(path, key), message: `unknown field (expected one of: ${allowed.join(', ')})` });
    }
    return value;
  }

  list(value: unknown, path: string): unknown[] | undefined {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      this.issues.push({ path, message: `must be a list, got ${describe(value)}` });
      return undefined;
    }
    return value;
  }

  string(value: unknown, path: string, required: boolean): string | undefined {
    if (value === undefined || value === null) {
      if (required) this.issues.push({ path, message: 'is required' });
      return undefined;
    }
    if (typeof value !== 'string') {
      this.issues.push({ path, message: `must be a string, got ${describe(value)}` });
      return undefined;
    }
    return value;
  }

  oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[], required: boolean): T | undefined {
    const text = this.string(value, path, required);
    if (text === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(text)) {
      this.issues.push({ path, message: `must be one of ${allowed.join(', ')}, got ${JSON.stringify(text)}` });
      return undefined;
    }
    return text as T;
  }

  boolean(value: unknown, path: string): boolean | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') {
      this.issues.push({ path, message: `must be true or false, got ${describe(value)}` });
      return undefined;
    }
    return value;
  }

  tokens(value: unknown, path: string): number | null {
    if (value === undefined || value === null) return null;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      this.issues.push({ path, message: 'must be a positive integer (leave it out for unlimited)' });
      return null;
    }
    return value;
  }

  /** Runs one of the control plane's own validators (given the full path as its field name). */
  domain<T>(check: () => T): T | undefined {
    try {
      return check();
    } catch (error) {
      if (!(error instanceof GraphQLError)) throw error;
      const field = error.extensions.field;
      this.issues.push({ path: typeof field === 'string' ? field : '', message: error.message });
      return undefined;
    }
  }
}

const FILE_FIELDS = ['version', 'organization', 'services', 'connections'] as const;
const SERVICE_FIELDS = ['contextPath', 'provider', 'name', 'serviceUrl', 'scope', 'project', 'summary', 'description', 'labels', 'marketplace', 'environments'] as const;
const ENVIRONMENT_FIELDS = ['backendSecurity', 'rateLimit', 'connectionQuota', 'streamCutoff', 'serviceUrl'] as const;
const BACKEND_SECURITY_FIELDS = ['headerName', 'apiVersion', 'awsRegion', ...SECRET_FIELDS] as const;
const RATE_LIMIT_FIELDS = ['timeUnit', 'maxPromptTokens', 'maxCompletionTokens', 'maxTotalTokens', 'enforce'] as const;
const CONNECTION_FIELDS = ['project', 'service', 'name', 'description'] as const;

function validateFile(raw: unknown, issues: FileIssue[]): DeclarativeFile | undefined {
  const read = new FieldReader(issues);
  if (raw === undefined || raw === null) {
    issues.push({ path: '', message: 'the file is empty' });
    return undefined;
  }
  const top = read.object(raw, '', FILE_FIELDS);
  if (!top) return undefined;
  if (top.version !== undefined && top.version !== 1) issues.push({ path: 'version', message: 'must be 1 (the only file format so far)' });
  const organizationText = read.string(top.organization, 'organization', true);
  const organization = organizationText === undefined ? undefined : read.domain(() => validateOrganizationHandle('organization', organizationText));

  const services: DesiredService[] = [];
  for (const [index, item] of (read.list(top.services, 'services') ?? []).entries()) {
    const service = validateService(read, item, `services[${index}]`);
    if (service) services.push(service);
  }
  for (const [index, service] of services.entries()) {
    const earlier = services.slice(0, index).find((other) => contextPathsOverlap(other.contextPath, service.contextPath));
    if (earlier) {
      const how = earlier.contextPath === service.contextPath ? 'is also used by' : 'overlaps the context path of';
      issues.push({ path: `${service.path}.contextPath`, message: `context path ${service.contextPath} ${how} ${earlier.path}` });
    }
  }

  const connections: DesiredConnection[] = [];
  for (const [index, item] of (read.list(top.connections, 'connections') ?? []).entries()) {
    const connection = validateConnection(read, item, `connections[${index}]`);
    if (!connection) continue;
    const twin = connections.find((other) => other.project === connection.project && other.name === connection.name);
    if (twin) issues.push({ path: `${connection.path}.name`, message: `project ${connection.project} already has a connection named ${JSON.stringify(connection.name)} in ${twin.path}` });
    connections.push(connection);
  }
  if (organization === undefined || issues.length) return undefined;
  return { organization, services, connections };
}

function validateService(read: FieldReader, raw: unknown, path: string): DesiredService | undefined {
  const before = read.issues.length;
  const item = read.object(raw, path, SERVICE_FIELDS);
  if (!item) return undefined;
  const contextPathText = read.string(item.contextPath, `${path}.contextPath`, true);
  const contextPath = contextPathText === undefined ? undefined : read.domain(() => normalizeContextPath(`${path}.contextPath`, contextPathText));
  const provider = read.oneOf(item.provider, `${path}.provider`, PROVIDERS, true);
  const nameText = read.string(item.name, `${path}.name`, true);
  const name = nameText === undefined ? undefined : read.domain(() => validateName(`${path}.name`, nameText));
  const serviceUrlText = read.string(item.serviceUrl, `${path}.serviceUrl`, true);
  const serviceUrl = serviceUrlText === undefined ? undefined : read.domain(() => normalizeServiceUrl(`${path}.serviceUrl`, serviceUrlText));
  const scope = read.oneOf(item.scope, `${path}.scope`, SCOPES, false) ?? 'ORGANIZATION';
  const projectText = read.string(item.project, `${path}.project`, false);
  const project = projectText === undefined ? null : (read.domain(() => validateHandle(`${path}.project`, projectText, 'project handle')) ?? null);
  if (scope === 'PROJECT' && projectText === undefined) read.issues.push({ path: `${path}.project`, message: 'is required when scope is PROJECT (the handle of the project the service belongs to)' });
  if (scope === 'ORGANIZATION' && projectText !== undefined) read.issues.push({ path: `${path}.project`, message: 'is only allowed with scope: PROJECT' });

  const service: Omit<DesiredService, 'contextPath' | 'provider' | 'name' | 'serviceUrl'> = { path, scope, project, environments: [] };
  const summaryText = read.string(item.summary, `${path}.summary`, false);
  if (summaryText !== undefined) service.summary = read.domain(() => validateText(`${path}.summary`, summaryText, 300));
  const descriptionText = read.string(item.description, `${path}.description`, false);
  if (descriptionText !== undefined) service.description = read.domain(() => validateText(`${path}.description`, descriptionText, 5000));
  if (item.labels !== undefined) {
    const labels = read.list(item.labels, `${path}.labels`);
    if (labels) {
      const texts = labels.map((label, index) => read.string(label, `${path}.labels[${index}]`, true));
      if (texts.every((t): t is string => t !== undefined)) service.labels = read.domain(() => normalizeLabels(`${path}.labels`, texts));
    }
  }
  service.marketplace = read.oneOf(item.marketplace, `${path}.marketplace`, MARKETPLACE_STATUSES, false);

  if (item.environments !== undefined && item.environments !== null) {
    // Keyed by environment handle, so any key is allowed here.
    const environments = isRecord(item.environments) ? item.environments : undefined;
    if (!environments) read.issues.push({ path: `${path}.environments`, message: `must be an object keyed by environment handle, got ${describe(item.environments)}` });
    for (const [handle, value] of Object.entries(environments ?? {})) {
      const envPath = `${path}.environments.${handle}`;
      read.domain(() => validateHandle(envPath, handle, 'environment handle'));
      const environment = validateEnvironment(read, value ?? {}, envPath, handle, provider);
      if (environment) service.environments.push(environment);
    }
  }
  if (read.issues.length > before || !contextPath || !provider || !name || !serviceUrl) return undefined;
  return { ...service, contextPath, provider, name, serviceUrl };
}

function validateEnvironment(read: FieldReader, raw: unknown, path: string, handle: string, provider: Provider | undefined): DesiredEnvironment | undefined {
  const item = read.object(raw, path, ENVIRONMENT_FIELDS);
  if (!item) return undefined;
  const environment: DesiredEnvironment = { handle, path };
  if (item.serviceUrl === null) environment.serviceUrl = null;
  else {
    const text = read.string(item.serviceUrl, `${path}.serviceUrl`, false);
    if (text !== undefined) environment.serviceUrl = read.domain(() => normalizeServiceUrl(`${path}.serviceUrl`, text));
  }
  // null removes; left out, not managed.
  if (item.rateLimit !== undefined) environment.rateLimit = validateRateLimit(read, item.rateLimit, `${path}.rateLimit`);
  if (item.connectionQuota !== undefined) environment.connectionQuota = validateRateLimit(read, item.connectionQuota, `${path}.connectionQuota`);
  const streamCutoff = read.boolean(item.streamCutoff, `${path}.streamCutoff`);
  if (streamCutoff !== undefined) environment.streamCutoff = streamCutoff;
  if (item.backendSecurity !== undefined && item.backendSecurity !== null) {
    environment.backendSecurity = validateBackendSecurity(read, item.backendSecurity, `${path}.backendSecurity`, provider);
  }
  return environment;
}

/** A budget (null: none); undefined when it has an issue (recorded). */
function validateRateLimit(read: FieldReader, raw: unknown, path: string): DesiredRateLimit | null | undefined {
  if (raw === null) return null;
  const limit = read.object(raw, path, RATE_LIMIT_FIELDS);
  if (!limit) return undefined;
  const timeUnit = read.oneOf(limit.timeUnit, `${path}.timeUnit`, TIME_UNITS, true);
  const budgets = {
    maxPromptTokens: read.tokens(limit.maxPromptTokens, `${path}.maxPromptTokens`),
    maxCompletionTokens: read.tokens(limit.maxCompletionTokens, `${path}.maxCompletionTokens`),
    maxTotalTokens: read.tokens(limit.maxTotalTokens, `${path}.maxTotalTokens`),
    enforce: read.boolean(limit.enforce, `${path}.enforce`) ?? true,
  };
  return timeUnit ? { timeUnit, ...budgets } : undefined;
}

function validateBackendSecurity(read: FieldReader, raw: unknown, path: string, provider: Provider | undefined): DesiredBackendSecurity | undefined {
  const item = read.object(raw, path, BACKEND_SECURITY_FIELDS);
  if (!item) return undefined;
  const security: DesiredBackendSecurity = {};
  for (const field of BACKEND_SECURITY_FIELDS) {
    const text = read.string(item[field], `${path}.${field}`, false);
    if (text === undefined) continue;
    // The control plane trims credentials before storing them (and before computing their hint).
    if (text.trim() === '') read.issues.push({ path: `${path}.${field}`, message: 'must not be empty' });
    else security[field] = text.trim();
  }
  const aws = security.awsAccessKeyId !== undefined || security.awsSecretAccessKey !== undefined || security.awsSessionToken !== undefined;
  if (aws && provider !== undefined && provider !== 'AWS_BEDROCK') read.issues.push({ path: `${path}.awsAccessKeyId`, message: 'AWS credentials apply to AWS_BEDROCK services only' });
  if (security.awsRegion !== undefined && provider !== undefined && provider !== 'AWS_BEDROCK') read.issues.push({ path: `${path}.awsRegion`, message: 'applies to AWS_BEDROCK services only' });
  if (aws && (security.awsAccessKeyId === undefined || security.awsSecretAccessKey === undefined)) {
    read.issues.push({ path: `${path}.${security.awsAccessKeyId === undefined ? 'awsAccessKeyId' : 'awsSecretAccessKey'}`, message: 'SigV4 needs both awsAccessKeyId and awsSecretAccessKey (and optionally awsSessionToken)' });
  }
  if (aws && security.value !== undefined) read.issues.push({ path: `${path}.value`, message: 'give either an API key (value) or AWS credentials, not both' });
  // SigV4 always signs the Authorization header; a different name here would never converge.
  if (aws && security.headerName !== undefined) read.issues.push({ path: `${path}.headerName`, message: 'does not apply to AWS SigV4 credentials' });
  return security;
}

function validateConnection(read: FieldReader, raw: unknown, path: string): DesiredConnection | undefined {
  const before = read.issues.length;
  const item = read.object(raw, path, CONNECTION_FIELDS);
  if (!item) return undefined;
  const projectText = read.string(item.project, `${path}.project`, true);
  const project = projectText === undefined ? undefined : read.domain(() => validateHandle(`${path}.project`, projectText, 'project handle'));
  const serviceText = read.string(item.service, `${path}.service`, true);
  const service = serviceText === undefined ? undefined : read.domain(() => normalizeContextPath(`${path}.service`, serviceText));
  const nameText = read.string(item.name, `${path}.name`, true);
  const name = nameText === undefined ? undefined : read.domain(() => validateName(`${path}.name`, nameText));
  const descriptionText = read.string(item.description, `${path}.description`, false);
  const description = descriptionText === undefined ? undefined : read.domain(() => validateText(`${path}.description`, descriptionText, 2000));
  if (read.issues.length > before || !project || !service || !name) return undefined;
  return { path, project, service, name, ...(description !== undefined ? { description } : {}) };
}
