// Compares the declarative file with what the control plane returns and lists the mutations that
// make them match. Pure: no I/O, so the same file against the same state always gives the same plan,
// and a state that already matches gives a plan without steps (the idempotency of `apply`).
//
// Identity: a service is (organization, contextPath); a connection is (project, name).
// Fields the file leaves out are not managed. Objects the file does not list are left alone.
//
// Secrets cannot be read back. The API returns `configured` and a hint: "…" followed by the last 4
// characters of the key (of the API key, or of the AWS access key id for SigV4; just "…" for keys
// shorter than 12 characters). A secret is sent when the environment has none, when the kind
// changes (API key ↔ SigV4), when the hint computed from the file's secret differs from the API's
// hint, or when the caller asks for a rotation (`--rotate-secrets`). Limit: a new key whose last 4
// characters equal the old one's (or a key under 12 characters replaced by another such key, or an
// AWS secret access key replaced under the same access key id) is not detected; rotate explicitly.
import { secretHint } from '../../control-plane/src/secrets/secret-box';
import type {
  DeclarativeFile,
  DesiredBackendSecurity,
  DesiredConnection,
  DesiredEnvironment,
  DesiredRateLimit,
  DesiredService,
  MarketplaceStatus,
  Provider,
  Scope,
} from './declarative-file';
import type { RemoteEnvironmentConfig, RemoteRateLimit, RemoteService, RemoteState } from './remote-state';

/** What configureServiceEnvironment takes: the same fields as the file's backend security. */
export type BackendSecurityInput = DesiredBackendSecurity;

export type RateLimitInput = DesiredRateLimit;

export interface ConfigureServiceEnvironmentInput {
  backendSecurity?: BackendSecurityInput;
  /** null removes the limits. */
  rateLimit?: RateLimitInput | null;
  /** null removes the default quota of connections. */
  connectionQuota?: RateLimitInput | null;
  streamCutoff?: boolean;
  /** null removes the override. */
  serviceUrl?: string | null;
}

export interface RegisterGenAIServiceInput {
  organizationId: string;
  projectId?: string;
  scope: Scope;
  provider: Provider;
  name: string;
  contextPath: string;
  serviceUrl: string;
  summary?: string;
  description?: string;
  labels?: string[];
  environments: Array<{ environment: string; backendSecurity?: BackendSecurityInput; rateLimit?: RateLimitInput; connectionQuota?: RateLimitInput; streamCutoff?: boolean; serviceUrl?: string }>;
}

export interface UpdateGenAIServiceInput {
  name?: string;
  serviceUrl?: string;
  summary?: string;
  description?: string;
  labels?: string[];
}

/** One mutation to send. `serviceId` is null for a service the same run registers (resolved by context path). */
export type MutationStep =
  | { kind: 'registerGenAIService'; contextPath: string; input: RegisterGenAIServiceInput }
  | { kind: 'updateGenAIService'; contextPath: string; serviceId: string; input: UpdateGenAIServiceInput }
  | { kind: 'configureServiceEnvironment'; contextPath: string; serviceId: string | null; environment: string; input: ConfigureServiceEnvironmentInput }
  | { kind: 'removeFromMarketplace'; contextPath: string; serviceId: string | null }
  | { kind: 'createConnection'; label: string; projectId: string; serviceContextPath: string; serviceId: string | null; name: string; description?: string };

/**
 * Services are registered and updated first, then connections are created (so they may target a
 * service of the same file), and services are removed from the marketplace last.
 */
export const STEP_PHASE: Record<MutationStep['kind'], number> = {
  registerGenAIService: 0,
  updateGenAIService: 0,
  configureServiceEnvironment: 0,
  createConnection: 1,
  removeFromMarketplace: 2,
};

export type PlanAction = 'create' | 'update' | 'remove' | 'unchanged';

