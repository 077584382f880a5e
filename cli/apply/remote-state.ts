// What the control plane holds for one organization, read through GraphQL queries only.
import type { MarketplaceStatus, Provider, Scope, TimeUnit } from './declarative-file';
import type { TokengateClient } from './graphql-client';

export interface RemoteRateLimit {
  timeUnit: TimeUnit;
  maxPromptTokens: number | null;
  maxCompletionTokens: number | null;
  maxTotalTokens: number | null;
  /** false: shadow mode. */
  enforce: boolean;
}

export interface RemoteEnvironmentConfig {
  environment: string;
  serviceUrl: string | null;
  rateLimit: RemoteRateLimit | null;
  connectionQuota: RemoteRateLimit | null;
  streamCutoff: boolean;
  backendSecurity: {
    authType: 'API_KEY' | 'AWS_SIGV4';
    headerName: string;
    configured: boolean;
    /** Masked: "…" followed by the last 4 characters of the key (API key, or AWS access key id). */
    hint: string | null;
    apiVersion: string | null;
    awsRegion: string | null;
  };
}

export interface RemoteService {
  id: string;
  contextPath: string;
  provider: Provider;
  name: string;
  serviceUrl: string;
  scope: Scope;
  projectId: string | null;
  summary: string;
  description: string;
  labels: string[];
  marketplaceStatus: MarketplaceStatus;
  environmentConfigs: RemoteEnvironmentConfig[];
}

export interface RemoteConnection {
  id: string;
  name: string;
  description: string;
  serviceId: string;
  projectId: string;
}

export interface RemoteState {
  organization: { id: string; handle: string };
  /** Project handle → id. */
  projects: Map<string, string>;
  /** Environment handles known to the installation. */
  environments: string[];
  services: RemoteService[];
  /** Connections of the projects asked for, by project id. */
  connections: Map<string, RemoteConnection[]>;
}

const LIMIT_FIELDS = 'timeUnit maxPromptTokens maxCompletionTokens maxTotalTokens enforce';

export const SERVICE_FIELDS = `id contextPath provider name serviceUrl scope projectId summary description labels marketplaceStatus
  environmentConfigs { environment serviceUrl rateLimit { ${LIMIT_FIELDS} } connectionQuota { ${LIMIT_FIELDS} } streamCutoff
    backendSecurity { authType headerName configured hint apiVersion awsRegion } }`;

export async function readOrganization(client: TokengateClient, handle: string): Promise<{ id: string; handle: string; projects: Map<string, string> }> {
  const { organization } = await client.query<{ organization: { id: string; handle: string; projects: Array<{ id: string; handle: string }> } }>(
    `read organization ${handle}`,
    `query($handle: String!) { organization(handle: $handle) { id handle projects { id handle } } }`,
    { handle },
  );
  return { id: organization.id, handle: organization.handle, projects: new Map(organization.projects.map((p) => [p.handle, p.id])) };
}

export async function readServices(client: TokengateClient, organizationId: string): Promise<RemoteService[]> {
  const { genAIServices } = await client.query<{ genAIServices: RemoteService[] }>(
    'read services',
    `query($organizationId: ID!) { genAIServices(organizationId: $organizationId) { ${SERVICE_FIELDS} } }`,
    { organizationId },
  );
  return genAIServices;
}

/** Reads the organization, its projects, the environments, its services and the connections of `projectHandles`. */
export async function readRemoteState(client: TokengateClient, organizationHandle: string, projectHandles: Iterable<string>): Promise<RemoteState> {
  const organization = await readOrganization(client, organizationHandle);
  const { environments } = await client.query<{ environments: Array<{ handle: string }> }>('read environments', '{ environments { handle } }');
  const services = await readServices(client, organization.id);
  const connections = new Map<string, RemoteConnection[]>();
  for (const handle of new Set(projectHandles)) {
    const projectId = organization.projects.get(handle);
    if (!projectId || connections.has(projectId)) continue;
    const result = await client.query<{ connections: RemoteConnection[] }>(
      `read connections of project ${handle}`,
      `query($projectId: ID!) { connections(projectId: $projectId) { id name description serviceId projectId } }`,
      { projectId },
    );
    connections.set(projectId, result.connections);
  }
  return {
    organization: { id: organization.id, handle: organization.handle },
    projects: organization.projects,
    environments: environments.map((e) => e.handle),
    services,
    connections,
  };
}
