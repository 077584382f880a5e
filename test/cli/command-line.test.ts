// What `tokengate` does with a question or a typo on its command line: `--help` answers and starts
// nothing; an unknown command or flag is named and refused (exit 2) before anything runs.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, type Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase } from '../support/database';
import { CLI, REPO_ROOT } from '../support/processes';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

// PostgreSQL on port 1: a command that runs instead of answering fails loudly rather than touching a database.
const UNREACHABLE = { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/tokengate', REDIS_URL: 'redis://127.0.0.1:1', TOKENGATE_MODE: 'development', TOKENGATE_TOKEN: '' };

function tokengate(...args: string[]): Promise<Run> {
  return tokengateWith({}, ...args);
}

function tokengateWith(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...UNREACHABLE, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

describe('tokengate command line', () => {
  it.each(['--help', '-h', 'help', 'start --help', 'control-plane --help', 'worker -h', 'migrate --help'])('`tokengate %s` prints the usage on stdout and runs nothing', async (line) => {
    const run = await tokengate(...line.split(' '));
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain('usage: tokengate <command> [flags]');
  });

  it.each([
    [['rotate-secret-key', '--help'], 'rotate-secret-key [--dry-run]'],
    [['apply', '--help'], 'apply -f <file.yaml|json>'],
    [['connect', '-h'], 'connect <org handle><context path>'],
  ])('`tokengate %p` prints its usage on stdout', async (args, usage) => {
    const run = await tokengate(...args);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain(usage);
  });

  it.each([
    [['start', '--dmeo'], 'tokengate start: unknown flag --dmeo'],
    [['start', '--demo', 'please'], 'tokengate start: --demo takes no value (got "please")'],
    [['control-plane', '--prot', '5000'], 'tokengate control-plane: unknown flag --prot'],
    [['migrate', '--database-url'], 'tokengate migrate: --database-url needs a value'],
    [['worker', 'now'], 'tokengate worker: unexpected argument "now"'],
    [['strat'], 'tokengate: unknown command "strat"'],
  ])('`tokengate %p` names the mistake and exits 2 without starting', async (args, message) => {
    const run = await tokengate(...args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stderr).not.toContain('PostgreSQL is not reachable');
  });

  it('`tokengate migrate` says that PostgreSQL is unreachable, where, and how to start it (exit 2)', async () => {
    const run = await tokengate('migrate');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^tokengate cannot start:\n- PostgreSQL is not reachable at 127\.0\.0\.1:1 [\s\S]*pg_ctlcluster/);
    expect(run.stderr).not.toContain('    at ');
  });

  it.each(['migrate', 'control-plane', 'start'])('`tokengate %s` with a DATABASE_URL that is no URL says so (exit 1), not a stack trace', async (command) => {
    const stateDir = mkdtempSync(join(tmpdir(), 'tokengate-cli-'));
    const run = await tokengateWith({ DATABASE_URL: '127.0.0.1:5432/tokengate', TOKENGATE_STATE_DIR: stateDir }, command).finally(() => rmSync(stateDir, { recursive: true, force: true }));
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('tokengate: DATABASE_URL must be a PostgreSQL URL such as postgres://postgres@127.0.0.1:5432/tokengate, got "127.0.0.1:5432/tokengate"\n');
  });

  it('a reader that closes the pipe early (`tokengate ... | head -1`) is no crash: exit 0, no stack trace', async () => {
    const child = spawn(process.execPath, [CLI, 'apply', '--help'], { cwd: REPO_ROOT, env: { ...process.env, ...UNREACHABLE } });
    child.stdout.destroy(); // before the command writes: its first write meets a closed pipe
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  });

  describe('a listener address already in use (a second `npm start`, another program)', () => {
    let database: { url: string; drop(): Promise<void> };
    let holder: Server;
    let busyPort: number;

    beforeAll(async () => {
      database = await createTestDatabase();
      holder = createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      busyPort = (holder.address() as AddressInfo).port;
    });
    afterAll(async () => {
      await new Promise((resolve) => holder.close(resolve));
      await database.drop();
    });

    it.each([
      ['TOKENGATE_PORT', 'GraphQL'],
      ['TOKENGATE_GRPC_PORT', 'the gRPC config service'],
    ])('%s: `tokengate control-plane` names the address, what it is for and the variable that moves it (exit 1), no stack trace', async (variable, what) => {
      const env = { DATABASE_URL: database.url, REDIS_URL: 'redis://127.0.0.1:6379', TOKENGATE_REDIS_NAMESPACE: `tg-test-${process.pid}`, TOKENGATE_PORT: '0', TOKENGATE_GRPC_PORT: '0', [variable]: String(busyPort) };
      const run = await tokengateWith(env, 'control-plane');
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`tokengate: cannot listen on 127.0.0.1:${busyPort} for ${what}: the address is in use (is Tokengate already running?); stop what holds it or set ${variable}\n`);
      expect(run.stderr).not.toContain('    at ');
    });
  });
});