export interface PlanItem {
  kind: 'service' | 'connection';
  /** `/openai` for a service, `web/my-app` (project/name) for a connection. */
  label: string;
  action: PlanAction;
  /** What changes, for people; never a secret. */
  details: string[];
  steps: MutationStep[];
}

/** The file cannot be applied to this control plane as it is; nothing is sent. */
export interface PlanProblem {
  code: 'NOT_FOUND' | 'CONFLICT' | 'BAD_USER_INPUT';
  /** Path of the field in the file. */
  path: string;
  message: string;
}

export interface Plan {
  organization: { id: string; handle: string };
  items: PlanItem[];
  problems: PlanProblem[];
  /** Differences the API offers no way to change (they do not fail the run). */
  warnings: string[];
}

export interface PlanOptions {
  /** Send every secret of the file even when the hint matches. */
  rotateSecrets?: boolean;
}

export function planSteps(plan: Plan): MutationStep[] {
  return plan.items.flatMap((item) => item.steps).sort((a, b) => STEP_PHASE[a.kind] - STEP_PHASE[b.kind]);
}

export function planApply(file: DeclarativeFile, state: RemoteState, options: PlanOptions = {}): Plan {
  const plan: Plan = { organization: state.organization, items: [], problems: [], warnings: [] };
  for (const service of file.services) plan.items.push(planService(service, state, plan, options));
  for (const connection of file.connections) {
    const item = planConnection(connection, file, state, plan);
    if (item) plan.items.push(item);
  }
  return plan;
}

function planService(desired: DesiredService, state: RemoteState, plan: Plan, options: PlanOptions): PlanItem {
  const item: PlanItem = { kind: 'service', label: desired.contextPath, action: 'unchanged', details: [], steps: [] };
  const projectId = desired.project === null ? null : (state.projects.get(desired.project) ?? null);
  if (desired.project !== null && projectId === null) {
    plan.problems.push({ code: 'NOT_FOUND', path: `${desired.path}.project`, message: `organization ${state.organization.handle} has no project "${desired.project}" (known: ${[...state.projects.keys()].join(', ') || 'none'})` });
  }
  for (const environment of desired.environments) {
    if (!state.environments.includes(environment.handle)) {
      plan.problems.push({ code: 'BAD_USER_INPUT', path: environment.path, message: `unknown environment "${environment.handle}" (known: ${state.environments.join(', ') || 'none'})` });
    }
  }
  const remote = state.services.find((s) => s.contextPath === desired.contextPath);
  if (!remote) {
    item.action = 'create';
    item.details.push(`${desired.provider} "${desired.name}", scope ${desired.scope}${desired.project ? ` (project ${desired.project})` : ''}`);
    if (desired.environments.length) item.details.push(`environments: ${desired.environments.map((e) => `${e.handle} (${describeNewEnvironment(e)})`).join('; ')}`);
    item.steps.push({ kind: 'registerGenAIService', contextPath: desired.contextPath, input: registerInput(desired, state.organization.id, projectId) });
    if (desired.marketplace === 'REMOVED') {
      item.details.push('then removed from the marketplace');
      item.steps.push({ kind: 'removeFromMarketplace', contextPath: desired.contextPath, serviceId: null });
    }
    return item;
  }

  if (remote.provider !== desired.provider) immutable(plan, `${desired.path}.provider`, `provider cannot change (${remote.provider} → ${desired.provider})`);
  if (remote.scope !== desired.scope) immutable(plan, `${desired.path}.scope`, `scope cannot change (${remote.scope} → ${desired.scope})`);
  else if (desired.scope === 'PROJECT' && projectId !== null && remote.projectId !== projectId) {
    immutable(plan, `${desired.path}.project`, `the project of a PROJECT-scoped service cannot change (registered in ${projectHandle(state, remote.projectId)})`);
  }

  const update: UpdateGenAIServiceInput = {};
  if (desired.name !== remote.name) {
    update.name = desired.name;
    item.details.push(`name: ${JSON.stringify(remote.name)} → ${JSON.stringify(desired.name)}`);
  }
  if (desired.serviceUrl !== remote.serviceUrl) {
    update.serviceUrl = desired.serviceUrl;
    item.details.push(`serviceUrl: ${remote.serviceUrl} → ${desired.serviceUrl}`);
  }
  if (desired.summary !== undefined && desired.summary !== remote.summary) {
    update.summary = desired.summary;
    item.details.push('summary');
  }
  if (desired.description !== undefined && desired.description !== remote.description) {
    update.description = desired.description;
    item.details.push('description');
  }
  if (desired.labels !== undefined && JSON.stringify(desired.labels) !== JSON.stringify(remote.labels)) {
    update.labels = desired.labels;
    item.details.push(`labels: [${remote.labels.join(', ')}] → [${desired.labels.join(', ')}]`);
  }
  if (Object.keys(update).length) item.steps.push({ kind: 'updateGenAIService', contextPath: remote.contextPath, serviceId: remote.id, input: update });

  for (const environment of desired.environments) {
    if (!state.environments.includes(environment.handle)) continue;
    const current = remote.environmentConfigs.find((c) => c.environment === environment.handle);
    const { input, details } = diffEnvironment(environment, current, options);
    if (!details.length) continue;
    item.details.push(`${environment.handle}: ${details.join(', ')}`);
    item.steps.push({ kind: 'configureServiceEnvironment', contextPath: remote.contextPath, serviceId: remote.id, environment: environment.handle, input });
  }

  if (desired.marketplace === 'PUBLISHED' && remote.marketplaceStatus === 'REMOVED') {
    plan.problems.push({ code: 'CONFLICT', path: `${desired.path}.marketplace`, message: 'the service has been removed from the marketplace and the API offers no way to publish it again (register it under another context path)' });
  }
  if (desired.marketplace === 'REMOVED' && remote.marketplaceStatus === 'PUBLISHED') {
    item.steps.push({ kind: 'removeFromMarketplace', contextPath: remote.contextPath, serviceId: remote.id });
    item.details.push('remove from the marketplace');
  }
  if (item.steps.length) item.action = item.steps.every((s) => s.kind === 'removeFromMarketplace') ? 'remove' : 'update';
  return item;
}

