// `tokengate apply`: validate the file, read the organization through GraphQL, print the plan,
// send the mutations in order and print the result. Consumer keys are printed once, when issued;
// provider secrets never are.
import { DeclarativeFileError, loadDeclarativeFile } from './declarative-file';
import { ApiError, type SentMutation, TokengateClient } from './graphql-client';
import { type MutationStep, type Plan, type PlanItem, planApply, planSteps } from './plan';
import { readRemoteState } from './remote-state';

export const EXIT_OK = 0;
/** The API refused or failed (or the file cannot apply to what it holds). */
export const EXIT_API_ERROR = 1;
/** Bad arguments or a bad file: nothing was sent. */
export const EXIT_USAGE = 2;

/** Where commands print: stdout for results, stderr for problems. Tests capture both. */
export interface CommandOutput {
  out(line: string): void;
  err(line: string): void;
}

export const PROCESS_OUTPUT: CommandOutput = {
  out: (line) => void process.stdout.write(`${line}\n`),
  err: (line) => void process.stderr.write(`${line}\n`),
};

export interface IssuedKey {
  connection: string;
  environment: string;
  apiKey: string;
  endpointUrl: string;
}

export interface ApplyOptions {
  file: string;
  url: string;
  token: string;
  dryRun?: boolean;
  rotateSecrets?: boolean;
  /** Where `${VAR}` references are resolved. */
  env?: NodeJS.ProcessEnv;
}

export interface ApplyReport {
  exitCode: number;
  plan: Plan | null;
  /** Mutations sent, in order (none on a dry run, a bad file, or a state that already matches). */
  mutations: SentMutation[];
  issuedKeys: IssuedKey[];
}

const ACTION_MARK: Record<PlanItem['action'], string> = { create: '+', update: '~', remove: '-', unchanged: '=' };

export async function runApply(options: ApplyOptions, output: CommandOutput = PROCESS_OUTPUT): Promise<ApplyReport> {
  const client = new TokengateClient(options.url, options.token);
  const report: ApplyReport = { exitCode: EXIT_OK, plan: null, mutations: client.mutationsSent, issuedKeys: [] };
  let file;
  try {
    file = loadDeclarativeFile(options.file, options.env ?? process.env);
  } catch (error) {
    if (!(error instanceof DeclarativeFileError)) throw error;
    output.err(`tokengate apply: ${error.message}`);
    output.err('nothing was sent');
    return { ...report, exitCode: EXIT_USAGE };
  }

  try {
    const projects = [...file.connections.map((c) => c.project)];
    const state = await readRemoteState(client, file.organization, projects);
    const plan = planApply(file, state, { rotateSecrets: options.rotateSecrets });
    report.plan = plan;
    printPlan(plan, options, output);
    if (plan.problems.length) {
      for (const problem of plan.problems) output.err(`error: ${problem.code} at ${problem.path}: ${problem.message}`);
      output.err('nothing was sent');
      return { ...report, exitCode: EXIT_API_ERROR };
    }
    const steps = planSteps(plan);
    if (!steps.length) {
      output.out('no changes');
      return report;
    }
    if (options.dryRun) {
      output.out(`dry run: ${steps.length} mutation${steps.length === 1 ? '' : 's'} planned, nothing sent`);
      return report;
    }
    output.out(`applying ${steps.length} mutation${steps.length === 1 ? '' : 's'}:`);
    await executeSteps(client, steps, report, output);
    output.out(`done: ${client.mutationsSent.length} mutation${client.mutationsSent.length === 1 ? '' : 's'} applied`);
    return report;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    output.err(`error: ${error.describe()}`);
    // Mutations run one at a time and stop at the first failure, which is the last one sent.
    const applied = Math.max(0, client.mutationsSent.length - 1);
    if (client.mutationsSent.length === 0) output.err('nothing was sent');
    else output.err(`${applied} mutation${applied === 1 ? ' was' : 's were'} applied before the failure; apply the file again once the cause is fixed`);
    return { ...report, exitCode: EXIT_API_ERROR };
  }
}

