// The automation commands of `tokengate`: apply, get services, remove service, connect, and the
// commands of connection-commands.ts and organization-commands.ts.
// Each talks to the control plane only through its GraphQL API and returns the exit code
// (0 ok, 1 the API refused or failed, 2 usage error: nothing sent).
import { validateName } from '../../control-plane/src/common/validation';
import { type CommandOutput, EXIT_API_ERROR, EXIT_OK, EXIT_USAGE, PROCESS_OUTPUT, printKeys, runApply } from './apply';
import { CONNECTION_FLAGS, UsageError, connection, findService, noExtraPositional, parseArgs, parseServiceTarget, required } from './command-args';
import { CONNECTION_COMMANDS } from './connection-commands';
import { ORGANIZATION_COMMANDS } from './organization-commands';
import { describeLimit } from './plan';
import { ApiError, TokengateClient } from './graphql-client';
import { readOrganization, readServices, type RemoteService } from './remote-state';
import { AUTOMATION_USAGE } from './usage';

export { AUTOMATION_USAGE } from './usage';

/** Runs `tokengate <apply|get|remove|connect> ...`; `argv` starts with the command. */
export async function runAutomationCommand(argv: string[], output: CommandOutput = PROCESS_OUTPUT, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    output.out(`usage:\n${AUTOMATION_USAGE}`);
    return EXIT_OK;
  }
  try {
    const subcommand = CONNECTION_COMMANDS[`${argv[0]} ${argv[1]}`] ?? ORGANIZATION_COMMANDS[`${argv[0]} ${argv[1]}`];
    if (subcommand) return await subcommand(argv.slice(1), output, env);
    switch (argv[0]) {
      case 'apply': {
        const args = parseArgs(argv.slice(1), { values: ['file', ...CONNECTION_FLAGS], switches: ['dry-run', 'rotate-secrets'] });
        noExtraPositional(args, 0);
        const file = required(args, 'file');
        const { url, token } = connection(args, env);
        const report = await runApply({ file, url, token, dryRun: args.switches.has('dry-run'), rotateSecrets: args.switches.has('rotate-secrets'), env }, output);
        return report.exitCode;
      }
      case 'get': {
        const args = parseArgs(argv.slice(1), { values: ['organization', ...CONNECTION_FLAGS], switches: ['json'] });
        if (args.positional[0] !== 'services') throw new UsageError(`tokengate get ${args.positional[0] ?? ''}: get services, marketplace, connections, deployments or usage`);
        noExtraPositional(args, 1);
        const handle = required(args, 'organization');
        const { url, token } = connection(args, env);
        const client = new TokengateClient(url, token);
        const organization = await readOrganization(client, handle);
        const services = await readServices(client, organization.id);
        if (args.switches.has('json')) output.out(JSON.stringify(services, null, 2));
        else printServices(services, organization.projects, output);
        return EXIT_OK;
      }
      case 'remove': {
        const args = parseArgs(argv.slice(1), { values: CONNECTION_FLAGS, switches: [] });
        if (args.positional[0] !== 'service') throw new UsageError('usage: tokengate remove service <organization handle><context path>');
        noExtraPositional(args, 2);
        const target = parseServiceTarget(args.positional[1]);
        const { url, token } = connection(args, env);
        const client = new TokengateClient(url, token);
        const service = await findService(client, target.organization, target.contextPath);
        if (service.marketplaceStatus === 'REMOVED') {
          output.out(`${target.organization}${service.contextPath} is already removed from the marketplace: no changes`);
          return EXIT_OK;
        }
        await client.mutate('removeFromMarketplace', service.contextPath, `mutation($id: ID!) { removeFromMarketplace(serviceId: $id) { id } }`, { id: service.id });
        output.out(`${target.organization}${service.contextPath} removed from the marketplace (existing connections keep working until deleted)`);
        return EXIT_OK;
      }
      case 'connect': {
        const args = parseArgs(argv.slice(1), { values: ['project', 'name', 'description', ...CONNECTION_FLAGS], switches: [] });
        noExtraPositional(args, 1);
        const target = parseServiceTarget(args.positional[0]);
        const projectHandle = required(args, 'project');
        const name = required(args, 'name');
        try {
          validateName('--name', name);
        } catch {
          throw new UsageError('--name must not be empty');
        }
        const { url, token } = connection(args, env);
        const client = new TokengateClient(url, token);
        const organization = await readOrganization(client, target.organization);
        const projectId = organization.projects.get(projectHandle);
        if (!projectId) throw new ApiError(`organization ${target.organization} has no project "${projectHandle}"`, 'NOT_FOUND', 'project', 'connect');
        const service = await findService(client, target.organization, target.contextPath, organization.id);
        const description = args.values.get('description');
        const { createConnection } = await client.mutate<{ createConnection: { keys: Array<{ environment: string; apiKey: string; endpointUrl: string }> } }>(
          'createConnection',
          `${projectHandle}/${name}`,
          `mutation($input: CreateConnectionInput!) { createConnection(input: $input) { connection { id } keys { environment apiKey endpointUrl } } }`,
          { input: { projectId, serviceId: service.id, name, ...(description !== undefined ? { description } : {}) } },
        );
        output.out(`connection ${projectHandle}/${name} created to ${target.organization}${service.contextPath}`);
        printKeys(`${projectHandle}/${name}`, createConnection.keys, output);
        return EXIT_OK;
      }
      case 'create':
        throw new UsageError('usage: tokengate create organization <handle> [--name <name>] | create project <handle> --organization <handle> [--name <name>]');
      case 'rotate':
        throw new UsageError('usage: tokengate rotate key --organization <handle> --project <handle> --name <connection> --environment <handle>');
      case 'delete':
        throw new UsageError('usage: tokengate delete connection --organization <handle> --project <handle> --name <connection>');
      default:
        throw new UsageError(`unknown command ${JSON.stringify(argv[0] ?? '')}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      output.err(`tokengate ${argv[0] ?? ''}: ${error.message}`);
      output.err(`usage:\n${AUTOMATION_USAGE}`);
      return EXIT_USAGE;
    }
    if (error instanceof ApiError) {
      output.err(`error: ${error.describe()}`);
      return EXIT_API_ERROR;
    }
    throw error;
  }
}

function printServices(services: RemoteService[], projects: Map<string, string>, output: CommandOutput): void {
  if (!services.length) {
    output.out('no services');
    return;
  }
  const projectHandle = (id: string | null) => [...projects].find(([, pid]) => pid === id)?.[0] ?? id;
  for (const service of services) {
    const scope = service.scope === 'PROJECT' ? `project ${projectHandle(service.projectId)}` : 'organization';
    output.out(`${service.contextPath}  ${service.provider}  ${JSON.stringify(service.name)}  ${scope}  ${service.marketplaceStatus}  ${service.serviceUrl}`);
    for (const config of service.environmentConfigs) {
      const security = config.backendSecurity;
      const credentials = security.configured ? `${security.authType === 'AWS_SIGV4' ? 'SigV4' : security.headerName} ${security.hint ?? ''}`.trim() : 'no credentials';
      const quota = config.connectionQuota ? `; connection quota ${describeLimit(config.connectionQuota)}` : '';
      const cutoff = config.streamCutoff ? '; stream cut-off' : '';
      output.out(`  ${config.environment}: ${credentials}; rate limit ${describeLimit(config.rateLimit)}${quota}${cutoff}${config.serviceUrl ? `; serviceUrl ${config.serviceUrl}` : ''}`);
    }
  }
}