function immutable(plan: Plan, path: string, message: string): void {
  plan.problems.push({ code: 'CONFLICT', path, message: `${message}; register a new service under another context path instead` });
}

function projectHandle(state: RemoteState, projectId: string | null): string {
  for (const [handle, id] of state.projects) if (id === projectId) return handle;
  return projectId ?? 'no project';
}

function registerInput(desired: DesiredService, organizationId: string, projectId: string | null): RegisterGenAIServiceInput {
  const input: RegisterGenAIServiceInput = {
    organizationId,
    scope: desired.scope,
    provider: desired.provider,
    name: desired.name,
    contextPath: desired.contextPath,
    serviceUrl: desired.serviceUrl,
    environments: desired.environments.map((environment) => ({
      environment: environment.handle,
      ...(environment.backendSecurity && Object.keys(environment.backendSecurity).length ? { backendSecurity: { ...environment.backendSecurity } } : {}),
      ...(environment.rateLimit ? { rateLimit: environment.rateLimit } : {}),
      ...(environment.connectionQuota ? { connectionQuota: environment.connectionQuota } : {}),
      ...(environment.streamCutoff !== undefined ? { streamCutoff: environment.streamCutoff } : {}),
      ...(typeof environment.serviceUrl === 'string' ? { serviceUrl: environment.serviceUrl } : {}),
    })),
  };
  if (projectId) input.projectId = projectId;
  if (desired.summary !== undefined) input.summary = desired.summary;
  if (desired.description !== undefined) input.description = desired.description;
  if (desired.labels !== undefined) input.labels = desired.labels;
  return input;
}

