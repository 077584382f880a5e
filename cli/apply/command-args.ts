// The command line of the automation commands: flags, the control plane to talk to, and how a
// service is named (`acme/openai`). A UsageError means nothing was sent (exit 2).
import { GraphQLError } from 'graphql';
import { normalizeContextPath, validateOrganizationHandle } from '../../control-plane/src/common/validation';
import { ApiError, DEFAULT_GRAPHQL_URL, type TokengateClient } from './graphql-client';
import { readOrganization, readServices, type RemoteService } from './remote-state';

export class UsageError extends Error {}

export interface CommandSpec {
  /** Flags taking a value; `-f` is the short form of `--file`. */
  values: string[];
  switches: string[];
}

export interface ParsedArgs {
  positional: string[];
  values: Map<string, string>;
  switches: Set<string>;
}

export const CONNECTION_FLAGS = ['url', 'token'];

export function parseArgs(argv: string[], spec: CommandSpec): ParsedArgs {
  const parsed: ParsedArgs = { positional: [], values: new Map(), switches: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('-') || arg === '-') {
      parsed.positional.push(arg);
      continue;
    }
    const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf('=');
    const inline = eq >= 0 ? body.slice(eq + 1) : undefined;
    let name = eq >= 0 ? body.slice(0, eq) : body;
    if (!arg.startsWith('--')) {
      if (name !== 'f') throw new UsageError(`unknown flag ${arg}`);
      name = 'file';
    }
    if (spec.switches.includes(name)) {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      parsed.switches.add(name);
    } else if (spec.values.includes(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined || (inline === undefined && value.startsWith('--'))) throw new UsageError(`${arg} needs a value`);
      parsed.values.set(name, value);
    } else {
      throw new UsageError(`unknown flag ${arg}`);
    }
  }
  return parsed;
}

export function connection(args: ParsedArgs, env: NodeJS.ProcessEnv): { url: string; token: string } {
  const url = args.values.get('url') || env.TOKENGATE_URL || DEFAULT_GRAPHQL_URL;
  const token = args.values.get('token') || env.TOKENGATE_TOKEN;
  if (!token) throw new UsageError('no API token: pass --token <API token> or set TOKENGATE_TOKEN');
  try {
    new URL(url);
  } catch {
    throw new UsageError(`--url ${JSON.stringify(url)} is not a URL (e.g. ${DEFAULT_GRAPHQL_URL})`);
  }
  return { url, token };
}

/** `acme/openai/v2` → organization acme, context path /openai/v2. */
export function parseServiceTarget(target: string | undefined): { organization: string; contextPath: string } {
  const slash = target?.indexOf('/') ?? -1;
  if (!target || slash <= 0 || slash === target.length - 1) throw new UsageError('name the service as <organization handle><context path>, e.g. acme/openai');
  try {
    return {
      organization: validateOrganizationHandle('organization', target.slice(0, slash)),
      contextPath: normalizeContextPath('context path', target.slice(slash)),
    };
  } catch (error) {
    if (error instanceof GraphQLError) throw new UsageError(`${target}: ${error.message}`);
    throw error;
  }
}

export function required(args: ParsedArgs, flag: string): string {
  const value = args.values.get(flag);
  if (!value) throw new UsageError(`--${flag} is required`);
  return value;
}

export function noExtraPositional(args: ParsedArgs, count: number): void {
  if (args.positional.length > count) throw new UsageError(`unexpected argument ${JSON.stringify(args.positional[count])}`);
}

export async function findService(client: TokengateClient, organizationHandle: string, contextPath: string, organizationId?: string): Promise<RemoteService> {
  const id = organizationId ?? (await readOrganization(client, organizationHandle)).id;
  const service = (await readServices(client, id)).find((s) => s.contextPath === contextPath);
  if (!service) throw new ApiError(`organization ${organizationHandle} has no service at ${contextPath}`, 'NOT_FOUND', undefined, `find ${organizationHandle}${contextPath}`);
  return service;
}

