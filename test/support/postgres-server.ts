// A private PostgreSQL cluster for tests that crash and restart the database (the shared server
// on 5432 must stay up): initdb into a temporary directory, pg_ctl start/stop on a free port.
// As root, every PostgreSQL binary runs as the `postgres` OS user (the server refuses root).
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareDatabase } from '../../control-plane/src/control-plane';
import { freePort } from './free-port';

const PG_BIN = process.env.TOKENGATE_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const RUN_AS = 'postgres';

const liveServers = new Set<PrivatePostgres>();
// Safety net for a test process that dies without its afterAll: no postmaster outlives it.
process.once('exit', () => {
  for (const server of liveServers) server.killSync();
});

export class PrivatePostgres {
  private started = false;

  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  /** initdb (trust auth, fsync off) and start; call dispose() when done. */
  static async start(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'tokengate-pg-'));
    const server = new PrivatePostgres(await freePort(), dir);
    try {
      if (asRoot()) {
        const uid = Number(execFileSync('id', ['-u', RUN_AS]).toString().trim());
        const gid = Number(execFileSync('id', ['-g', RUN_AS]).toString().trim());
        chownSync(dir, uid, gid);
      }
      await server.pg('initdb', ['-D', server.dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '--encoding=UTF8', '--locale=C']);
      await server.start();
      return server;
    } catch (error) {
      server.dispose();
      throw error;
    }
  }

  /** False between stop() and the next start(). */
  get running(): boolean {
    return this.started;
  }

  /** Server URL without a database name, like TOKENGATE_TEST_DATABASE_SERVER. */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}`;
  }

  /** Creates `name` and applies the migrations, as `tokengate migrate` does; drop() removes it again. */
  async migratedDatabase(name = 'tokengate'): Promise<{ url: string; drop(): Promise<void> }> {
    const url = `${this.url}/${name}`;
    const db = await prepareDatabase(url);
    await db.destroy();
    // The whole cluster is thrown away by dispose(); nothing to drop while it runs.
    return { url, drop: async () => undefined };
  }

  private get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** Starts (again) on the same port and waits until it accepts connections (crash recovery included). */
  async start(): Promise<void> {
    const options = [
      `-p ${this.port}`,
      '-c listen_addresses=127.0.0.1',
      `-c unix_socket_directories=${this.dir}`,
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=40',
      '-c shared_buffers=16MB',
    ].join(' ');
    this.started = true;
    liveServers.add(this);
    await this.pg('pg_ctl', ['-D', this.dataDir, '-l', join(this.dir, 'server.log'), '-o', options, '-w', '-t', '60', 'start']);
  }

  /** `fast`: a clean shutdown (sessions are disconnected); `immediate`: a crash (no checkpoint, recovery at the next start). */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (!this.started) return;
    await this.pg('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
    this.started = false;
    liveServers.delete(this);
  }

  /** Stops the server if it runs and removes its files. Idempotent, never throws. */
  dispose(): void {
    this.killSync();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Immediate stop, ignoring failures (used on exit paths). */
  killSync(): void {
    if (this.started) spawnSync(...this.command('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']), { stdio: 'ignore' });
    this.started = false;
    liveServers.delete(this);
  }

  /** The server's own log (for failure messages). */
  log(): string {
    try {
      return readFileSync(join(this.dir, 'server.log'), 'utf8');
    } catch {
      return '';
    }
  }

  private pg(binary: string, args: string[]): Promise<void> {
    const [file, argv] = this.command(binary, args);
    return new Promise((resolve, reject) => {
      execFile(file, argv, { cwd: this.dir }, (error, stdout, stderr) => {
        if (error) reject(new Error(`${binary} ${args.join(' ')} failed (${error.code ?? error.signal}):\n${stdout}${stderr}\n${this.log()}`));
        else resolve();
      });
    });
  }

  private command(binary: string, args: string[]): [string, string[]] {
    const path = join(PG_BIN, binary);
    return asRoot() ? ['runuser', ['-u', RUN_AS, '--', path, ...args]] : [path, args];
  }
}

function asRoot(): boolean {
  return process.getuid?.() === 0;
}
