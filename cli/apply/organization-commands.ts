// `tokengate create organization` and `create project`: what an installation admin (organizations)
// or an organization ADMIN (projects) does first, before `apply` or `connect` can name them.
import { type CommandOutput, EXIT_OK } from './apply';
import { CONNECTION_FLAGS, type ParsedArgs, UsageError, connection, noExtraPositional, parseArgs, required } from './command-args';
import { TokengateClient } from './graphql-client';
import { readOrganization } from './remote-state';

type Handler = (argv: string[], output: CommandOutput, env: NodeJS.ProcessEnv) => Promise<number>;

/** `create <what> <handle> [--name <name>] ...`: the handle, and the flags. */
function handleArgument(argv: string[], what: string): { handle: string; args: ParsedArgs } {
  const args = parseArgs(argv, { values: ['name', ...(what === 'project' ? ['organization'] : []), ...CONNECTION_FLAGS], switches: [] });
  noExtraPositional(args, 2);
  const handle = args.positional[1];
  if (!handle) throw new UsageError(`name the ${what}: tokengate create ${what} <handle> [--name <name>]`);
  return { handle, args };
}

const createOrganization: Handler = async (argv, output, env) => {
  const { handle, args } = handleArgument(argv, 'organization');
  const name = args.values.get('name') ?? handle;
  const { url, token } = connection(args, env);
  const api = new TokengateClient(url, token);
  const { createOrganization: created } = await api.mutate<{ createOrganization: { id: string } }>(
    'createOrganization',
    handle,
    'mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }',
    { i: { handle, name } },
  );
  output.out(`organization ${handle} created (id ${created.id}); proxy paths start with /${handle}`);
  return EXIT_OK;
};

const createProject: Handler = async (argv, output, env) => {
  const { handle, args } = handleArgument(argv, 'project');
  const organizationHandle = required(args, 'organization');
  const name = args.values.get('name') ?? handle;
  const { url, token } = connection(args, env);
  const api = new TokengateClient(url, token);
  const organization = await readOrganization(api, organizationHandle);
  const { createProject: created } = await api.mutate<{ createProject: { id: string } }>(
    'createProject',
    `${organizationHandle}/${handle}`,
    'mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }',
    { i: { organizationId: organization.id, handle, name } },
  );
  output.out(`project ${handle} created in organization ${organizationHandle} (id ${created.id})`);
  return EXIT_OK;
};

export const ORGANIZATION_COMMANDS: Record<string, Handler> = {
  'create organization': createOrganization,
  'create project': createProject,
};
