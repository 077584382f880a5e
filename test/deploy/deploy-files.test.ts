// deploy/ checked against the code, since no container engine runs here: the Dockerfile's stages,
// docker compose and the Kubernetes manifests are parsed, and what each container would run and see
// is fed to the code's own configuration parsers (loadControlPlaneConfig, parseDataPlaneCliOptions).
// Commands, variables, ports, addresses and probe paths therefore come from the code, not from here.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { type ControlPlaneConfig, loadControlPlaneConfig } from '../../control-plane/src/config';
import { normalizeServiceUrl, validateHandle } from '../../control-plane/src/common/validation';
import { parseSecretKeys } from '../../control-plane/src/secrets/secret-box';
import { type CliDataPlaneOptions, parseDataPlaneCliOptions } from '../../data-plane/src/cli-options';
import { CONFIG_PROTO_RELATIVE_PATH } from '../../data-plane/src/config-stream/config-proto';
import { shutdownDurationMs } from '../../data-plane/src/main';
import { rolloutShutdownGraceMs } from '../../control-plane/src/deployment/rollout-worker';
import { REPO_ROOT, cliCommands, dataPlaneFlags, packagesLoadedAtRunTime, stringLiterals, variablesByRole } from './code-facts';
import {
  DEPLOY_DIR,
  type DeployedContainer,
  type DockerStage,
  type Json,
  KUBERNETES_DIR,
  type KubernetesObject,
  effectiveArgv,
  imageDefaults,
  kubernetesManifestFiles,
  list,
  readCompose,
  readDockerfile,
  readEnvFile,
  readKubernetesObjects,
  record,
  scalar,
  strings,
  text,
} from './deploy-files';

const PACKAGE = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string>; scripts: Record<string, string> };
const COMMANDS = cliCommands();
const VARIABLES = variablesByRole();
const STAGES = readDockerfile();
const IMAGE = imageDefaults(STAGES);
const CLI_ENTRYPOINT = ['node', 'dist/cli/main.js'];
const BOOTSTRAP_SCRIPT = 'deploy/create-environments.mjs';
/** Routes the processes really serve. */
const CONTROL_PLANE_ROUTES = stringLiterals('control-plane/src/http-server.ts');
const PROXY_ROUTES = stringLiterals('data-plane/src/proxy/operational-endpoints.ts');
/** Stands in for the secret-key placeholder so the code's parsers can run (the placeholder itself is refused, see below). */
const STAND_IN_SECRET_KEY = randomBytes(32).toString('base64');
/** A value that looks generated rather than like a placeholder. */
const RANDOM_LOOKING = /[A-Za-z0-9+/=_]{24,}/;

// --- what a container is ----------------------------------------------------------------------------

type Role = 'control-plane' | 'worker' | 'migrate' | 'data-plane' | 'create-environments';

function roleOf(container: DeployedContainer): Role {
  const { argv } = container;
  if (argv[0] === CLI_ENTRYPOINT[0] && argv[1] === CLI_ENTRYPOINT[1]) {
    const command = argv[2];
    if (!COMMANDS.has(command)) throw new Error(`${container.where} runs "tokengate ${command}", which cli/main.ts does not know (it knows ${[...COMMANDS].join(', ')})`);
    if (command !== 'control-plane' && command !== 'worker' && command !== 'migrate' && command !== 'data-plane') {
      throw new Error(`${container.where} runs "tokengate ${command}", which is not a server role`);
    }
    return command;
  }
  if (argv[0] === 'node' && argv[1] === BOOTSTRAP_SCRIPT) return 'create-environments';
  throw new Error(`${container.where} runs "${argv.join(' ')}": neither the tokengate CLI nor ${BOOTSTRAP_SCRIPT}`);
}

