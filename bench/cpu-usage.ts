// CPU time of the long-running parties (with their descendants, e.g. nginx workers) and of the whole
// machine, read from Linux /proc before and after a measurement: it shows who had the cores. Returns
// nothing on systems without /proc.
import { readFileSync } from 'node:fs';

/** USER_HZ: /proc reports CPU times in these ticks (100 on every mainstream Linux build). */
const TICKS_PER_SECOND = 100;

function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** Fields 3.. of /proc/<pid>/stat; the command name (field 2) may contain spaces, so count from its ')'. */
function statFields(pid: number | 'self'): string[] | null {
  const stat = readText(`/proc/${pid}/stat`);
  return stat === null ? null : stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime of one process, in ticks. */
function processTicks(pid: number): number | null {
  const fields = statFields(pid);
  return fields === null ? null : Number(fields[11]) + Number(fields[12]);
}

function childPids(pid: number): number[] {
  const children = readText(`/proc/${pid}/task/${pid}/children`);
  return children === null ? [] : children.trim().split(/\s+/).filter((p) => p !== '').map(Number);
}

/** CPU ticks of a process and all of its live descendants. */
function treeTicks(pid: number): number | null {
  const own = processTicks(pid);
  if (own === null) return null;
  return childPids(pid).reduce((sum, child) => sum + (treeTicks(child) ?? 0), own);
}

function machineTicks(): { busy: number; total: number } | null {
  const line = readText('/proc/stat')?.split('\n')[0];
  if (line === undefined || !line.startsWith('cpu ')) return null;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = values[3] + (values[4] ?? 0); // idle + iowait
  const total = values.slice(0, 8).reduce((a, b) => a + b, 0); // without guest time, already in user
  return { busy: total - idle, total };
}

export interface CpuSnapshot {
  readonly at: bigint;
  readonly processes: ReadonlyMap<string, number>;
  readonly machine: { busy: number; total: number } | null;
  /** This process (utime + stime) and the children it has reaped (cutime + cstime): the load generator or precise client once it ended. */
  readonly self: { own: number; reaped: number } | null;
}

/** Cores used over the interval (1.0 = one core fully busy). */
export interface CpuUse {
  /** Per named long-running process tree. */
  readonly byProcess: Readonly<Record<string, number>>;
  /** Children that ran and ended within the interval (the load generator / precise client), and this process. */
  readonly clientCores: number | null;
  readonly machineBusyCores: number | null;
  /** Machine busy time that none of the benchmark's processes account for: other work on the machine. */
  readonly outsideCores: number | null;
}

export function takeCpuSnapshot(processes: ReadonlyArray<{ readonly name: string; readonly pid: number }>): CpuSnapshot {
  const ticks = new Map<string, number>();
  for (const { name, pid } of processes) {
    const value = treeTicks(pid);
    if (value !== null) ticks.set(name, value);
  }
  const self = statFields('self');
  return {
    at: process.hrtime.bigint(),
    processes: ticks,
    machine: machineTicks(),
    self: self === null ? null : { own: Number(self[11]) + Number(self[12]), reaped: Number(self[13]) + Number(self[14]) },
  };
}

const round2 = (value: number): number => Math.round(value * 100) / 100;

export function cpuUseBetween(before: CpuSnapshot, after: CpuSnapshot, cores: number): CpuUse {
  const seconds = Number(after.at - before.at) / 1e9;
  const byProcess: Record<string, number> = {};
  let accounted = 0;
  for (const [name, end] of after.processes) {
    const start = before.processes.get(name);
    if (start === undefined) continue;
    byProcess[name] = round2((end - start) / TICKS_PER_SECOND / seconds);
    accounted += end - start;
  }
  let clientCores: number | null = null;
  if (before.self !== null && after.self !== null) {
    const ticks = after.self.own - before.self.own + after.self.reaped - before.self.reaped;
    accounted += ticks;
    clientCores = round2(ticks / TICKS_PER_SECOND / seconds);
  }
  let machineBusyCores: number | null = null;
  let outsideCores: number | null = null;
  if (before.machine !== null && after.machine !== null && after.machine.total > before.machine.total) {
    const totalTicks = after.machine.total - before.machine.total;
    const busyTicks = after.machine.busy - before.machine.busy;
    machineBusyCores = round2((busyTicks / totalTicks) * cores);
    // /proc/stat counts ticks of all CPUs: totalTicks ≈ cores × elapsed ticks.
    outsideCores = round2(Math.max(0, busyTicks - accounted) / (totalTicks / cores));
  }
  return { byProcess, clientCores, machineBusyCores, outsideCores };
}
