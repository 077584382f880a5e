// Every process the benchmark starts is registered here, so that every way out (normal end, error,
// Ctrl-C, SIGTERM) stops all of them: SIGTERM first, SIGKILL for whatever is still alive after a grace.
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';

const KEPT_OUTPUT_CHARS = 8000;

export interface SpawnSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Node children only: an IPC channel, so a child can exit when the benchmark dies (`disconnect`). */
  readonly ipc?: boolean;
}

export interface ManagedChild {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal); never rejects. */
  readonly exited: Promise<number | null>;
  /** The last few thousand characters of stdout and stderr, for error messages. */
  outputTail(): string;
  isRunning(): boolean;
  /** Resolves with the first value `parse` returns for a stdout line; rejects when the child exits first or on timeout. */
  waitForLine<T>(parse: (line: string) => T | undefined, timeoutMs: number): Promise<T>;
}

export interface CompletedChild {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class ChildProcessGroup {
  private readonly running = new Set<ManagedChild>();
  /** The subset started with start(): servers that live for the whole run. */
  private readonly servers = new Set<ManagedChild>();
  /** Set by stopAll(): nothing new starts while (or after) everything is being stopped. */
  private closing = false;

  get stopping(): boolean {
    return this.closing;
  }

  /** Starts a long-running child; its output is kept (tail only) and its stdout is split into lines. */
  start(spec: SpawnSpec): ManagedChild {
    const child = this.spawnTracked(spec);
    let tail = '';
    const lineListeners = new Set<(line: string) => void>();
    let partial = '';
    const keep = (text: string): void => {
      tail = (tail + text).slice(-KEPT_OUTPUT_CHARS);
    };
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (text: string) => {
      keep(text);
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) for (const listener of lineListeners) listener(line);
    });
    child.stderr?.on('data', keep);
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', (error) => {
        keep(`\n[${spec.name}: ${error.message}]`);
        resolve(-1);
      });
    });
    const managed: ManagedChild = {
      name: spec.name,
      child,
      exited,
      outputTail: () => tail,
      isRunning: () => child.exitCode === null && child.signalCode === null,
      waitForLine<T>(parse: (line: string) => T | undefined, timeoutMs: number): Promise<T> {
        return new Promise<T>((resolve, reject) => {
          const timer = setTimeout(() => {
            lineListeners.delete(listener);
            reject(new Error(`${spec.name} not ready after ${timeoutMs} ms; its output:\n${tail}`));
          }, timeoutMs);
          const listener = (line: string): void => {
            const value = parse(line);
            if (value === undefined) return;
            clearTimeout(timer);
            lineListeners.delete(listener);
            resolve(value);
          };
          lineListeners.add(listener);
          void exited.then((code) => {
            clearTimeout(timer);
            if (lineListeners.delete(listener)) reject(new Error(`${spec.name} exited (code ${code}) before it was ready; its output:\n${tail}`));
          });
        });
      },
    };
    this.running.add(managed);
    this.servers.add(managed);
    void exited.then(() => {
      this.running.delete(managed);
      this.servers.delete(managed);
    });
    return managed;
  }

  /** Name and pid of every long-running child still alive. */
  servingProcesses(): Array<{ name: string; pid: number }> {
    return [...this.servers].flatMap((s) => (s.child.pid === undefined || !s.isRunning() ? [] : [{ name: s.name, pid: s.child.pid }]));
  }

  /** Runs a child to its end and returns all of its output. */
  async run(spec: SpawnSpec): Promise<CompletedChild> {
    const child = this.spawnTracked(spec);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (text: string) => (stdout += text));
    child.stderr?.on('data', (text: string) => (stderr = (stderr + text).slice(-KEPT_OUTPUT_CHARS)));
    const managed: ManagedChild = {
      name: spec.name,
      child,
      exited: new Promise((resolve) => {
        child.once('close', (code) => resolve(code));
        child.once('error', (error) => {
          stderr += `\n[${spec.name}: ${error.message}]`;
          resolve(-1);
        });
      }),
      outputTail: () => stderr,
      isRunning: () => child.exitCode === null && child.signalCode === null,
      waitForLine: () => Promise.reject(new Error('not a long-running child')),
    };
    this.running.add(managed);
    const code = await managed.exited;
    this.running.delete(managed);
    return { code, stdout, stderr };
  }

  /** SIGTERM to every child, SIGKILL to those still alive after `graceMs`. */
  async stopAll(graceMs = 3000): Promise<void> {
    this.closing = true;
    const children = [...this.running];
    for (const managed of children) signal(managed.child, 'SIGTERM');
    const timer = setTimeout(() => {
      for (const managed of children) signal(managed.child, 'SIGKILL');
    }, graceMs);
    await Promise.all(children.map((c) => c.exited));
    clearTimeout(timer);
  }

  /** Last resort from a synchronous `exit` handler. */
  killAllNow(): void {
    for (const managed of this.running) signal(managed.child, 'SIGKILL');
  }

  private spawnTracked(spec: SpawnSpec): ChildProcess {
    if (this.closing) throw new Error(`not starting ${spec.name}: the benchmark is stopping`);
    const options: SpawnOptions = {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      stdio: spec.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    };
    return spawn(spec.command, [...spec.args], options);
  }
}

function signal(child: ChildProcess, name: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    child.kill(name);
  } catch {
    // already gone
  }
}
