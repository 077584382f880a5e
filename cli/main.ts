// `tokengate <command>`: control-plane | data-plane | worker | migrate | start
import 'reflect-metadata';
import { loadControlPlaneConfig, ConfigError } from '../control-plane/src/config';
import { startControlPlane, prepareDatabase } from '../control-plane/src/control-plane';
import { findRepositoryRoot } from '../control-plane/src/common/repository-root';
import { applyFlagsToEnv, parseFlags } from './args';
import { checkDependencies } from './preflight';
import { loadOrCreateDevSecrets } from './dev-secrets';

const CONTROL_PLANE_FLAGS = {
  'database-url': 'DATABASE_URL',
  'redis-url': 'REDIS_URL',
  host: 'TOKENGATE_HOST',
  port: 'TOKENGATE_PORT',
  'grpc-host': 'TOKENGATE_GRPC_HOST',
  'grpc-port': 'TOKENGATE_GRPC_PORT',
};

const USAGE = `usage: tokengate <command> [flags]
  start                 the whole system on this machine (development mode)
  control-plane         GraphQL API (:4000/graphql) and gRPC config service (:50051)
  data-plane            a proxy for one environment: --environment <handle> [--port 8080]
  migrate               create the database if missing and apply migrations
flags map onto variables: --database-url DATABASE_URL, --redis-url REDIS_URL, --port TOKENGATE_PORT, ...`;

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
  const problems = await checkDependencies(databaseUrl, redisUrl);
  if (problems.length) {
    console.error(`tokengate cannot start:\n${problems.map((p) => `- ${p}`).join('\n')}`);
    process.exit(2);
  }
}

async function runControlPlane(): Promise<void> {
  const config = loadControlPlaneConfig();
  await preflight(config.databaseUrl, null);
  const plane = await startControlPlane(config);
  onShutdown(() => plane.stop());
}

async function runStart(): Promise<void> {
  process.env.TOKENGATE_MODE ||= 'development';
  const secretsFile = loadOrCreateDevSecrets(findRepositoryRoot(__dirname));
  const config = loadControlPlaneConfig();
  await preflight(config.databaseUrl, config.redisUrl);
  const plane = await startControlPlane(config);
  await plane.services.environments.ensure('development', 'Development', process.env.TOKENGATE_DEVELOPMENT_PROXY_URL || 'http://127.0.0.1:8080');
  await plane.services.environments.ensure('production', 'Production', process.env.TOKENGATE_PRODUCTION_PROXY_URL || 'http://127.0.0.1:8081');
  console.log(
    [
      '',
      'Tokengate is running (development mode).',
      `  GraphQL API     ${plane.graphqlUrl}`,
      `  Admin token     ${config.adminToken}`,
      `                  (kept in ${secretsFile}; send it as "Authorization: Bearer <token>")`,
      '',
      `Try: curl -s ${plane.graphqlUrl} -H 'content-type: application/json' -H "authorization: Bearer ${config.adminToken}" -d '{"query":"{ environments { handle proxyUrl } }"}'`,
      'Stop with Ctrl-C.',
      '',
    ].join('\n'),
  );
  onShutdown(() => plane.stop());
}

async function main(argv: string[]): Promise<void> {
  const { positional, flags } = parseFlags(argv);
  applyFlagsToEnv(flags, CONTROL_PLANE_FLAGS);
  switch (positional[0]) {
    case 'start':
      return runStart();
    case 'control-plane':
      return runControlPlane();
    case 'migrate': {
      const config = loadControlPlaneConfig();
      const db = await prepareDatabase(config.databaseUrl);
      await db.destroy();
      console.log('database is up to date');
      return;
    }
    default:
      console.error(USAGE);
      process.exit(positional[0] && positional[0] !== 'help' ? 2 : 0);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError) console.error(`tokengate: ${error.message}`);
  else console.error(error);
  process.exit(1);
});
