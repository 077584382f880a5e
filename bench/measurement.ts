// One measurement: one case against one target, by the precise client (1 connection) or the load
// generator (N connections), each in its own process.
import path from 'node:path';
import type { BenchCase } from './bench-cases';
import type { TargetEndpoint } from './bench-targets';
import type { ChildProcessGroup } from './child-processes';
import type { CpuUse } from './cpu-usage';
import { UPSTREAM_DELAY_HEADER } from './fake-upstream';
import type { LoadGenerator } from './load-generators';
import type { PreciseClientResult, PreciseClientSpec } from './precise-client';

/** Same shape for every kind of case; latencies in microseconds. */
export interface Sample {
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly errors: number;
}

/** Cores busy during a measurement (1.0 = one core); null where /proc is not available. */
export interface MeasuredCpu {
  /** The target's own processes (null for `direct`, which has none). */
  readonly proxyCores: number | null;
  readonly upstreamCores: number | null;
  /** The load generator or precise client. */
  readonly clientCores: number | null;
  /** Everything on the machine. */
  readonly machineCores: number | null;
  /** Busy time no benchmark process accounts for: other work on the machine, which disturbs the figures. */
  readonly outsideCores: number | null;
  readonly byProcess: Readonly<Record<string, number>>;
}

export interface Measurement {
  readonly round: number;
  readonly caseId: string;
  readonly targetId: string;
  /** Null when the measurement failed (see `failure`). */
  readonly sample: Sample | null;
  readonly cpu?: MeasuredCpu;
  readonly failure?: string;
}

export function attributeCpu(use: CpuUse, proxyProcessNames: readonly string[], upstreamProcessName: string): MeasuredCpu {
  const known = proxyProcessNames.filter((name) => use.byProcess[name] !== undefined);
  return {
    proxyCores: known.length === 0 ? null : Math.round(known.reduce((sum, name) => sum + use.byProcess[name], 0) * 100) / 100,
    upstreamCores: use.byProcess[upstreamProcessName] ?? null,
    clientCores: use.clientCores,
    machineCores: use.machineBusyCores,
    outsideCores: use.outsideCores,
    byProcess: use.byProcess,
  };
}

export interface MeasurementTools {
  readonly processes: ChildProcessGroup;
  readonly loadGenerator: LoadGenerator;
  readonly scriptsDir: string;
}

/** Requests the precise client sends before timing, so its own code is optimized first. */
const CLIENT_WARMUP_REQUESTS = 200;

export async function measure(benchCase: BenchCase, endpoint: TargetEndpoint, durationS: number, tools: MeasurementTools): Promise<Sample> {
  const headers = { 'content-type': 'application/json', [UPSTREAM_DELAY_HEADER]: String(benchCase.upstreamDelayMs), ...benchCase.requestHeaders, ...endpoint.headers };
  if (benchCase.kind === 'throughput') {
    return tools.loadGenerator.run({ url: endpoint.chatCompletionsUrl, headers, body: benchCase.body, connections: benchCase.connections, durationS });
  }
  if (benchCase.connections !== 1) throw new Error(`case ${benchCase.id}: ${benchCase.kind} cases use one connection`);
  const spec: PreciseClientSpec = {
    url: endpoint.chatCompletionsUrl,
    headers,
    body: benchCase.body,
    measure: benchCase.kind === 'first-byte' ? 'first-byte' : 'response',
    warmupRequests: CLIENT_WARMUP_REQUESTS,
    durationMs: durationS * 1000,
    maxRequests: 2_000_000,
  };
  const { code, stdout, stderr } = await tools.processes.run({
    name: 'precise client',
    command: process.execPath,
    args: [path.join(tools.scriptsDir, 'precise-client.js'), JSON.stringify(spec)],
    ipc: true,
  });
  if (code !== 0) throw new Error(stderr.trim() || `precise client exited with code ${code}`);
  const result = JSON.parse(stdout) as PreciseClientResult;
  return { requests: result.requests, requestsPerSecond: result.requests / durationS, p50Us: result.p50Us, p90Us: result.p90Us, p99Us: result.p99Us, errors: 0 };
}