function describeNewEnvironment(environment: DesiredEnvironment): string {
  const parts: string[] = [];
  if (environment.backendSecurity?.value !== undefined) parts.push('API key');
  if (environment.backendSecurity?.awsAccessKeyId !== undefined) parts.push('AWS credentials');
  if (environment.rateLimit) parts.push(`rate limit ${describeLimit(environment.rateLimit)}`);
  if (environment.connectionQuota) parts.push(`connection quota ${describeLimit(environment.connectionQuota)}`);
  if (environment.streamCutoff) parts.push('stream cut-off');
  if (typeof environment.serviceUrl === 'string') parts.push(`serviceUrl ${environment.serviceUrl}`);
  return parts.join(', ') || 'defaults';
}

export function describeLimit(limit: RemoteRateLimit | DesiredRateLimit | null): string {
  if (!limit) return 'none';
  const budgets = [
    limit.maxPromptTokens !== null ? `prompt ${limit.maxPromptTokens}` : '',
    limit.maxCompletionTokens !== null ? `completion ${limit.maxCompletionTokens}` : '',
    limit.maxTotalTokens !== null ? `total ${limit.maxTotalTokens}` : '',
  ].filter(Boolean);
  return `${budgets.join(' ') || 'unlimited'} per ${limit.timeUnit}${limit.enforce ? '' : ' (shadow)'}`;
}

function sameLimit(a: RemoteRateLimit | DesiredRateLimit | null, b: RemoteRateLimit | DesiredRateLimit | null): boolean {
  if (!a || !b) return a === b;
  return (
    a.timeUnit === b.timeUnit &&
    a.maxPromptTokens === b.maxPromptTokens &&
    a.maxCompletionTokens === b.maxCompletionTokens &&
    a.maxTotalTokens === b.maxTotalTokens &&
    a.enforce === b.enforce
  );
}

/** Why the file's secret must be sent, or null when what the API holds matches it (see the file header). */
export function secretChangeReason(desired: DesiredBackendSecurity, current: RemoteEnvironmentConfig['backendSecurity'] | undefined, rotate: boolean): string | null {
  const key = desired.value ?? desired.awsAccessKeyId;
  if (key === undefined) return null;
  const kind = desired.value !== undefined ? 'API_KEY' : 'AWS_SIGV4';
  if (!current?.configured) return 'credentials set (none configured)';
  if (current.authType !== kind) return `credentials replaced (${current.authType} → ${kind})`;
  if (current.hint !== secretHint(key)) return 'credentials replaced (the key differs from the one applied)';
  if (rotate) return 'credentials re-sent (--rotate-secrets)';
  return null;
}

function diffEnvironment(desired: DesiredEnvironment, current: RemoteEnvironmentConfig | undefined, options: PlanOptions): { input: ConfigureServiceEnvironmentInput; details: string[] } {
  const input: ConfigureServiceEnvironmentInput = {};
  const details: string[] = [];
  if (desired.serviceUrl !== undefined && desired.serviceUrl !== (current?.serviceUrl ?? null)) {
    input.serviceUrl = desired.serviceUrl;
    details.push(`serviceUrl override ${current?.serviceUrl ?? 'none'} → ${desired.serviceUrl ?? 'none'}`);
  }
  if (desired.rateLimit !== undefined && !sameLimit(desired.rateLimit, current?.rateLimit ?? null)) {
    input.rateLimit = desired.rateLimit;
    details.push(`rateLimit ${describeLimit(current?.rateLimit ?? null)} → ${describeLimit(desired.rateLimit)}`);
  }
  if (desired.connectionQuota !== undefined && !sameLimit(desired.connectionQuota, current?.connectionQuota ?? null)) {
    input.connectionQuota = desired.connectionQuota;
    details.push(`connectionQuota ${describeLimit(current?.connectionQuota ?? null)} → ${describeLimit(desired.connectionQuota)}`);
  }
  if (desired.streamCutoff !== undefined && desired.streamCutoff !== (current?.streamCutoff ?? false)) {
    input.streamCutoff = desired.streamCutoff;
    details.push(`streamCutoff ${current?.streamCutoff ? 'on' : 'off'} → ${desired.streamCutoff ? 'on' : 'off'}`);
  }
  const security = desired.backendSecurity;
  if (security) {
    const patch: BackendSecurityInput = {};
    const now = current?.backendSecurity;
    for (const field of ['headerName', 'apiVersion', 'awsRegion'] as const) {
      const value = security[field];
      if (value !== undefined && value !== (now?.[field] ?? null)) {
        patch[field] = value;
        details.push(`${field} ${now?.[field] ?? 'none'} → ${value}`);
      }
    }
    const reason = secretChangeReason(security, now, options.rotateSecrets ?? false);
    if (reason) {
      details.push(reason);
      for (const field of ['value', 'awsAccessKeyId', 'awsSecretAccessKey', 'awsSessionToken'] as const) {
        if (security[field] !== undefined) patch[field] = security[field];
      }
      // Sending a key may reset the header to the provider default; keep the file's header.
      if (security.headerName !== undefined) patch.headerName = security.headerName;
    }
    if (Object.keys(patch).length) input.backendSecurity = patch;
  }
  return { input, details };
}

