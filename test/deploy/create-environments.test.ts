// deploy/create-environments.mjs, the bootstrap step of docker compose and Kubernetes, run as those
// run it (arguments from docker-compose.yml) against a real control plane.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './code-facts';
import { DEPLOY_DIR, readCompose, readEnvFile, strings } from './deploy-files';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane-harness';
import { freePort } from '../support/free-port';
import { waitFor } from '../support/wait';

const SCRIPT = join(REPO_ROOT, 'deploy/create-environments.mjs');

interface ScriptRun {
  readonly code: Promise<number | null>;
  output(): string;
}

function runScript(args: readonly string[], adminToken: string | undefined): ScriptRun {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.TOKENGATE_ADMIN_TOKEN;
  if (adminToken !== undefined) env.TOKENGATE_ADMIN_TOKEN = adminToken;
  const child = spawn(process.execPath, [SCRIPT, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { code: new Promise((resolve) => child.once('close', (code) => resolve(code))), output: () => output };
}

/** The `<handle>=<proxy URL>` arguments docker-compose.yml passes (after its interpolation). */
function composeEnvironmentArguments(): string[] {
  const compose = readCompose(readEnvFile(join(DEPLOY_DIR, '.env.example')));
  const bootstrap = [...compose.services.values()].find((s) => s.entrypoint !== undefined && strings(s.entrypoint, 'entrypoint').includes('deploy/create-environments.mjs'));
  if (!bootstrap) throw new Error('docker-compose.yml runs no deploy/create-environments.mjs');
  return strings(bootstrap.command, 'command').slice(1);
}

const ENVIRONMENTS_QUERY = '{ environments { handle name proxyUrl } }';
type Environments = { environments: Array<{ handle: string; name: string; proxyUrl: string }> };

describe('deploy/create-environments.mjs', () => {
  let cp: TestControlPlane;
  const specs = composeEnvironmentArguments();

  beforeAll(async () => {
    cp = await startTestControlPlane();
  });

  afterAll(async () => {
    await cp?.stop();
  });

  test('creates the environments docker compose asks for, then leaves them as they are', async () => {
    expect(specs.length).toBeGreaterThan(0);
    const extra = 'staging=http://proxies.example.test:8080';
    const first = runScript([cp.graphqlUrl, ...specs, extra], cp.adminToken);
    expect({ code: await first.code, output: first.output() }).toEqual({ code: 0, output: expect.stringContaining('created') });

    const { environments } = await cp.ok<Environments>(ENVIRONMENTS_QUERY);
    for (const spec of [...specs, extra]) {
      const [handle, proxyUrl] = [spec.slice(0, spec.indexOf('=')), spec.slice(spec.indexOf('=') + 1)];
      expect(environments).toContainEqual({ handle, name: handle.charAt(0).toUpperCase() + handle.slice(1), proxyUrl: new URL(proxyUrl).toString().replace(/\/$/, '') });
    }

    const again = runScript([cp.graphqlUrl, ...specs, extra], cp.adminToken);
    expect(await again.code).toBe(0);
    expect(again.output()).not.toContain('created');
    expect(again.output()).toContain(`environment ${specs[0].split('=')[0]} exists`);
    expect((await cp.ok<Environments>(ENVIRONMENTS_QUERY)).environments).toEqual(environments);
  });

  test('refuses a wrong admin token, a missing token and malformed arguments, creating nothing', async () => {
    const before = await cp.ok<Environments>(ENVIRONMENTS_QUERY);
    const wrongToken = runScript([cp.graphqlUrl, 'other=http://127.0.0.1:9090'], 'tgp_not-the-admin-token');
    expect(await wrongToken.code).toBe(1);
    expect(wrongToken.output()).toContain('UNAUTHENTICATED');
    const noToken = runScript([cp.graphqlUrl, 'other=http://127.0.0.1:9090'], undefined);
    expect(await noToken.code).toBe(2);
    expect(noToken.output()).toContain('TOKENGATE_ADMIN_TOKEN');
    const malformed = runScript([cp.graphqlUrl, 'other'], cp.adminToken);
    expect(await malformed.code).toBe(2);
    expect(malformed.output()).toContain('<handle>=<proxy-url>');
    expect(await cp.ok<Environments>(ENVIRONMENTS_QUERY)).toEqual(before);
  });

  test('waits for a control plane that is not listening yet', async () => {
    const port = await freePort();
    const run = runScript([`http://127.0.0.1:${port}/graphql`, 'late=http://127.0.0.1:8085'], cp.adminToken);
    await waitFor(() => run.output().includes('retrying'), 'the script to retry');
    // A second replica on the same database comes up where the script is knocking.
    const late = await startTestControlPlane({ TOKENGATE_PORT: String(port) }, cp);
    try {
      expect({ code: await run.code, output: run.output() }).toEqual({ code: 0, output: expect.stringContaining('environment late created') });
    } finally {
      await late.stop();
    }
    expect((await cp.ok<Environments>(ENVIRONMENTS_QUERY)).environments.map((e) => e.handle)).toContain('late');
  });
});
