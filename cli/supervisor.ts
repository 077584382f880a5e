// `tokengate start` runs the proxies as child processes of its own (the same CLI, another command),
// so each is exactly what an operator runs; they stop with the parent.
import { type ChildProcess, spawn } from 'node:child_process';

export interface ChildSpec {
  name: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

export class Supervisor {
  private readonly children: Array<{ spec: ChildSpec; child: ChildProcess }> = [];
  private stopping = false;

  constructor(private readonly onUnexpectedExit: (name: string, code: number | null) => void) {}

  start(spec: ChildSpec): ChildProcess {
    const child = spawn(process.execPath, [process.argv[1], ...spec.args], { env: { ...process.env, ...spec.env }, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('exit', (code) => {
      if (!this.stopping) this.onUnexpectedExit(spec.name, code);
    });
    this.children.push({ spec, child });
    return child;
  }

  /** SIGTERM to every child (graceful), SIGKILL to any still running after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.children.map(
        ({ child }) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
  }
}

/** Resolves once `url` answers 200, or rejects after `timeoutMs`. */
export async function waitUntilReady(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not become ready within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