function planConnection(desired: DesiredConnection, file: DeclarativeFile, state: RemoteState, plan: Plan): PlanItem | null {
  const label = `${desired.project}/${desired.name}`;
  const projectId = state.projects.get(desired.project);
  if (!projectId) {
    plan.problems.push({ code: 'NOT_FOUND', path: `${desired.path}.project`, message: `organization ${state.organization.handle} has no project "${desired.project}"` });
    return null;
  }
  const inFile = file.services.find((s) => s.contextPath === desired.service);
  const remote: RemoteService | undefined = state.services.find((s) => s.contextPath === desired.service);
  if (!inFile && !remote) {
    plan.problems.push({ code: 'NOT_FOUND', path: `${desired.path}.service`, message: `no service with context path ${desired.service} in the file or in organization ${state.organization.handle}` });
    return null;
  }
  const scope: Scope = inFile?.scope ?? remote?.scope ?? 'ORGANIZATION';
  const serviceProjectId = inFile ? (inFile.project ? state.projects.get(inFile.project) : null) : remote?.projectId;
  if (scope === 'PROJECT' && serviceProjectId !== projectId) {
    plan.problems.push({ code: 'BAD_USER_INPUT', path: `${desired.path}.service`, message: `${desired.service} is registered in another project and is not visible in project ${desired.project}` });
    return null;
  }

  const existing = state.connections.get(projectId)?.find((c) => c.name === desired.name);
  if (existing) {
    if (existing.serviceId !== remote?.id) {
      plan.problems.push({ code: 'CONFLICT', path: `${desired.path}.name`, message: `connection ${label} exists and targets another service; connections are never re-created (delete it, or choose another name)` });
    } else if (desired.description !== undefined && desired.description !== existing.description) {
      plan.warnings.push(`connection ${label}: the description differs, but the API cannot change it (left as is)`);
    }
    return { kind: 'connection', label, action: 'unchanged', details: [], steps: [] };
  }
  const status: MarketplaceStatus | undefined = remote?.marketplaceStatus;
  if (status === 'REMOVED') {
    plan.problems.push({ code: 'CONFLICT', path: `${desired.path}.service`, message: `${desired.service} has been removed from the marketplace and accepts no new connections` });
    return null;
  }
  return {
    kind: 'connection',
    label,
    action: 'create',
    details: [`to ${desired.service}; prints its consumer keys once`],
    steps: [{ kind: 'createConnection', label, projectId, serviceContextPath: desired.service, serviceId: remote?.id ?? null, name: desired.name, ...(desired.description !== undefined ? { description: desired.description } : {}) }],
  };
}
