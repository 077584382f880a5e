// What a developer does after `connect`, from the command line: browse the marketplace, list a
// project's connections, rotate a consumer key, delete a connection; and what a platform engineer
// watches: deployments per environment and who used what. GraphQL only, like the other commands.
import { type CommandOutput, EXIT_OK, printKeys } from './apply';
import { CONNECTION_FLAGS, type ParsedArgs, UsageError, connection, findService, noExtraPositional, parseArgs, parseServiceTarget, required } from './command-args';
import { ApiError, TokengateClient } from './graphql-client';
import { readOrganization } from './remote-state';

type Handler = (argv: string[], output: CommandOutput, env: NodeJS.ProcessEnv) => Promise<number>;

interface Organization {
  id: string;
  handle: string;
  projects: Map<string, string>;
}

function projectId(organization: Organization, handle: string): string {
  const id = organization.projects.get(handle);
  if (!id) throw new ApiError(`organization ${organization.handle} has no project "${handle}"`, 'NOT_FOUND', 'project', `find project ${handle}`);
  return id;
}

function client(args: ParsedArgs, env: NodeJS.ProcessEnv): TokengateClient {
  const { url, token } = connection(args, env);
  return new TokengateClient(url, token);
}

interface ConnectionRow {
  id: string;
  name: string;
  description: string;
  createdAt: string;
  service: { contextPath: string; marketplaceStatus: string };
}

async function readConnections(api: TokengateClient, project: string, id: string): Promise<ConnectionRow[]> {
  const { connections } = await api.query<{ connections: ConnectionRow[] }>(
    `read connections of project ${project}`,
    `query($p: ID!) { connections(projectId: $p) { id name description createdAt service { contextPath marketplaceStatus } } }`,
    { p: id },
  );
  return connections;
}

/** `--organization acme --project web --name my-app` → that connection (NOT_FOUND otherwise). */
async function findConnection(api: TokengateClient, args: ParsedArgs): Promise<{ label: string; connection: ConnectionRow }> {
  const organization = await readOrganization(api, required(args, 'organization'));
  const project = required(args, 'project');
  const name = required(args, 'name');
  const found = (await readConnections(api, project, projectId(organization, project))).find((c) => c.name === name);
  if (!found) throw new ApiError(`project ${project} has no connection named "${name}"`, 'NOT_FOUND', 'name', `find connection ${project}/${name}`);
  return { label: `${project}/${name}`, connection: found };
}

const getMarketplace: Handler = async (argv, output, env) => {
  const args = parseArgs(argv, { values: ['organization', 'project', 'search', ...CONNECTION_FLAGS], switches: [] });
  noExtraPositional(args, 1);
  const api = client(args, env);
  const organization = await readOrganization(api, required(args, 'organization'));
  const project = args.values.get('project');
  const search = args.values.get('search');
  const { marketplace } = await api.query<{ marketplace: Array<{ contextPath: string; provider: string; name: string; scope: string; summary: string; labels: string[] }> }>(
    'read marketplace',
    `query($o: ID!, $p: ID, $f: MarketplaceFilter) { marketplace(organizationId: $o, projectId: $p, filter: $f) { contextPath provider name scope summary labels } }`,
    { o: organization.id, p: project === undefined ? null : projectId(organization, project), f: search === undefined ? null : { search } },
  );
  if (!marketplace.length) output.out('no services in the marketplace' + (search === undefined ? '' : ` matching ${JSON.stringify(search)}`));
  for (const s of marketplace) {
    output.out(`${organization.handle}${s.contextPath}  ${s.provider}  ${JSON.stringify(s.name)}  ${s.scope.toLowerCase()}  ${s.summary}${s.labels.length ? `  [${s.labels.join(', ')}]` : ''}`);
  }
  return EXIT_OK;
};

const getConnections: Handler = async (argv, output, env) => {
  const args = parseArgs(argv, { values: ['organization', 'project', ...CONNECTION_FLAGS], switches: [] });
  noExtraPositional(args, 1);
  const api = client(args, env);
  const organization = await readOrganization(api, required(args, 'organization'));
  const project = required(args, 'project');
  const connections = await readConnections(api, project, projectId(organization, project));
  if (!connections.length) output.out(`no connections in project ${project}`);
  for (const c of connections) {
    const removed = c.service.marketplaceStatus === 'REMOVED' ? ' (removed from the marketplace)' : '';
    output.out(`${project}/${c.name}  → ${organization.handle}${c.service.contextPath}${removed}  created ${c.createdAt}${c.description ? `  ${JSON.stringify(c.description)}` : ''}`);
  }
  return EXIT_OK;
};

const getDeployments: Handler = async (argv, output, env) => {
  const args = parseArgs(argv, { values: CONNECTION_FLAGS, switches: [] });
  noExtraPositional(args, 2);
  const target = parseServiceTarget(args.positional[1]);
  const api = client(args, env);
  const service = await findService(api, target.organization, target.contextPath);
  const { deployments } = await api.query<{
    deployments: Array<{ environment: string; status: string; revision: number; message: string; updatedAt: string; dataPlanes: Array<{ proxyId: string; applied: boolean; connected: boolean; lastNackReason: string | null }> }>;
  }>(
    'read deployments',
    `query($s: ID!) { deployments(serviceId: $s) { environment status revision message updatedAt dataPlanes { proxyId applied connected lastNackReason } } }`,
    { s: service.id },
  );
  if (!deployments.length) output.out(`no deployments of ${target.organization}${service.contextPath}`);
  for (const d of deployments) {
    const proxies = d.dataPlanes.filter((p) => p.connected);
    output.out(`${d.environment}  ${d.status}  revision ${d.revision}  ${proxies.filter((p) => p.applied).length}/${proxies.length} connected proxies applied  ${d.updatedAt}${d.message ? `  ${d.message}` : ''}`);
    for (const p of d.dataPlanes.filter((p) => p.lastNackReason)) output.out(`  ${p.proxyId} refused: ${p.lastNackReason}`);
  }
  return EXIT_OK;
};

