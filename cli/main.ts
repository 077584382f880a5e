// `tokengate <command>`: control-plane | data-plane | worker | migrate | rotate-secret-key | start
import 'reflect-metadata';
import { applyFlagsToEnv, parseFlags } from './args';
import { AUTOMATION_USAGE } from './apply/usage';
import type { Listener } from './preflight';
import { ROTATE_SECRET_KEY_USAGE } from './rotate-secret-key-usage';

// Each command loads only what it runs: a proxy (`data-plane`) never loads the control plane's
// GraphQL, ORM and queue libraries (startup 0.48 s and 120 MB before, for `help` alone).
const controlPlane = () => import('../control-plane/src/control-plane.js');
const controlPlaneConfig = () => import('../control-plane/src/config.js');

const CONTROL_PLANE_FLAGS = {
  'database-url': 'DATABASE_URL',
  'redis-url': 'REDIS_URL',
  host: 'TOKENGATE_HOST',
  port: 'TOKENGATE_PORT',
  'grpc-host': 'TOKENGATE_GRPC_HOST',
  'grpc-port': 'TOKENGATE_GRPC_PORT',
};

const USAGE = `usage: tokengate <command> [flags]
  start [--demo]        the whole system on this machine (development mode); --demo adds a fake
                        OpenAI-compatible provider, a demo service and a working key
  control-plane         GraphQL API (:4000/graphql) and gRPC config service (:50051)
  data-plane            a proxy for one environment: --environment <handle> [--port 8080]
  worker                BullMQ rollout worker (deployment status)
  migrate               create the database if missing and apply migrations
${ROTATE_SECRET_KEY_USAGE}
${AUTOMATION_USAGE}
flags of start, control-plane, worker and migrate map onto variables: --database-url DATABASE_URL,
  --redis-url REDIS_URL, --host TOKENGATE_HOST, --port TOKENGATE_PORT, --grpc-host TOKENGATE_GRPC_HOST,
  --grpc-port TOKENGATE_GRPC_PORT; --help prints this text (\`data-plane --help\` the proxy's own flags)`;

/** The switches each command takes besides CONTROL_PLANE_FLAGS. */
const COMMAND_SWITCHES: Record<string, string[]> = { start: ['demo'], 'control-plane': [], worker: [], migrate: [] };

/**
 * Exits with the usage text when the command line asks for it (0) or is wrong (2): `--help` must not
 * start anything, and a mistyped flag (`--dmeo`, `--prot`) must not be ignored silently.
 */
function checkCommandLine(command: string, positional: string[], flags: Map<string, string | true>): void {
  if (flags.has('help') || positional.includes('-h')) {
    console.log(USAGE);
    process.exit(0);
  }
  const switches = COMMAND_SWITCHES[command];
  const problems = [
    ...positional.slice(1).map((arg) => `unexpected argument ${JSON.stringify(arg)}`),
    ...[...flags].flatMap(([flag, value]) => {
      if (switches.includes(flag)) return value === true ? [] : [`--${flag} takes no value (got ${JSON.stringify(value)})`];
      if (flag in CONTROL_PLANE_FLAGS) return value === true ? [`--${flag} needs a value`] : [];
      return [`unknown flag --${flag}`];
    }),
  ];
  if (problems.length) {
    console.error(`tokengate ${command}: ${problems.join('; ')}\n${USAGE}`);
    process.exit(2);
  }
}

function onShutdown(stop: () => Promise<void>): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      stop().then(
        () => process.exit(0),
        (error: unknown) => {
          console.error(error);
          process.exit(1);
        },
      );
    });
  }
}

async function preflight(databaseUrl: string, redisUrl: string | null): Promise<void> {
  const { checkDependencies } = await import('./preflight.js');
  const problems = await checkDependencies(databaseUrl, redisUrl);
  if (problems.length) {
    console.error(`tokengate cannot start:\n${problems.map((p) => `- ${p}`).join('\n')}`);
    process.exit(2);
  }
}

async function listenersFree(listeners: Listener[]): Promise<void> {
  const problems = await (await import('./preflight.js')).checkListenersFree(listeners);
  if (problems.length) {
    console.error(`tokengate cannot start:\n${problems.map((p) => `- ${p}`).join('\n')}`);
    process.exit(2);
  }
}

