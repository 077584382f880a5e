// `npm start` as a newcomer runs it: a database that does not exist yet, printed URLs and admin
// token, the README's first GraphQL session working as written, and a clean stop on Ctrl-C.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { TEST_SERVER_URL } from '../support/database';
import { waitFor } from '../support/wait';
import { freePort } from '../support/free-port';
import { REPO_ROOT, repositoryCopy, runCli } from '../support/processes';

const exec = promisify(execFile);

function readmeSession(): string {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('<!-- readme-session:start -->'), readme.indexOf('<!-- readme-session:end -->'));
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]).join('\n');
}

describe('tokengate start', () => {
  const database = `tokengate_start_${randomBytes(4).toString('hex')}`;
  const stateDir = mkdtempSync(join(tmpdir(), 'tokengate-start-'));

  /** A run of its own: this file's database and state, free ports, as a user runs it (no NODE_ENV=test). */
  const ownPorts = (developmentPort: number, productionPort: number): NodeJS.ProcessEnv => ({
    DATABASE_URL: `${TEST_SERVER_URL}/${database}`,
    TOKENGATE_PORT: '0',
    TOKENGATE_GRPC_PORT: '0',
    TOKENGATE_DEVELOPMENT_PROXY_PORT: String(developmentPort),
    TOKENGATE_PRODUCTION_PROXY_PORT: String(productionPort),
    TOKENGATE_STATE_DIR: stateDir,
    TOKENGATE_WORKER_PORT: '0',
    NODE_ENV: '',
  });

  afterAll(async () => {
    rmSync(stateDir, { recursive: true, force: true });
    const admin = new Client({ connectionString: `${TEST_SERVER_URL}/postgres` });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.end();
  });

  it('creates the database, starts a proxy per environment, prints the URLs and admin token, runs the README session, and stops cleanly on SIGINT', async () => {
    const [developmentPort, productionPort] = [await freePort(), await freePort()];
    const app = runCli(['start'], {
      TOKENGATE_DEVELOPMENT_PROXY_PORT: String(developmentPort),
      TOKENGATE_PRODUCTION_PROXY_PORT: String(productionPort),
      DATABASE_URL: `${TEST_SERVER_URL}/${database}`,
      TOKENGATE_PORT: '0',
      TOKENGATE_GRPC_PORT: '0',
      TOKENGATE_STATE_DIR: stateDir,
      TOKENGATE_WORKER_PORT: '0',
      TOKENGATE_ADMIN_TOKEN: '',
      TOKENGATE_SECRET_KEY: '',
      TOKENGATE_DATAPLANE_TOKEN: '',
      TOKENGATE_MODE: '',
      // As a user runs it (jest sets NODE_ENV=test, which changes library behaviour such as Apollo's signal handling).
      NODE_ENV: '',
    });
    try {
      const [, graphqlUrl] = await app.waitFor(/GraphQL API\s+(http:\/\/\S+\/graphql)/);
      const [, token] = await app.waitFor(/Admin token\s+(\S+)/);
      const [, developmentProxy] = await app.waitFor(/Proxy \(development\)\s+(http:\/\/\S+)/);
      const [, productionProxy] = await app.waitFor(/Proxy \(production\)\s+(http:\/\/\S+)/);
      expect([developmentProxy, productionProxy]).toEqual([`http://127.0.0.1:${developmentPort}`, `http://127.0.0.1:${productionPort}`]);
      for (const proxy of [developmentProxy, productionProxy]) expect((await fetch(`${proxy}/readyz`)).status).toBe(200);
      expect(readFileSync(join(stateDir, 'dev.env'), 'utf8')).toContain(`TOKENGATE_ADMIN_TOKEN=${token}`);

      const script = readmeSession()
        .replace('export TOKEN=<admin token printed by npm start>', `export TOKEN='${token}'`)
        .replaceAll('http://127.0.0.1:4000/graphql', graphqlUrl);
      const { stdout } = await exec('bash', ['-euo', 'pipefail', '-c', script], { cwd: REPO_ROOT });
      const lines = stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { data: Record<string, unknown>; errors?: unknown });
      expect(lines.every((l) => !l.errors)).toBe(true);
      expect(lines[0].data.genAIService).toMatchObject({
        contextPath: '/openai',
        environmentConfigs: [
          { environment: 'development', backendSecurity: { configured: false, hint: null }, rateLimit: null },
          { environment: 'production', backendSecurity: { configured: true, hint: '…-key' }, rateLimit: { timeUnit: 'MINUTE', maxTotalTokens: 100000 } },
        ],
      });
      expect(lines[1].data.marketplace).toEqual([expect.objectContaining({ name: 'OpenAI GPT', provider: 'OPENAI' })]);
      const keys = (lines[2].data.createConnection as { keys: Array<{ environment: string; apiKey: string; endpointUrl: string }> }).keys;
      expect(keys).toEqual([
        { environment: 'development', apiKey: expect.stringMatching(/^tgk_/), endpointUrl: `${developmentProxy}/acme/openai` },
        { environment: 'production', apiKey: expect.stringMatching(/^tgk_/), endpointUrl: `${productionProxy}/acme/openai` },
      ]);
      // Each proxy reports (through the control plane) that it applied its environment's newest revision.
      const gql = async (query: string) =>
        (await (await fetch(graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query }) })).json()) as {
          data: { environments: Array<{ handle: string; revision: number }>; dataPlanes: Array<{ environment: string; appliedRevision: number; connected: boolean }> };
        };
      await waitFor(async () => {
        const { data } = await gql('{ environments { handle revision } dataPlanes { environment appliedRevision connected } }');
        return data.environments.every((e) => data.dataPlanes.some((d) => d.environment === e.handle && d.connected && d.appliedRevision >= e.revision));
      }, 'both proxies to apply the newest revision');
      expect((await fetch(`${productionProxy}/acme/openai/models`, { headers: { authorization: 'Bearer tgk_unknown' } })).status).toBe(401);
      expect(app.output()).not.toContain('sk-your-openai-key');
    } finally {
      expect(await app.stop('SIGINT')).toBe(0);
    }
  });

  it('--demo prints a curl command and an openai SDK snippet that work as printed', async () => {
    const [developmentPort, productionPort] = [await freePort(), await freePort()];
    const app = runCli(['start', '--demo'], ownPorts(developmentPort, productionPort));
    try {
      const [, endpoint] = await app.waitFor(/Endpoint\s+(http:\/\/\S+)/);
      const [, apiKey] = await app.waitFor(/API key\s+(tgk_\S+)/);
      const [, curl] = await app.waitFor(/\n {2}(curl -s \S+\/chat\/completions .*)\n/);
      expect(endpoint).toBe(`http://127.0.0.1:${developmentPort}/demo/openai`);
      const { stdout } = await exec('bash', ['-c', curl]);
      expect(JSON.parse(stdout)).toMatchObject({ object: 'chat.completion', choices: [{ message: { content: 'Hello from the fake' } }] });

      // The printed snippet, run as printed (an ES module using the openai package).
      const snippet = app.output().split('\n').filter((line) => /^ {2}(import OpenAI|const client|const reply|console\.log\(reply)/.test(line)).map((line) => line.trim()).join('\n');
      expect(snippet).toContain(`baseURL: '${endpoint}'`);
      const file = join(REPO_ROOT, `demo-snippet-${process.pid}.mjs`);
      writeFileSync(file, snippet);
      try {
        const { stdout: printed } = await exec(process.execPath, [file], { cwd: REPO_ROOT });
        expect(printed.trim()).toBe('Hello from the fake');
      } finally {
        rmSync(file, { force: true });
      }
      expect(apiKey).toMatch(/^tgk_/);
    } finally {
      expect(await app.stop('SIGINT')).toBe(0);
    }
  });

  // A process manager (systemd, a CI job, `timeout`) sends SIGTERM to the process it started: npm.
  // npm forwards it to its script's shell; the system must stop with it, not outlive it holding the ports.
  // It runs in a copy of the repository: `npm start` builds first, and rebuilding dist/ here would take
  // the built console and CLI from under the tests running beside this one.
  it('`npm start` stops the whole system when npm gets SIGTERM, leaving no process behind', async () => {
    const [developmentPort, productionPort] = [await freePort(), await freePort()];
    const copy = repositoryCopy();
    const npm = spawn('npm', ['start'], {
      cwd: copy.dir,
      detached: true, // its own process group: what is left of it after it exits can be found and cleaned up
      env: { ...process.env, ...ownPorts(developmentPort, productionPort) },
    });
    const group = npm.pid!;
    const groupAlive = () => {
      try {
        process.kill(-group, 0);
        return true;
      } catch {
        return false;
      }
    };
    let output = '';
    npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => output.includes('Stop with Ctrl-C.'), `npm start to print its banner; output so far:\n${output}`, 120_000);
      npm.kill('SIGTERM');
      expect(await exited).toBe(0);
      await waitFor(() => !groupAlive(), 'every process of npm start to exit');
      for (const port of [developmentPort, productionPort]) await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    } finally {
      if (groupAlive()) process.kill(-group, 'SIGKILL');
      copy.remove();
    }
  }, 180_000);

  it('refuses to start when a proxy port is taken (another Tokengate answering /readyz there), naming it, instead of reporting that one as its own', async () => {
    const other = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ready"}'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const taken = (other.address() as AddressInfo).port;
    try {
      const app = runCli(['start'], { ...ownPorts(taken, await freePort()) });
      expect(await app.exited).toBe(2);
      expect(app.output()).toContain(`- 127.0.0.1:${taken} (the development proxy) is in use (is Tokengate already running?); stop what holds it or set TOKENGATE_DEVELOPMENT_PROXY_PORT`);
      expect(app.output()).not.toContain('Tokengate is running');
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  it('refuses proxy ports it could not print (0, which the system would pick, or no number), naming each variable', async () => {
    const app = runCli(['start'], { ...ownPorts(0, await freePort()), TOKENGATE_PRODUCTION_PROXY_PORT: 'http' });
    expect(await app.exited).toBe(2);
    expect(app.output()).toContain('- TOKENGATE_DEVELOPMENT_PROXY_PORT must be a port number from 1 to 65535 (got "0")');
    expect(app.output()).toContain('- TOKENGATE_PRODUCTION_PROXY_PORT must be a port number from 1 to 65535 (got "http")');
    expect(app.output()).not.toContain('Tokengate is running');
  });

  it('says which dependency is unreachable, where, and how to start it', async () => {
    const app = runCli(['start'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/tokengate', TOKENGATE_STATE_DIR: stateDir, TOKENGATE_PORT: '0', TOKENGATE_GRPC_PORT: '0' });
    expect(await app.exited).toBe(2);
    expect(app.output()).toMatch(/PostgreSQL is not reachable at 127\.0\.0\.1:1[\s\S]*pg_ctlcluster/);
  });
});