const getUsage: Handler = async (argv, output, env) => {
  const args = parseArgs(argv, { values: ['organization', 'service', 'environment', 'hours', ...CONNECTION_FLAGS], switches: [] });
  noExtraPositional(args, 1);
  const hoursText = args.values.get('hours') ?? '24';
  const hours = Number(hoursText);
  if (!Number.isInteger(hours) || hours < 1) throw new UsageError(`--hours must be a whole number of hours, got ${JSON.stringify(hoursText)}`);
  const serviceTarget = args.values.get('service');
  const api = client(args, env);
  const organization = await readOrganization(api, required(args, 'organization'));
  const service = serviceTarget === undefined ? undefined : await findService(api, organization.handle, parseServiceTarget(`${organization.handle}${serviceTarget.startsWith('/') ? '' : '/'}${serviceTarget}`).contextPath, organization.id);
  const { genAIServices } = await api.query<{ genAIServices: Array<{ id: string; contextPath: string }> }>('read services', `query($o: ID!) { genAIServices(organizationId: $o) { id contextPath } }`, { o: organization.id });
  const paths = new Map(genAIServices.map((s) => [s.id, s.contextPath]));
  const projects = new Map([...organization.projects].map(([handle, id]) => [id, handle]));
  const to = new Date();
  const { usage } = await api.query<{
    usage: { from: string; to: string; rows: Array<{ environment: string; serviceId: string; projectId: string | null; connectionName: string | null; requests: number; promptTokens: number; completionTokens: number; totalTokens: number; errors4xx: number; errors5xx: number }> };
  }>(
    'read usage',
    `query($f: UsageFilter!) { usage(filter: $f, groupBy: [ENVIRONMENT, SERVICE, PROJECT, CONNECTION]) { from to rows { environment serviceId projectId connectionName requests promptTokens completionTokens totalTokens errors4xx errors5xx } } }`,
    { f: { organizationId: organization.id, serviceId: service?.id ?? null, environment: args.values.get('environment') ?? null, from: new Date(to.getTime() - hours * 3_600_000).toISOString(), to: to.toISOString() } },
  );
  output.out(`usage of organization ${organization.handle} from ${usage.from} to ${usage.to}:`);
  if (!usage.rows.length) output.out('  no requests');
  for (const r of usage.rows) {
    const who = r.connectionName === null ? 'a deleted connection' : `${projects.get(r.projectId ?? '') ?? r.projectId}/${r.connectionName}`;
    output.out(
      `  ${r.environment}  ${organization.handle}${paths.get(r.serviceId) ?? r.serviceId}  ${who}  ${r.requests} requests  ${r.promptTokens} prompt + ${r.completionTokens} completion = ${r.totalTokens} tokens  ${r.errors4xx} 4xx, ${r.errors5xx} 5xx`,
    );
  }
  return EXIT_OK;
};

const rotateKey: Handler = async (argv, output, env) => {
  const args = parseArgs(argv, { values: ['organization', 'project', 'name', 'environment', 'grace-seconds', ...CONNECTION_FLAGS], switches: [] });
  noExtraPositional(args, 1);
  const environment = required(args, 'environment');
  const graceText = args.values.get('grace-seconds');
  const graceSeconds = graceText === undefined ? undefined : Number(graceText);
  if (graceSeconds !== undefined && !Number.isInteger(graceSeconds)) throw new UsageError(`--grace-seconds must be a whole number, got ${JSON.stringify(graceText)}`);
  const api = client(args, env);
  const { label, connection: found } = await findConnection(api, args);
  const { rotateConnectionKey } = await api.mutate<{ rotateConnectionKey: { environment: string; apiKey: string; endpointUrl: string } }>(
    'rotateConnectionKey',
    `${label} ${environment}`,
    `mutation($c: ID!, $e: String!, $g: Int) { rotateConnectionKey(connectionId: $c, environment: $e, graceSeconds: $g) { environment apiKey endpointUrl } }`,
    { c: found.id, e: environment, g: graceSeconds ?? null },
  );
  output.out(`key of ${label} in ${environment} rotated; the previous one ${graceSeconds ? `keeps working for ${graceSeconds} s` : 'stops working now'}`);
  printKeys(label, [rotateConnectionKey], output);
  return EXIT_OK;
};

const deleteConnection: Handler = async (argv, output, env) => {
  const args = parseArgs(argv, { values: ['organization', 'project', 'name', ...CONNECTION_FLAGS], switches: [] });
  noExtraPositional(args, 1);
  const api = client(args, env);
  const { label, connection: found } = await findConnection(api, args);
  await api.mutate('deleteConnection', label, `mutation($id: ID!) { deleteConnection(id: $id) }`, { id: found.id });
  output.out(`connection ${label} deleted: its keys stop working`);
  return EXIT_OK;
};

/** `get <what>`, `rotate key` and `delete connection`, by their first two words. */
export const CONNECTION_COMMANDS: Record<string, Handler> = {
  'get marketplace': getMarketplace,
  'get connections': getConnections,
  'get deployments': getDeployments,
  'get usage': getUsage,
  'rotate key': rotateKey,
  'delete connection': deleteConnection,
};