function workerPort(): number {
  return Number(process.env.TOKENGATE_WORKER_PORT || 4001);
}

async function runControlPlane(): Promise<void> {
  const config = (await controlPlaneConfig()).loadControlPlaneConfig();
  await preflight(config.databaseUrl, null);
  const plane = await (await controlPlane()).startControlPlane(config);
  onShutdown(() => plane.stop());
}

const DEFAULT_ENVIRONMENTS = [
  { handle: 'development', name: 'Development', port: 8080 },
  { handle: 'production', name: 'Production', port: 8081 },
];

async function runWorker(): Promise<void> {
  const config = (await controlPlaneConfig()).loadControlPlaneConfig();
  await preflight(config.databaseUrl, config.redisUrl);
  const db = await (await controlPlane()).prepareDatabase(config.databaseUrl);
  const { startRolloutWorker, startWorkerMetrics } = await import('../control-plane/src/deployment/rollout-runtime.js');
  const logger = (await import('../control-plane/src/logger.js')).createLogger('worker');
  const runtime = await startRolloutWorker(config, db, logger);
  const metrics = await startWorkerMetrics(config, workerPort(), logger);
  // SIGTERM/SIGINT: the job in flight finishes (or, past the grace period or with Redis away, is
  // handed back by its lock); stopping never waits on Redis.
  onShutdown(async () => {
    logger.info('rollout worker stopping');
    await metrics.stop();
    await runtime.stop();
    await db.destroy();
  });
}

async function runStart(demo: boolean): Promise<void> {
  process.env.TOKENGATE_MODE ||= 'development';
  // One machine, one terminal: keep the banner readable; operators running the parts get info logs.
  process.env.TOKENGATE_LOG_LEVEL ||= 'warn';
  const { loadOrCreateDevSecrets } = await import('./dev-secrets.js');
  const { findRepositoryRoot } = await import('../control-plane/src/common/repository-root.js');
  const { Supervisor, waitUntilReady } = await import('./supervisor.js');
  const secretsFile = loadOrCreateDevSecrets(findRepositoryRoot(__dirname));
  const config = (await controlPlaneConfig()).loadControlPlaneConfig();
  await preflight(config.databaseUrl, config.redisUrl);
  const proxyPorts = DEFAULT_ENVIRONMENTS.map((env) => {
    const variable = `TOKENGATE_${env.handle.toUpperCase()}_PROXY_PORT`;
    return { ...env, variable, port: Number(process.env[variable] || env.port) };
  });
  // The proxies' URLs are printed and stored as the environments' proxy URLs: a port the system
  // picks (0) would be known to no one.
  const badPorts = proxyPorts.filter(({ port }) => !Number.isInteger(port) || port < 1 || port > 65535);
  if (badPorts.length > 0) {
    console.error(`tokengate cannot start:\n${badPorts.map(({ variable }) => `- ${variable} must be a port number from 1 to 65535 (got "${process.env[variable]}")`).join('\n')}`);
    process.exit(2);
  }
  await listenersFree([
    { host: config.host, port: config.port, what: 'GraphQL', variable: 'TOKENGATE_PORT' },
    { host: config.grpcHost, port: config.grpcPort, what: 'the gRPC config service', variable: 'TOKENGATE_GRPC_PORT' },
    { host: config.host, port: workerPort(), what: 'the rollout worker', variable: 'TOKENGATE_WORKER_PORT' },
    ...proxyPorts.map((env) => ({ host: process.env.TOKENGATE_PROXY_HOST || '127.0.0.1', port: env.port, what: `the ${env.handle} proxy`, variable: env.variable })),
  ]);
  const plane = await (await controlPlane()).startControlPlane(config);
  const supervisor = new Supervisor((name, code) => {
    console.error(`tokengate: ${name} exited unexpectedly (code ${code}); stopping`);
    void supervisor.stop().then(() => plane.stop()).finally(() => process.exit(1));
  });
  let stopDemo: (() => Promise<void>) | null = null;
  onShutdown(async () => {
    await supervisor.stop();
    await plane.stop();
    await stopDemo?.();
  });
  supervisor.start({ name: 'rollout worker', args: ['worker'] });
  const proxies: Array<{ handle: string; url: string }> = [];
  for (const { port, ...env } of proxyPorts) {
    const url = `http://127.0.0.1:${port}`;
    await plane.services.environments.ensure(env.handle, env.name, url);
    supervisor.start({
      name: `${env.handle} proxy`,
      args: ['data-plane', '--environment', env.handle, '--port', String(port), '--control-plane', plane.grpcAddress, '--proxy-id', `local-${env.handle}`],
    });
    proxies.push({ handle: env.handle, url });
  }
  let demoSetup: Awaited<ReturnType<(typeof import('./demo.js'))['setUpDemo']>> | null;
  try {
    await Promise.all(proxies.map((p) => waitUntilReady(`${p.url}/readyz`)));
    demoSetup = demo ? await (await import('./demo.js')).setUpDemo(plane.graphqlUrl, config.adminToken!, proxies[0].url) : null;
  } catch (error) {
    // A start that gives up leaves nothing behind: the worker and the proxies are stopped with it.
    await supervisor.stop();
    await plane.stop();
    throw error;
  }
  stopDemo = demoSetup?.stop ?? null;
  console.log(
    [
      '',
      'Tokengate is running (development mode).',
      `  GraphQL API     ${plane.graphqlUrl}`,
      ...proxies.map((p) => `  Proxy (${p.handle})${' '.repeat(Math.max(1, 12 - p.handle.length))}${p.url}`),
      `  Admin token     ${config.adminToken}`,
      `                  (kept in ${secretsFile}; send it as "Authorization: Bearer <token>")`,
      '',
      `  Console         ${plane.graphqlUrl.replace(/\/graphql$/, '/console')}`,
      '',
      demoSetup
        ? demoSetup.instructions
        : `Try: curl -s ${plane.graphqlUrl} -H 'content-type: application/json' -H "authorization: Bearer ${config.adminToken}" -d '{"query":"{ environments { handle proxyUrl } }"}'\n(or \`npm start -- --demo\` for a ready-to-call demo service)`,
      '',
      'Stop with Ctrl-C.',
      '',
    ].join('\n'),
  );
}

