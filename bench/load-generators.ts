// Load generators for the many-connection cases, each run as its own process: wrk (C, one thread by
// default: the least CPU taken from the parties measured) when installed, else autocannon (Node).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LoadGeneratorChoice } from './bench-config';
import type { ChildProcessGroup } from './child-processes';
import { findExecutable } from './host-tools';

export interface LoadSpec {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly connections: number;
  readonly durationS: number;
}

export interface LoadResult {
  readonly requestsPerSecond: number;
  readonly requests: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  /** Connection errors, timeouts and non-2xx answers; a measurement with any is rejected. */
  readonly errors: number;
}

export interface LoadGenerator {
  readonly name: string;
  /** Latency resolution of its percentiles. */
  readonly resolution: string;
  run(spec: LoadSpec): Promise<LoadResult>;
}

export function chooseLoadGenerator(choice: LoadGeneratorChoice, processes: ChildProcessGroup, workDir: string, wrkThreads: number): LoadGenerator {
  const wrk = findExecutable('wrk');
  if (choice === 'wrk' && wrk === null) throw new Error('BENCH_LOADGEN=wrk but wrk is not installed (Debian: apt-get install wrk)');
  if (choice !== 'autocannon' && wrk !== null) return new WrkLoadGenerator(wrk, processes, workDir, wrkThreads);
  return new AutocannonLoadGenerator(processes);
}

const RESULT_MARKER = 'BENCH_RESULT';

/** wrk with a generated Lua script whose `done` prints the figures in microseconds. */
export class WrkLoadGenerator implements LoadGenerator {
  readonly name: string;
  readonly resolution = '1 µs';
  private scripts = 0;

  constructor(
    private readonly executable: string,
    private readonly processes: ChildProcessGroup,
    private readonly workDir: string,
    private readonly threads: number,
  ) {
    this.name = `wrk (${threads} thread${threads === 1 ? '' : 's'})`;
  }

  async run(spec: LoadSpec): Promise<LoadResult> {
    const index = ++this.scripts;
    const bodyFile = path.join(this.workDir, `wrk-body-${index}.json`);
    const scriptFile = path.join(this.workDir, `wrk-${index}.lua`);
    await writeFile(bodyFile, spec.body);
    await writeFile(scriptFile, wrkScript(bodyFile, { 'content-type': 'application/json', ...spec.headers }));
    const threads = Math.min(this.threads, spec.connections);
    const { code, stdout, stderr } = await this.processes.run({
      name: 'wrk',
      command: this.executable,
      args: ['-t', String(threads), '-c', String(spec.connections), '-d', `${spec.durationS}s`, '--timeout', '10s', '-s', scriptFile, spec.url],
    });
    const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARKER));
    if (code !== 0 || line === undefined) throw new Error(`wrk failed (exit ${code}): ${stderr || stdout}`);
    const [requests, durationUs, p50, p90, p99, connect, read, write, status, timeout] = line.slice(RESULT_MARKER.length).trim().split(/\s+/).map(Number);
    return { requestsPerSecond: requests / (durationUs / 1e6), requests, p50Us: p50, p90Us: p90, p99Us: p99, errors: connect + read + write + status + timeout };
  }
}

/** A Lua long string (no escapes); callers put spaces around it inside brackets, where `[[` would open one. */
function luaString(value: string): string {
  if (value.includes(']==]')) throw new Error(`cannot quote ${JSON.stringify(value)} for Lua`);
  return `[==[${value}]==]`;
}

function wrkScript(bodyFile: string, headers: Readonly<Record<string, string>>): string {
  return [
    'wrk.method = "POST"',
    `local file = assert(io.open(${luaString(bodyFile)}, "rb"))`,
    'wrk.body = file:read("*a")',
    'file:close()',
    ...Object.entries(headers).map(([name, value]) => `wrk.headers[ ${luaString(name)} ] = ${luaString(value)}`),
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    `  io.write(string.format("\\n${RESULT_MARKER} %d %d %.1f %.1f %.1f %d %d %d %d %d\\n", summary.requests, summary.duration,`,
    '    latency:percentile(50), latency:percentile(90), latency:percentile(99), e.connect, e.read, e.write, e.status, e.timeout))',
    'end',
    '',
  ].join('\n');
}

interface AutocannonJson {
  duration: number;
  requests: { total: number };
  latency: { p50: number; p90: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}

/** The autocannon CLI (devDependency) with --json; its latencies are whole milliseconds. */
export class AutocannonLoadGenerator implements LoadGenerator {
  readonly name = 'autocannon';
  readonly resolution = '1 ms';

  constructor(private readonly processes: ChildProcessGroup) {}

  async run(spec: LoadSpec): Promise<LoadResult> {
    const cli = require.resolve('autocannon/autocannon.js');
    const headers = Object.entries({ 'content-type': 'application/json', ...spec.headers }).flatMap(([name, value]) => ['-H', `${name}=${value}`]);
    const { code, stdout, stderr } = await this.processes.run({
      name: 'autocannon',
      command: process.execPath,
      args: [cli, '--json', '--no-progress', '-c', String(spec.connections), '-d', String(spec.durationS), '-m', 'POST', '-b', spec.body, ...headers, spec.url],
    });
    let result: AutocannonJson;
    try {
      result = JSON.parse(stdout) as AutocannonJson;
    } catch {
      throw new Error(`autocannon failed (exit ${code}): ${stderr || stdout}`);
    }
    return {
      requestsPerSecond: result.requests.total / result.duration,
      requests: result.requests.total,
      p50Us: result.latency.p50 * 1000,
      p90Us: result.latency.p90 * 1000,
      p99Us: result.latency.p99 * 1000,
      errors: result.errors + result.timeouts + result.non2xx,
    };
  }
}