function printPlan(plan: Plan, options: ApplyOptions, output: CommandOutput): void {
  output.out(`plan for organization ${plan.organization.handle} (${options.url}):`);
  const width = Math.max(0, ...plan.items.map((i) => `${i.kind} ${i.label}`.length));
  for (const item of plan.items) {
    const what = `${item.kind} ${item.label}`.padEnd(width);
    output.out(`  ${ACTION_MARK[item.action]} ${what}  ${item.action}${item.details.length ? `: ${item.details.join('; ')}` : ''}`);
  }
  if (!plan.items.length) output.out('  (the file lists no services or connections)');
  for (const warning of plan.warnings) output.err(`warning: ${warning}`);
}

const REGISTER = `mutation($input: RegisterGenAIServiceInput!) { registerGenAIService(input: $input) { id } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateGenAIServiceInput!) { updateGenAIService(id: $id, input: $input) { id } }`;
const CONFIGURE = `mutation($serviceId: ID!, $environment: String!, $input: ConfigureServiceEnvironmentInput!) {
  configureServiceEnvironment(serviceId: $serviceId, environment: $environment, input: $input) { id } }`;
const REMOVE = `mutation($serviceId: ID!) { removeFromMarketplace(serviceId: $serviceId) { id marketplaceStatus } }`;
const CONNECT = `mutation($input: CreateConnectionInput!) {
  createConnection(input: $input) { connection { id name } keys { environment apiKey endpointUrl } } }`;

async function executeSteps(client: TokengateClient, steps: MutationStep[], report: ApplyReport, output: CommandOutput): Promise<void> {
  // Services registered by this run get their id here; later steps (connections, removal) need it.
  const serviceIds = new Map<string, string>();
  const serviceId = (contextPath: string, known: string | null): string => {
    const id = known ?? serviceIds.get(contextPath);
    // Invariant: planSteps orders a service's registration before every step that needs its id.
    if (!id) throw new Error(`internal: no id for service ${contextPath}`);
    return id;
  };
  for (const step of steps) {
    switch (step.kind) {
      case 'registerGenAIService': {
        const { registerGenAIService } = await client.mutate<{ registerGenAIService: { id: string } }>(step.kind, step.contextPath, REGISTER, { input: step.input });
        serviceIds.set(step.contextPath, registerGenAIService.id);
        output.out(`  ✓ registerGenAIService ${step.contextPath}`);
        break;
      }
      case 'updateGenAIService':
        await client.mutate(step.kind, step.contextPath, UPDATE, { id: step.serviceId, input: step.input });
        output.out(`  ✓ updateGenAIService ${step.contextPath}`);
        break;
      case 'configureServiceEnvironment':
        await client.mutate(step.kind, `${step.contextPath} ${step.environment}`, CONFIGURE, { serviceId: serviceId(step.contextPath, step.serviceId), environment: step.environment, input: step.input });
        output.out(`  ✓ configureServiceEnvironment ${step.contextPath} ${step.environment}`);
        break;
      case 'removeFromMarketplace':
        await client.mutate(step.kind, step.contextPath, REMOVE, { serviceId: serviceId(step.contextPath, step.serviceId) });
        output.out(`  ✓ removeFromMarketplace ${step.contextPath}`);
        break;
      case 'createConnection': {
        const input = { projectId: step.projectId, serviceId: serviceId(step.serviceContextPath, step.serviceId), name: step.name, ...(step.description !== undefined ? { description: step.description } : {}) };
        const { createConnection } = await client.mutate<{ createConnection: { keys: Array<{ environment: string; apiKey: string; endpointUrl: string }> } }>(step.kind, step.label, CONNECT, { input });
        output.out(`  ✓ createConnection ${step.label}`);
        printKeys(step.label, createConnection.keys, output);
        report.issuedKeys.push(...createConnection.keys.map((k) => ({ connection: step.label, ...k })));
        break;
      }
    }
  }
}

export function printKeys(label: string, keys: Array<{ environment: string; apiKey: string; endpointUrl: string }>, output: CommandOutput): void {
  output.out(`    consumer keys of connection ${label} (shown only now: store them in your secret manager):`);
  const width = Math.max(0, ...keys.map((k) => k.environment.length));
  for (const key of keys) output.out(`      ${key.environment.padEnd(width)}  ${key.apiKey}  ${key.endpointUrl}`);
}