const BOOTSTRAP_VARIABLES = new Set([...readFileSync(join(REPO_ROOT, BOOTSTRAP_SCRIPT), 'utf8').matchAll(/process\.env\.([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1]));

function variablesReadBy(role: Role): Set<string> {
  if (role === 'data-plane') return VARIABLES.dataPlane;
  if (role === 'create-environments') return BOOTSTRAP_VARIABLES;
  return VARIABLES.controlPlane;
}

/** The environment the process sees: the image's ENV under the deploy file's, with a usable secret key. */
function processEnvironment(container: DeployedContainer): Record<string, string> {
  const env = Object.fromEntries([...IMAGE.env, ...container.env]);
  if (env.TOKENGATE_SECRET_KEY !== undefined) env.TOKENGATE_SECRET_KEY = STAND_IN_SECRET_KEY;
  return env;
}

function controlPlaneConfig(container: DeployedContainer): ControlPlaneConfig {
  expect({ where: container.where, flags: container.argv.slice(3) }).toEqual({ where: container.where, flags: [] });
  return loadControlPlaneConfig(processEnvironment(container));
}

/** What `tokengate data-plane` makes of its flags and variables (the CLI always sets both sections). */
type ProxySettings = CliDataPlaneOptions & {
  readonly controlPlane: NonNullable<CliDataPlaneOptions['controlPlane']>;
  readonly rateLimiting: NonNullable<CliDataPlaneOptions['rateLimiting']>;
};

function dataPlaneOptions(container: DeployedContainer): ProxySettings {
  const parsed = parseDataPlaneCliOptions(container.argv.slice(3), processEnvironment(container), () => {
    throw new Error('the deploy files mount no certificate');
  });
  if (parsed === 'help') throw new Error(`${container.where} asks the data plane for --help`);
  const { controlPlane, rateLimiting } = parsed.options;
  if (!controlPlane || !rateLimiting) throw new Error(`${container.where}: the data-plane CLI set no control plane or rate limiting`);
  return { ...parsed.options, controlPlane, rateLimiting };
}

function unknownVariables(container: DeployedContainer): string[] {
  const known = variablesReadBy(roleOf(container));
  return [...container.env.keys()].filter((name) => !known.has(name)).map((name) => `${container.where}: ${name}`);
}

function imageName(image: string): string {
  return image.replace(/:[^/:]+$/, '');
}

/** `<scheme>://host:port/path` in a healthcheck or probe command. */
function urlIn(command: string[]): URL {
  const found = /https?:\/\/[^\s'"`)]+/.exec(command.join(' '));
  if (!found) throw new Error(`no URL in ${JSON.stringify(command)}`);
  return new URL(found[0]);
}

/** The bootstrap's `<handle>=<proxy URL>` arguments, each one the control plane accepts. */
function environmentsCreated(specs: readonly string[]): Map<string, URL> {
  return new Map(
    specs.map((spec) => {
      const equals = spec.indexOf('=');
      return [validateHandle('handle', spec.slice(0, equals)), new URL(normalizeServiceUrl('proxyUrl', spec.slice(equals + 1)))];
    }),
  );
}

// --- Dockerfile -----------------------------------------------------------------------------------

function copies(stage: DockerStage): Array<{ from: string | undefined; sources: string[]; destination: string }> {
  return stage.instructions
    .filter((i) => i.keyword === 'COPY')
    .map((i) => {
      const tokens = i.argument.split(/\s+/);
      const from = tokens.find((t) => t.startsWith('--from='))?.slice('--from='.length);
      const paths = tokens.filter((t) => !t.startsWith('--'));
      return { from, sources: paths.slice(0, -1), destination: paths[paths.length - 1] };
    });
}

function workdir(stage: DockerStage): string {
  return stage.instructions.filter((i) => i.keyword === 'WORKDIR').at(-1)?.argument ?? '/';
}

/** Where COPY puts `source` in the stage's filesystem. */
function copiedTo(stage: DockerStage, from: string | undefined, source: string): string | undefined {
  for (const copy of copies(stage)) {
    if (copy.from !== from || !copy.sources.includes(source)) continue;
    const destination = resolve(workdir(stage), copy.destination);
    return copy.destination.endsWith('/') || copy.sources.length > 1 ? join(destination, source.split('/').at(-1) ?? source) : destination;
  }
  return undefined;
}

describe('deploy/Dockerfile', () => {
  const runtime = STAGES[STAGES.length - 1];
  const stageNamed = (name: string | undefined): DockerStage => {
    const stage = STAGES.find((s) => s.name === name);
    if (!stage) throw new Error(`no stage named ${name}`);
    return stage;
  };
  const runs = (stage: DockerStage): string[] => stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.argument);

  test('builds in one stage (npm ci, npm run build) and runs on node 20 slim in another', () => {
    expect(STAGES.length).toBeGreaterThanOrEqual(2);
    const builders = STAGES.slice(0, -1).filter((s) => runs(s).some((r) => /\bnpm ci\b/.test(r) && !r.includes('--omit=dev')) && runs(s).some((r) => /\bnpm run build\b/.test(r)));
    expect(builders).toHaveLength(1);
    expect(PACKAGE.scripts.build).toBeDefined();
    expect(runtime.base).toMatch(/^node:20(\.\d+)*-(bookworm-)?slim$/);
    // The runtime stage installs nothing with dev dependencies and builds nothing.
    expect(runs(runtime).filter((r) => /\bnpm (ci|install|run)\b/.test(r) && !r.includes('--omit=dev'))).toEqual([]);
  });

  test('runs as a non-root user, by number (so Kubernetes can check runAsNonRoot)', () => {
    const user = runtime.instructions.filter((i) => i.keyword === 'USER').at(-1)?.argument;
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user?.split(':')[0])).toBeGreaterThan(0);
  });

  test('ENTRYPOINT is the compiled CLI and CMD one of its commands', () => {
    expect(IMAGE.entrypoint).toEqual(CLI_ENTRYPOINT);
    // dist/cli/main.js is what tsc makes of cli/main.ts (outDir dist, rootDir the repository).
    const tsconfig = record(parse(readFileSync(join(REPO_ROOT, 'tsconfig.json'), 'utf8')), 'tsconfig.json');
    const options = record(tsconfig.compilerOptions, 'compilerOptions');
    expect([options.outDir, options.rootDir]).toEqual(['dist', '.']);
    const build = record(parse(readFileSync(join(REPO_ROOT, 'tsconfig.build.json'), 'utf8')), 'tsconfig.build.json');
    expect(strings(build.include, 'include')).toContain('cli');
    expect(existsSync(join(REPO_ROOT, 'cli/main.ts'))).toBe(true);
    expect(IMAGE.cmd).toHaveLength(1);
    expect(COMMANDS).toContain(IMAGE.cmd[0]);
  });

  test('the runtime stage holds what the processes load: dist/, proto/, package.json, production node_modules, the bootstrap script', () => {
    const app = workdir(runtime);
    const builder = STAGES.find((s) => runs(s).some((r) => /\bnpm run build\b/.test(r)));
    expect(copiedTo(runtime, builder?.name, `${workdir(stageNamed(builder?.name))}/dist`)).toBe(join(app, 'dist'));
    // Both planes look for the proto contract by walking up from dist/…: it must sit beside dist/.
    const protoRoot = CONFIG_PROTO_RELATIVE_PATH.split('/')[0];
    expect(copiedTo(runtime, undefined, protoRoot)).toBe(join(app, protoRoot));
    expect(existsSync(join(REPO_ROOT, CONFIG_PROTO_RELATIVE_PATH))).toBe(true);
    expect(copiedTo(runtime, undefined, 'package.json')).toBe(join(app, 'package.json'));
    expect(copiedTo(runtime, undefined, 'bin')).toBe(join(app, 'bin'));
    expect(copiedTo(runtime, undefined, BOOTSTRAP_SCRIPT)).toBe(join(app, BOOTSTRAP_SCRIPT));
    const modules = copies(runtime).find((c) => c.destination.replace(/^\.\//, '') === 'node_modules' || resolve(app, c.destination) === join(app, 'node_modules'));
    expect(modules?.from).toBeDefined();
    expect(runs(stageNamed(modules?.from)).some((r) => /\bnpm ci\b.*--omit=dev/.test(r))).toBe(true);
  });

  test('npm ci --omit=dev is enough: nothing dist/cli/main.js loads is a devDependency', () => {
    const loaded = packagesLoadedAtRunTime('cli/main.ts');
    expect(loaded.size).toBeGreaterThan(5); // the walk found the real imports
    const missing = [...loaded].filter(([name]) => PACKAGE.dependencies[name] === undefined).map(([name, file]) => `${name} (loaded by ${file})`);
    expect(missing).toEqual([]);
  });

  test('caps glibc malloc at two arenas, as `npm start` does (docs/adr/018-malloc-arenas.md)', () => {
    expect(runtime.base).toMatch(/bookworm/); // Debian: glibc, which reads the variable (musl would ignore it)
    expect(IMAGE.env.get('MALLOC_ARENA_MAX')).toBe('2');
    expect(PACKAGE.scripts.start).toMatch(/\bMALLOC_ARENA_MAX=\$\{MALLOC_ARENA_MAX:-2\} (exec )?node dist\/cli\/main\.js start\b/);
  });

  test('listens on all interfaces by default (the code defaults to 127.0.0.1), with variables the code reads', () => {
    expect(IMAGE.env.get('TOKENGATE_HOST')).toBe('0.0.0.0');
    expect(IMAGE.env.get('TOKENGATE_GRPC_HOST')).toBe('0.0.0.0');
    expect(IMAGE.env.get('TOKENGATE_PROXY_HOST')).toBe('0.0.0.0');
    // Besides what the code reads, one variable of the C library's (next test).
    const known = new Set([...VARIABLES.controlPlane, ...VARIABLES.dataPlane, 'MALLOC_ARENA_MAX']);
    expect([...IMAGE.env.keys()].filter((name) => !known.has(name))).toEqual([]);
    // The code really reads them: a control plane started with only the image's variables binds 0.0.0.0.
    expect(loadControlPlaneConfig({ ...Object.fromEntries(IMAGE.env), TOKENGATE_MODE: 'development' })).toMatchObject({ host: '0.0.0.0', grpcHost: '0.0.0.0' });
    const proxy = parseDataPlaneCliOptions(['--environment', 'production'], Object.fromEntries(IMAGE.env), () => Buffer.alloc(0));
    expect(proxy !== 'help' && proxy.options.host).toBe('0.0.0.0');
  });

  test('Dockerfile.dockerignore keeps every build input and leaves out secrets and local artefacts', () => {
    const patterns = readFileSync(join(DEPLOY_DIR, 'Dockerfile.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    expect(patterns.filter((p) => p.startsWith('!'))).toEqual([]);
    const matchers = patterns.map((p) => new RegExp(`^${p.replace(/\/$/, '').replace(/[.+^$()|[\]]/g, '\\$&').replace(/\*\*\//g, '(.*/)?').replace(/\*/g, '[^/]*')}$`));
    const ignored = (path: string): boolean => {
      const parts = path.split('/');
      return parts.some((_, i) => matchers.some((m) => m.test(parts.slice(0, i + 1).join('/'))));
    };
    const build = record(parse(readFileSync(join(REPO_ROOT, 'tsconfig.build.json'), 'utf8')), 'tsconfig.build.json');
    const inputs = [...strings(build.include, 'include'), 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json', 'bin/tokengate.js', CONFIG_PROTO_RELATIVE_PATH, BOOTSTRAP_SCRIPT];
    expect(inputs.filter(ignored)).toEqual([]);
    for (const local of ['node_modules', 'control-plane/node_modules', 'dist', '.git', '.tokengate/secrets.env', 'deploy/.env', '.env']) expect({ local, ignored: ignored(local) }).toEqual({ local, ignored: true });
  });
});

// --- docker compose --------------------------------------------------------------------------------

describe('deploy/docker-compose.yml', () => {
  const envExample = readEnvFile(join(DEPLOY_DIR, '.env.example'));
  const compose = readCompose(new Map(envExample));
  const services = compose.services;
  /** The image the services with a `build` section produce. */
  const tokengateImage = [...services.values()].find((s) => s.build !== undefined)?.image;
  const isTokengate = (service: Json): boolean => service.image === tokengateImage;

  const listOrCommand = (value: unknown, where: string): string[] | undefined => (value === undefined ? undefined : strings(value, `${where} (use the list form)`));
  const containers: DeployedContainer[] = [...services]
    .filter(([, service]) => isTokengate(service))
    .map(([name, service]) => {
      const where = `compose service ${name}`;
      const environment = service.environment === undefined ? {} : record(service.environment, `${where} environment`);
      return {
        where,
        image: text(service.image, where),
        argv: effectiveArgv(IMAGE, listOrCommand(service.entrypoint, `${where} entrypoint`), listOrCommand(service.command, `${where} command`)),
        env: new Map(Object.entries(environment).map(([key, value]) => [key, scalar(value, `${where} ${key}`)])),
      };
    });
  const nameOf = (container: DeployedContainer): string => container.where.replace('compose service ', '');
  const serviceOf = (container: DeployedContainer): Json => record(services.get(nameOf(container)), container.where);
  const byRole = (role: Role): DeployedContainer[] => containers.filter((c) => roleOf(c) === role);
  const only = (role: Role): DeployedContainer => {
    const found = byRole(role);
    expect({ role, count: found.length }).toEqual({ role, count: 1 });
    return found[0];
  };
  const publishedPorts = (service: Json, where: string): Array<{ host: number; container: number }> =>
    list(service.ports ?? [], `${where} ports`).map((entry) => {
      const match = /^(?:[\d.]+:)?(\d+):(\d+)(?:\/tcp)?$/.exec(scalar(entry, `${where} ports`));
      if (!match) throw new Error(`${where}: port "${String(entry)}" is not host:container`);
      return { host: Number(match[1]), container: Number(match[2]) };
    });
  const healthcheckUrl = (service: Json, where: string): URL => urlIn(strings(record(service.healthcheck, `${where} healthcheck`).test, `${where} healthcheck.test`));
  const dependencies = (service: Json, where: string): Map<string, string> =>
    new Map(Object.entries(record(service.depends_on ?? {}, `${where} depends_on (use the long form)`)).map(([target, spec]) => [target, text(record(spec, `${where} depends_on.${target}`).condition, `${where} depends_on.${target}.condition`)]));

  test('builds one image from deploy/Dockerfile for every Tokengate role; the rest is postgres:15 and redis:7', () => {
    for (const [name, service] of services) {
      if (service.build === undefined) continue;
      const build = record(service.build, `${name} build`);
      expect(resolve(DEPLOY_DIR, text(build.context, `${name} build.context`))).toBe(REPO_ROOT);
      expect(text(build.dockerfile, `${name} build.dockerfile`)).toBe('deploy/Dockerfile');
      expect(service.image).toBe(tokengateImage);
    }
    expect(containers.length).toBeGreaterThanOrEqual(6);
    const others = [...services].filter(([, s]) => !isTokengate(s)).map(([, s]) => text(s.image, 'image').replace(/[.-].*$/, ''));
    expect(others.sort()).toEqual(['postgres:15', 'redis:7']);
  });

  test('runs real CLI commands: migrate, control-plane, worker and two production proxies, plus the environment bootstrap', () => {
    expect(containers.map(roleOf).sort()).toEqual(['control-plane', 'create-environments', 'data-plane', 'data-plane', 'migrate', 'worker']);
    expect(byRole('data-plane').map((c) => dataPlaneOptions(c).environment)).toEqual(['production', 'production']);
    // parseDataPlaneCliOptions refuses unknown flags too; this names the table they must come from.
    const flags = [...dataPlaneFlags().keys()];
    for (const proxy of byRole('data-plane')) {
      for (const flag of proxy.argv.slice(3).filter((a) => a.startsWith('--'))) expect(flags).toContain(flag.slice(2).split('=')[0]);
    }
  });

  test('sets only variables the code of each role reads', () => {
    expect(containers.flatMap(unknownVariables)).toEqual([]);
  });

  test('each ${VARIABLE} it needs comes from .env.example, which holds only what it uses', () => {
    const needed = new Set(compose.references.filter((r) => !r.hasDefault).map((r) => r.name));
    const mentioned = new Set(compose.references.map((r) => r.name));
    expect([...needed].filter((name) => !envExample.has(name))).toEqual([]);
    expect([...envExample.keys()].filter((name) => !mentioned.has(name))).toEqual([]);
    // Secrets are required: compose refuses to start without them rather than run with an empty value.
    for (const secret of ['TOKENGATE_ADMIN_TOKEN', 'TOKENGATE_SECRET_KEY', 'TOKENGATE_DATAPLANE_TOKEN']) {
      expect(compose.references.filter((r) => r.name === secret).every((r) => r.required)).toBe(true);
      expect(() => readCompose(new Map([...envExample].filter(([name]) => name !== secret)))).toThrow(secret);
    }
  });

  test('.env.example holds placeholders, never a usable secret', () => {
    expect(() => parseSecretKeys(envExample.get('TOKENGATE_SECRET_KEY'), undefined, false)).toThrow(/32 random bytes/);
    for (const [name, value] of envExample) expect({ name, randomLooking: RANDOM_LOOKING.test(value) }).toEqual({ name, randomLooking: false });
  });

  test('the control plane listens on all interfaces, publishes GraphQL and is healthy when /healthz says so', () => {
    const controlPlane = only('control-plane');
    const config = controlPlaneConfig(controlPlane);
    expect([config.host, config.grpcHost]).toEqual(['0.0.0.0', '0.0.0.0']);
    const service = serviceOf(controlPlane);
    expect(publishedPorts(service, controlPlane.where).map((p) => p.container)).toEqual([config.port]);
    const health = healthcheckUrl(service, controlPlane.where);
    expect([health.hostname, Number(health.port), health.pathname]).toEqual(['127.0.0.1', config.port, '/healthz']);
    expect(CONTROL_PLANE_ROUTES).toContain('/healthz');
    expect(strings(service.expose, 'expose').map(Number)).toContain(config.grpcPort);
  });

  test('control-plane roles share one configuration: Postgres and Redis of this file, the same secrets', () => {
    const configs = (['migrate', 'control-plane', 'worker'] as const).map((role) => controlPlaneConfig(only(role)));
    const [first] = configs;
    for (const config of configs) {
      expect({ ...config, secretBox: undefined }).toEqual({ ...first, secretBox: undefined });
      expect(config.secretBox.currentKeyId).toBe(first.secretBox.currentKeyId);
    }
    expect(first.developmentMode).toBe(false);
    expect(first.adminToken).toBe(envExample.get('TOKENGATE_ADMIN_TOKEN'));
    const database = new URL(first.databaseUrl);
    const postgres = record(services.get(database.hostname), `service ${database.hostname} (from DATABASE_URL)`);
    const postgresEnv = record(postgres.environment, 'postgres environment');
    expect(text(postgres.image, 'postgres image')).toMatch(/^postgres:/);
    expect([database.username, decodeURIComponent(database.password), database.port || '5432']).toEqual([postgresEnv.POSTGRES_USER, postgresEnv.POSTGRES_PASSWORD, '5432']);
    const redis = new URL(first.redisUrl);
    expect(text(record(services.get(redis.hostname), `service ${redis.hostname} (from REDIS_URL)`).image, 'redis image')).toMatch(/^redis:/);
    expect(redis.port || '6379').toBe('6379'); // the redis image's port (its command sets no --port)
    expect(strings(services.get(redis.hostname)?.command ?? [], 'redis command')).not.toContain('--port');
  });

  test('proxies listen on all interfaces on distinct published ports, dial the control plane and share its Redis and token', () => {
    const config = controlPlaneConfig(only('control-plane'));
    const proxies = byRole('data-plane');
    const hostPorts: number[] = [];
    for (const proxy of proxies) {
      const options = dataPlaneOptions(proxy);
      const service = serviceOf(proxy);
      expect(options.host).toBe('0.0.0.0');
      const ports = publishedPorts(service, proxy.where);
      expect(ports.map((p) => p.container)).toEqual([options.port]);
      hostPorts.push(...ports.map((p) => p.host));
      const health = healthcheckUrl(service, proxy.where);
      expect([health.hostname, Number(health.port), health.pathname]).toEqual(['127.0.0.1', options.port, '/readyz']);
      expect(options.controlPlane.address).toBe(`${nameOf(only('control-plane'))}:${config.grpcPort}`);
      expect(options.controlPlane.token).toBe(config.dataPlaneToken);
      expect(options.controlPlane.token).toBeDefined();
      expect(options.rateLimiting.redisUrl).toBe(config.redisUrl);
    }
    expect(PROXY_ROUTES).toContain('/readyz');
    expect(new Set(hostPorts).size).toBe(proxies.length);
    expect(new Set(proxies.map((p) => dataPlaneOptions(p).proxyId)).size).toBe(proxies.length);
  });

  test('the bootstrap creates, through the control plane GraphQL endpoint, the environment the proxies serve', () => {
    const bootstrap = only('create-environments');
    const config = controlPlaneConfig(only('control-plane'));
    const [endpoint, ...environments] = bootstrap.argv.slice(2);
    const url = new URL(endpoint);
    expect([url.hostname, Number(url.port), url.pathname]).toEqual([nameOf(only('control-plane')), config.port, '/graphql']);
    expect(CONTROL_PLANE_ROUTES).toContain('/graphql');
    expect(bootstrap.env.get('TOKENGATE_ADMIN_TOKEN')).toBe(config.adminToken);
    const created = environmentsCreated(environments);
    for (const proxy of byRole('data-plane')) {
      const handle = dataPlaneOptions(proxy).environment;
      const proxyUrl = created.get(handle);
      expect(proxyUrl).toBeDefined();
      // Apps are told a URL that reaches a proxy of that environment through its published port.
      const servedOn = byRole('data-plane')
        .filter((p) => dataPlaneOptions(p).environment === handle)
        .flatMap((p) => publishedPorts(serviceOf(p), p.where).map((port) => port.host));
      expect(servedOn).toContain(Number(proxyUrl?.port));
    }
  });

  test('every service has a healthcheck except the one-shots and the portless worker; start order uses conditions', () => {
    const oneShots = new Set(byRole('migrate').concat(byRole('create-environments')).map(nameOf));
    const worker = nameOf(only('worker'));
    for (const [name, service] of services) {
      if (oneShots.has(name)) {
        expect({ name, restart: service.restart }).toEqual({ name, restart: 'no' });
        continue;
      }
      expect({ name, restart: service.restart }).toEqual({ name, restart: 'unless-stopped' });
      if (name !== worker) expect(strings(record(service.healthcheck, `${name} healthcheck`).test, `${name} healthcheck.test`)[0]).toBe('CMD');
      for (const [target, condition] of dependencies(service, name)) {
        const dependency = services.get(target);
        expect({ name, target, exists: dependency !== undefined }).toEqual({ name, target, exists: true });
        if (condition === 'service_healthy') expect({ name, target, healthcheck: dependency?.healthcheck !== undefined }).toEqual({ name, target, healthcheck: true });
        else expect({ name, target, condition, oneShot: oneShots.has(target) }).toEqual({ name, target, condition: 'service_completed_successfully', oneShot: true });
      }
    }
    const dependsOn = (role: Role): Map<string, string> => {
      const container = only(role);
      return dependencies(serviceOf(container), container.where);
    };
    const migrate = nameOf(only('migrate'));
    const controlPlane = nameOf(only('control-plane'));
    const bootstrap = nameOf(only('create-environments'));
    expect(dependsOn('migrate').get('postgres')).toBe('service_healthy');
    expect(dependsOn('control-plane').get(migrate)).toBe('service_completed_successfully');
    expect(dependsOn('control-plane').get('redis')).toBe('service_healthy');
    expect(dependsOn('worker').get(migrate)).toBe('service_completed_successfully');
    expect(dependsOn('create-environments').get(controlPlane)).toBe('service_healthy');
    for (const proxy of byRole('data-plane')) {
      const after = dependencies(serviceOf(proxy), proxy.where);
      expect([after.get(controlPlane), after.get(bootstrap)]).toEqual(['service_healthy', 'service_completed_successfully']);
    }
  });

  test('lets proxies drain and the worker finish its rollouts before docker kills them (its default is 10 s)', () => {
    for (const container of [...byRole('data-plane'), only('worker')]) {
      const service = serviceOf(container);
      const graceMs = service.stop_grace_period === undefined ? 10_000 : composeDurationMs(text(service.stop_grace_period, `${container.where} stop_grace_period`), container.where);
      const needs = shutdownNeedsMs(roleOf(container), container);
      expect({ service: nameOf(container), enough: graceMs >= needs }).toEqual({ service: nameOf(container), enough: true });
    }
  });
});

/** What a stopping proxy or worker needs before it is killed: its own shutdown, from its own configuration. */
function shutdownNeedsMs(role: Role, container: DeployedContainer): number {
  if (role === 'data-plane') return shutdownDurationMs(dataPlaneOptions(container).shutdownGraceMs);
  return rolloutShutdownGraceMs(controlPlaneConfig(container).rollout.timeoutMs);
}

/** A compose duration (`45s`, `1m30s`, `500ms`) in milliseconds. */
function composeDurationMs(value: string, where: string): number {
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== value) throw new Error(`${where}: "${value}" is not a compose duration`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
  return parts.reduce((sum, [, n, u]) => sum + Number(n) * unit[u as keyof typeof unit], 0);
}

// --- Kubernetes --------------------------------------------------------------------------------------

describe('deploy/kubernetes', () => {
  const objects = readKubernetesObjects();
  const ofKind = (kind: string): KubernetesObject[] => objects.filter((o) => o.kind === kind);
  const named = (kind: string, name: string): KubernetesObject => {
    const found = objects.find((o) => o.kind === kind && o.name === name);
    if (!found) throw new Error(`no ${kind} named ${name} in deploy/kubernetes`);
    return found;
  };
  const namespace = (() => {
    const namespaces = ofKind('Namespace');
    expect(namespaces).toHaveLength(1);
    return namespaces[0].name;
  })();
  const secretData = (name: string): Json => record(named('Secret', name).body.stringData, `Secret ${name} stringData`);
  const configMapData = (name: string): Json => record(named('ConfigMap', name).body.data, `ConfigMap ${name} data`);

  interface Workload {
    readonly object: KubernetesObject;
    readonly pod: Json;
    readonly labels: Json;
    readonly containers: Array<{ spec: Json; deployed: DeployedContainer }>;
  }

  const podTemplate = (object: KubernetesObject): Json => record(record(object.body.spec, `${object.kind} ${object.name} spec`).template, `${object.kind} ${object.name} template`);

  /** The container's variables as the kubelet resolves them (fieldRefs become a stand-in pod name). */
  const containerEnv = (spec: Json, where: string): Map<string, string> => {
    const env = new Map<string, string>();
    for (const source of list(spec.envFrom ?? [], `${where} envFrom`).map((s, i) => record(s, `${where} envFrom[${i}]`))) {
      if (source.configMapRef) for (const [k, v] of Object.entries(configMapData(text(record(source.configMapRef, 'configMapRef').name, 'name')))) env.set(k, scalar(v, k));
      else if (source.secretRef) for (const [k, v] of Object.entries(secretData(text(record(source.secretRef, 'secretRef').name, 'name')))) env.set(k, scalar(v, k));
      else throw new Error(`${where}: unknown envFrom source`);
    }
    for (const variable of list(spec.env ?? [], `${where} env`).map((v, i) => record(v, `${where} env[${i}]`))) {
      const name = text(variable.name, `${where} env name`);
      if (variable.value !== undefined) {
        env.set(name, scalar(variable.value, name));
        continue;
      }
      const from = record(variable.valueFrom, `${where} ${name} valueFrom`);
      if (from.secretKeyRef || from.configMapKeyRef) {
        const ref = record(from.secretKeyRef ?? from.configMapKeyRef, `${where} ${name} ref`);
        const data = from.secretKeyRef ? secretData(text(ref.name, 'name')) : configMapData(text(ref.name, 'name'));
        const key = text(ref.key, `${where} ${name} key`);
        if (data[key] === undefined) throw new Error(`${where}: ${name} refers to key ${key}, which ${text(ref.name, 'name')} lacks`);
        env.set(name, scalar(data[key], key));
      } else if (from.fieldRef) {
        env.set(name, `<${text(record(from.fieldRef, 'fieldRef').fieldPath, 'fieldPath')}>`);
      } else {
        throw new Error(`${where}: ${name} has an unknown valueFrom`);
      }
    }
    return env;
  };

  const workloads: Workload[] = objects
    .filter((o) => ['Deployment', 'Job', 'StatefulSet', 'DaemonSet'].includes(o.kind))
    .map((object) => {
      const template = podTemplate(object);
      const pod = record(template.spec, `${object.kind} ${object.name} pod spec`);
      const labels = record(record(template.metadata, `${object.kind} ${object.name} template metadata`).labels, 'labels');
      const containers = list(pod.containers, `${object.kind} ${object.name} containers`).map((c, i) => {
        const spec = record(c, `${object.kind} ${object.name} containers[${i}]`);
        const where = `${object.kind} ${object.name} container ${text(spec.name, 'container name')}`;
        const optional = (value: unknown, field: string): string[] | undefined => (value === undefined ? undefined : strings(value, `${where} ${field}`));
        return {
          spec,
          deployed: { where, image: text(spec.image, `${where} image`), argv: effectiveArgv(IMAGE, optional(spec.command, 'command'), optional(spec.args, 'args')), env: containerEnv(spec, where) },
        };
      });
      return { object, pod, labels, containers };
    });
  const deployed = workloads.flatMap((w) => w.containers.map((c) => c.deployed));
  const workloadOf = (role: Role): Workload => {
    const found = workloads.filter((w) => w.containers.some((c) => roleOf(c.deployed) === role));
    expect({ role, count: found.length }).toEqual({ role, count: 1 });
    return found[0];
  };
  const containerOf = (role: Role): { spec: Json; deployed: DeployedContainer } => {
    const found = workloadOf(role).containers.find((c) => roleOf(c.deployed) === role);
    if (!found) throw new Error(`no ${role} container`);
    return found;
  };
  const containerPorts = (spec: Json): Array<{ name: string | undefined; port: number }> =>
    list(spec.ports ?? [], 'ports').map((p) => {
      const port = record(p, 'port');
      return { name: port.name === undefined ? undefined : text(port.name, 'port name'), port: Number(port.containerPort) };
    });
  /** A probe's or Service's target port (a number or a container port name) as a number. */
  const portNumber = (spec: Json, port: unknown): number => {
    if (typeof port === 'number') return port;
    const found = containerPorts(spec).find((p) => p.name === port);
    if (!found) throw new Error(`no container port named ${String(port)}`);
    return found.port;
  };
  /** Pods a selector picks. */
  const selected = (selector: Json): Workload[] => workloads.filter((w) => Object.entries(selector).every(([key, value]) => w.labels[key] === value));
  /** The Service behind `host` (`name`, `name.namespace`, `name.namespace.svc…`) and the workload it selects. */
  const serviceBehind = (host: string): { service: KubernetesObject; workload: Workload } => {
    const [name, serviceNamespace] = host.split('.');
    if (serviceNamespace !== undefined) expect(serviceNamespace).toBe(namespace);
    const service = named('Service', name);
    const pods = selected(record(record(service.body.spec, 'spec').selector, 'selector'));
    expect(pods).toHaveLength(1);
    return { service, workload: pods[0] };
  };
  /** The container port a Service port sends to. */
  const servicePortTarget = (service: KubernetesObject, workload: Workload, port: number): number => {
    const spec = record(service.body.spec, 'spec');
    const entry = list(spec.ports, 'ports').map((p) => record(p, 'port')).find((p) => Number(p.port) === port);
    if (!entry) throw new Error(`Service ${service.name} has no port ${port}`);
    return portNumber(workload.containers[0].spec, entry.targetPort ?? entry.port);
  };

  test('every object has apiVersion, kind and a name, namespaced objects in the one Namespace', () => {
    expect(objects.length).toBeGreaterThanOrEqual(10);
    for (const object of objects) {
      expect(object.apiVersion).toMatch(/^([a-z.]+\/)?v\d+((alpha|beta)\d+)?$/);
      if (object.kind !== 'Namespace') expect({ object: `${object.kind} ${object.name}`, namespace: object.namespace }).toEqual({ object: `${object.kind} ${object.name}`, namespace });
    }
    expect(new Set(objects.map((o) => `${o.kind}/${o.name}`)).size).toBe(objects.length);
  });

  test('kustomization.yaml lists every manifest but the Secret template (an apply must not overwrite real secrets)', () => {
    const kustomization = record(parse(readFileSync(join(KUBERNETES_DIR, 'kustomization.yaml'), 'utf8')), 'kustomization.yaml');
    const secretFiles = new Set(ofKind('Secret').map((s) => s.file));
    expect(kustomization.namespace).toBe(namespace);
    expect(strings(kustomization.resources, 'resources').sort()).toEqual(kubernetesManifestFiles().filter((f) => !secretFiles.has(f)));
  });

  test('every role runs one image, the compose image tagged with the package version', () => {
    const images = new Set(deployed.map((c) => c.image));
    expect(images.size).toBe(1);
    const [image] = images;
    const composeImage = text(readCompose(readEnvFile(join(DEPLOY_DIR, '.env.example'))).services.get('control-plane')?.image, 'compose control-plane image');
    expect(imageName(image)).toBe(imageName(composeImage));
    expect(image).toBe(`${imageName(composeImage)}:${PACKAGE.version}`);
  });

  test('runs real CLI commands: migrate (Job), control-plane (2 replicas), worker, data-plane, and the environment bootstrap (Job)', () => {
    expect(deployed.map(roleOf).sort()).toEqual(['control-plane', 'create-environments', 'data-plane', 'migrate', 'worker']);
    expect(workloadOf('migrate').object.kind).toBe('Job');
    expect(workloadOf('create-environments').object.kind).toBe('Job');
    for (const role of ['control-plane', 'worker', 'data-plane'] as const) expect(workloadOf(role).object.kind).toBe('Deployment');
    expect(record(workloadOf('control-plane').object.body.spec, 'spec').replicas).toBe(2);
    for (const job of ofKind('Job')) {
      expect(['Never', 'OnFailure']).toContain(record(podTemplate(job).spec, 'pod').restartPolicy);
      expect(typeof record(job.body.spec, 'spec').backoffLimit).toBe('number');
    }
  });

  test('sets only variables the code of each role reads, from ConfigMaps and Secret keys that exist', () => {
    expect(deployed.flatMap(unknownVariables)).toEqual([]);
    // Proxies get the one secret they need, not the database credentials.
    expect(containerOf('data-plane').deployed.env.has('DATABASE_URL')).toBe(false);
  });

  test('lets proxies drain and the worker finish its rollouts, after any preStop pause, before Kubernetes kills them', () => {
    for (const role of ['data-plane', 'worker'] as const) {
      const workload = workloadOf(role);
      const { spec, deployed: container } = containerOf(role);
      // Kubernetes counts the grace period from the start of preStop; its default is 30 s.
      const periodMs = Number(workload.pod.terminationGracePeriodSeconds ?? 30) * 1000;
      const preStop = spec.lifecycle === undefined ? undefined : record(record(spec.lifecycle, 'lifecycle').preStop, 'preStop');
      const pause = preStop === undefined ? [] : strings(record(preStop.exec, 'preStop exec').command, 'preStop command');
      const pauseMs = pause[0] === 'sleep' ? Number(pause[1]) * 1000 : 0;
      expect({ role, enough: periodMs - pauseMs >= shutdownNeedsMs(role, container) }).toEqual({ role, enough: true });
    }
  });

  test('Deployments with ports have readiness and liveness probes on the routes and ports the processes serve', () => {
    const controlPlane = containerOf('control-plane');
    const config = controlPlaneConfig(controlPlane.deployed);
    expect([config.host, config.grpcHost]).toEqual(['0.0.0.0', '0.0.0.0']);
    expect(containerPorts(controlPlane.spec).map((p) => p.port).sort()).toEqual([config.port, config.grpcPort].sort());
    const proxy = containerOf('data-plane');
    const options = dataPlaneOptions(proxy.deployed);
    expect(options.host).toBe('0.0.0.0');
    expect(containerPorts(proxy.spec).map((p) => p.port)).toEqual([options.port]);

    const probe = (spec: Json, kind: string): { path: string | undefined; port: number } => {
      const found = record(spec[kind], `${kind}`);
      const action = record(found.httpGet ?? found.tcpSocket, `${kind} action`);
      return { path: found.httpGet ? text(action.path, 'path') : undefined, port: portNumber(spec, action.port) };
    };
    expect(probe(proxy.spec, 'readinessProbe')).toEqual({ path: '/readyz', port: options.port });
    expect(probe(proxy.spec, 'livenessProbe')).toEqual({ path: '/healthz', port: options.port });
    expect(PROXY_ROUTES).toContain('/readyz');
    expect(PROXY_ROUTES).toContain('/healthz');
    expect(probe(controlPlane.spec, 'readinessProbe')).toEqual({ path: '/healthz', port: config.port });
    expect(probe(controlPlane.spec, 'livenessProbe').port).toBe(config.port);
    expect(CONTROL_PLANE_ROUTES).toContain('/healthz');
    for (const workload of ofKind('Deployment').map((d) => workloads.find((w) => w.object === d) as Workload)) {
      for (const { spec, deployed: container } of workload.containers) {
        if (containerPorts(spec).length === 0) continue;
        expect({ container: container.where, readiness: spec.readinessProbe !== undefined, liveness: spec.livenessProbe !== undefined }).toEqual({ container: container.where, readiness: true, liveness: true });
      }
    }
  });

  test('every container has CPU and memory requests and limits, runs as the image user, non-root, read-only, unprivileged', () => {
    const imageUser = Number(STAGES[STAGES.length - 1].instructions.filter((i) => i.keyword === 'USER').at(-1)?.argument.split(':')[0]);
    for (const workload of workloads) {
      const podSecurity = record(workload.pod.securityContext ?? {}, 'pod securityContext');
      for (const { spec, deployed: container } of workload.containers) {
        const resources = record(spec.resources, `${container.where} resources`);
        for (const bound of ['requests', 'limits']) {
          const values = record(resources[bound], `${container.where} resources.${bound}`);
          expect({ container: container.where, bound, cpu: values.cpu !== undefined, memory: values.memory !== undefined }).toEqual({ container: container.where, bound, cpu: true, memory: true });
        }
        const security = { ...podSecurity, ...record(spec.securityContext ?? {}, `${container.where} securityContext`) };
        expect({ container: container.where, runAsNonRoot: security.runAsNonRoot, runAsUser: security.runAsUser, readOnlyRootFilesystem: security.readOnlyRootFilesystem, allowPrivilegeEscalation: security.allowPrivilegeEscalation }).toEqual({
          container: container.where,
          runAsNonRoot: true,
          runAsUser: imageUser,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
        });
      }
    }
  });

  test('Services select existing pods and send to ports those pods listen on: control plane 4000 + 50051, proxies 8080', () => {
    for (const service of ofKind('Service')) {
      const selector = record(record(service.body.spec, 'spec').selector, `Service ${service.name} selector`);
      expect(Object.keys(selector).length).toBeGreaterThan(0);
      const pods = selected(selector);
      expect({ service: service.name, selects: pods.map((w) => w.object.name) }).toEqual({ service: service.name, selects: [expect.any(String)] });
      for (const port of list(record(service.body.spec, 'spec').ports, 'ports').map((p) => record(p, 'port'))) {
        expect(servicePortTarget(service, pods[0], Number(port.port))).toBe(Number(port.port));
      }
    }
    const controlPlane = controlPlaneConfig(containerOf('control-plane').deployed);
    const controlPlaneServices = ofKind('Service').filter((s) => selected(record(record(s.body.spec, 'spec').selector, 'selector'))[0] === workloadOf('control-plane'));
    expect(controlPlaneServices.flatMap((s) => list(record(s.body.spec, 'spec').ports, 'ports').map((p) => Number(record(p, 'port').port))).sort()).toEqual([controlPlane.port, controlPlane.grpcPort].sort());
    const proxies = dataPlaneOptions(containerOf('data-plane').deployed);
    const proxyServices = ofKind('Service').filter((s) => selected(record(record(s.body.spec, 'spec').selector, 'selector'))[0] === workloadOf('data-plane'));
    expect(proxyServices.flatMap((s) => list(record(s.body.spec, 'spec').ports, 'ports').map((p) => Number(record(p, 'port').port)))).toEqual([proxies.port]);
    for (const budget of ofKind('PodDisruptionBudget')) {
      expect(selected(record(record(record(budget.body.spec, 'spec').selector, 'selector').matchLabels, 'matchLabels'))).toHaveLength(1);
    }
  });

  test('proxies dial the control-plane Service on its gRPC port, with its token, and count in its Redis', () => {
    const config = controlPlaneConfig(containerOf('control-plane').deployed);
    const options = dataPlaneOptions(containerOf('data-plane').deployed);
    const [host, port] = options.controlPlane.address.split(':');
    const { service, workload } = serviceBehind(host);
    expect(workload).toBe(workloadOf('control-plane'));
    expect(servicePortTarget(service, workload, Number(port))).toBe(config.grpcPort);
    expect(options.controlPlane.token).toBeDefined();
    expect(options.controlPlane.token).toBe(config.dataPlaneToken);
    expect(options.rateLimiting.redisUrl).toBe(config.redisUrl);
    expect(options.proxyId).toBe('<metadata.name>');
  });

  test('the HorizontalPodAutoscaler (autoscaling/v2) scales the data-plane Deployment on CPU', () => {
    const autoscalers = ofKind('HorizontalPodAutoscaler');
    expect(autoscalers).toHaveLength(1);
    const [hpa] = autoscalers;
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    const spec = record(hpa.body.spec, 'spec');
    const target = record(spec.scaleTargetRef, 'scaleTargetRef');
    const proxies = workloadOf('data-plane');
    expect([target.apiVersion, target.kind, target.name]).toEqual([proxies.object.apiVersion, proxies.object.kind, proxies.object.name]);
    const cpu = list(spec.metrics, 'metrics').map((m) => record(m, 'metric')).find((m) => m.type === 'Resource' && record(m.resource, 'resource').name === 'cpu');
    expect(record(record(cpu?.resource, 'resource').target, 'target').type).toBe('Utilization');
    expect(Number(spec.minReplicas)).toBeGreaterThanOrEqual(2);
    expect(Number(spec.maxReplicas)).toBeGreaterThan(Number(spec.minReplicas));
    // Utilization is measured against the request.
    expect(record(record(containerOf('data-plane').spec.resources, 'resources').requests, 'requests').cpu).toBeDefined();
  });

  test('the bootstrap Job creates the environment the proxies serve, through the control-plane Service, naming the proxy Service', () => {
    const config = controlPlaneConfig(containerOf('control-plane').deployed);
    const bootstrap = containerOf('create-environments').deployed;
    const [endpoint, ...environments] = bootstrap.argv.slice(2);
    const url = new URL(endpoint);
    const { service, workload } = serviceBehind(url.hostname);
    expect(workload).toBe(workloadOf('control-plane'));
    expect(servicePortTarget(service, workload, Number(url.port))).toBe(config.port);
    expect(url.pathname).toBe('/graphql');
    expect(bootstrap.env.get('TOKENGATE_ADMIN_TOKEN')).toBe(config.adminToken);
    const created = environmentsCreated(environments);
    const served = dataPlaneOptions(containerOf('data-plane').deployed).environment;
    const proxyUrl = created.get(served);
    if (!proxyUrl) throw new Error(`the bootstrap Job does not create environment ${served}`);
    const behind = serviceBehind(proxyUrl.hostname);
    expect(behind.workload).toBe(workloadOf('data-plane'));
    expect(servicePortTarget(behind.service, behind.workload, Number(proxyUrl.port))).toBe(dataPlaneOptions(containerOf('data-plane').deployed).port);
  });

  test('the Secret is a template: placeholders only, every key a workload reads', () => {
    for (const secret of ofKind('Secret')) {
      expect(secret.body.data).toBeUndefined();
      const data = secretData(secret.name);
      for (const [key, value] of Object.entries(data)) {
        expect({ key, placeholder: /<[a-z0-9-]+>/.test(text(value, key)), randomLooking: RANDOM_LOOKING.test(text(value, key)) }).toEqual({ key, placeholder: true, randomLooking: false });
      }
      expect(() => parseSecretKeys(text(data.TOKENGATE_SECRET_KEY, 'TOKENGATE_SECRET_KEY'), undefined, false)).toThrow(/32 random bytes/);
    }
    // The control plane refuses to start without these outside development mode.
    expect(Object.keys(secretData('tokengate-secrets')).sort()).toEqual(['DATABASE_URL', 'TOKENGATE_ADMIN_TOKEN', 'TOKENGATE_DATAPLANE_TOKEN', 'TOKENGATE_SECRET_KEY']);
  });
});