async function main(argv: string[]): Promise<void> {
  const { positional, flags } = parseFlags(argv);
  const command = positional[0] ?? (flags.has('help') ? 'help' : undefined);
  if (command !== undefined && command in COMMAND_SWITCHES) checkCommandLine(command, positional, flags);
  if (command !== 'data-plane') applyFlagsToEnv(flags, CONTROL_PLANE_FLAGS);
  switch (command) {
    case 'start':
      return runStart(flags.get('demo') === true);
    case 'control-plane':
      return runControlPlane();
    case 'worker':
      return runWorker();
    case 'data-plane':
      await (await import('../data-plane/src/main.js')).runDataPlaneCli(argv.slice(1));
      return;
    case 'apply':
    case 'get':
    case 'remove':
    case 'connect':
    case 'create':
    case 'rotate':
    case 'delete':
      // Automation talks to a running control plane through GraphQL only; it parses its own flags.
      process.exitCode = await (await import('./apply/commands.js')).runAutomationCommand(argv);
      return;
    case 'rotate-secret-key':
      process.exitCode = await (await import('./rotate-secret-key.js')).runRotateSecretKey(argv.slice(1));
      return;
    case 'migrate': {
      const config = (await controlPlaneConfig()).loadControlPlaneConfig();
      await preflight(config.databaseUrl, null);
      const db = await (await controlPlane()).prepareDatabase(config.databaseUrl);
      await db.destroy();
      console.log('database is up to date');
      return;
    }
    case 'help':
    case '-h':
      console.log(USAGE);
      return;
    default:
      console.error(command === undefined ? USAGE : `tokengate: unknown command ${JSON.stringify(command)}\n${USAGE}`);
      process.exit(command === undefined ? 0 : 2);
  }
}

// `tokengate get services | head -1`: a reader that stops early is no failure of the command. Its
// output is dropped (an apply keeps going: stopping mid-way would leave half a plan applied), and
// the exit code stays the command's own.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
  });
}

main(process.argv.slice(2)).catch((error: unknown) => {
  // ConfigError (control-plane/src/common/config-error.ts), matched by name: this module does not load it.
  if (error instanceof Error && error.name === 'ConfigError') console.error(`tokengate: ${error.message}`);
  else console.error(error);
  process.exit(1);
});
