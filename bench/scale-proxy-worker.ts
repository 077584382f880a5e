// A process of the scale benchmark holding several simulated proxies (bench/scale-proxy.ts), driven
// over the IPC channel by bench/scale.ts: it reports when each proxy applied a snapshot in which a
// key is live (or refused), when each reached a revision, and its own memory.
//
//   node dist/bench/scale-proxy-worker.js      (started by scale.ts with an IPC channel)
import { type AppliedSnapshotView, type SimulatedProxy, epochMs, startSimulatedProxy } from './scale-proxy';

/** Per environment: keys that must be live, keys that must be refused. */
export type KeyConditions = Record<string, { readonly present: readonly string[]; readonly absent: readonly string[] }>;

export type WorkerCommand =
  | { type: 'start'; controlPlaneAddress: string; dataPlaneToken: string; proxies: Array<{ proxyId: string; environment: string }> }
  /** From now on, keep every snapshot each proxy applies until `resolve` says what to look for. */
  | { type: 'arm'; watch: number }
  | { type: 'resolve'; watch: number; conditions: KeyConditions; timeoutMs: number }
  | { type: 'waitRevision'; id: number; revisions: Record<string, string>; timeoutMs: number }
  | { type: 'memory'; id: number };

export type WorkerReport =
  | { type: 'armed'; watch: number }
  | { type: 'started'; proxies: Array<{ proxyId: string; environment: string; firstSnapshotMs: number; revision: string }> }
  /** Per proxy with a condition: epochMs() of the first snapshot applied after arming that meets it; null: timed out. */
  | { type: 'resolved'; watch: number; times: Array<number | null> }
  | { type: 'reached'; id: number; times: Array<number | null> }
  | { type: 'memory'; id: number; rssBytes: number; heapUsedBytes: number }
  | { type: 'failed'; message: string };

interface Watch {
  readonly applied: Array<Array<{ at: number; snapshot: AppliedSnapshotView }>>;
  resolution?: { conditions: KeyConditions; times: Array<number | null | undefined>; timer: NodeJS.Timeout };
}

const proxies: SimulatedProxy[] = [];
const watches = new Map<number, Watch>();

function send(report: WorkerReport): void {
  process.send?.(report);
}

function meets(snapshot: AppliedSnapshotView, condition: KeyConditions[string]): boolean {
  return condition.present.every((key) => snapshot.holds(key)) && condition.absent.every((key) => !snapshot.holds(key));
}

function finishIfDone(id: number, watch: Watch, force: boolean): void {
  const resolution = watch.resolution;
  if (resolution === undefined) return;
  if (!force && resolution.times.some((t) => t === undefined)) return;
  clearTimeout(resolution.timer);
  watches.delete(id);
  const times: Array<number | null> = [];
  resolution.times.forEach((t, index) => {
    if (resolution.conditions[proxies[index].environment] !== undefined) times.push(t ?? null);
  });
  send({ type: 'resolved', watch: id, times });
}

function onApplied(index: number, at: number, snapshot: AppliedSnapshotView): void {
  for (const [id, watch] of watches) {
    const resolution = watch.resolution;
    if (resolution === undefined) {
      watch.applied[index].push({ at, snapshot });
      continue;
    }
    const condition = resolution.conditions[proxies[index].environment];
    if (condition !== undefined && resolution.times[index] === undefined && meets(snapshot, condition)) {
      resolution.times[index] = at;
      finishIfDone(id, watch, false);
    }
  }
}

function resolve(id: number, conditions: KeyConditions, timeoutMs: number): void {
  const watch = watches.get(id);
  if (watch === undefined) {
    send({ type: 'failed', message: `watch ${id} was not armed` });
    return;
  }
  const times = proxies.map((proxy, index): number | null | undefined => {
    const condition = conditions[proxy.environment];
    if (condition === undefined) return null;
    return watch.applied[index].find((entry) => meets(entry.snapshot, condition))?.at;
  });
  watch.applied.forEach((list) => (list.length = 0)); // drop the snapshots kept meanwhile
  watch.resolution = { conditions, times, timer: setTimeout(() => finishIfDone(id, watch, true), timeoutMs) };
  finishIfDone(id, watch, false);
}

function waitRevision(id: number, revisions: Record<string, string>, timeoutMs: number): void {
  const times: Array<number | null> = new Array<number | null>(proxies.length).fill(null);
  let left = 0;
  const unsubscribes: Array<() => void> = [];
  const done = (): void => {
    clearTimeout(timer);
    for (const unsubscribe of unsubscribes) unsubscribe();
    send({ type: 'reached', id, times });
  };
  proxies.forEach((proxy, index) => {
    const target = BigInt(revisions[proxy.environment] ?? '0');
    const current = proxy.current();
    if (current !== null && current.revision >= target) {
      times[index] = epochMs();
      return;
    }
    left++;
    const unsubscribe = proxy.onApplied((at, snapshot) => {
      if (snapshot.revision < target || times[index] !== null) return;
      times[index] = at;
      if (--left === 0) done();
    });
    unsubscribes.push(unsubscribe);
  });
  const timer = setTimeout(done, timeoutMs);
  if (left === 0) done();
}

async function start(command: Extract<WorkerCommand, { type: 'start' }>): Promise<void> {
  const started: Array<{ proxyId: string; environment: string; firstSnapshotMs: number; revision: string }> = [];
  for (const spec of command.proxies) {
    const begin = epochMs();
    const proxy = await startSimulatedProxy({ environment: spec.environment, controlPlaneAddress: command.controlPlaneAddress, dataPlaneToken: command.dataPlaneToken, proxyId: spec.proxyId });
    const index = proxies.length;
    proxies.push(proxy);
    proxy.onApplied((at, snapshot) => onApplied(index, at, snapshot));
    const first = await new Promise<AppliedSnapshotView>((resolveFirst) => {
      const current = proxy.current();
      if (current !== null) {
        resolveFirst(current);
        return;
      }
      const off = proxy.onApplied((_at, snapshot) => {
        off();
        resolveFirst(snapshot);
      });
    });
    started.push({ proxyId: spec.proxyId, environment: spec.environment, firstSnapshotMs: epochMs() - begin, revision: first.revision.toString() });
  }
  send({ type: 'started', proxies: started });
}

function main(): void {
  process.on('message', (command: WorkerCommand) => {
    switch (command.type) {
      case 'start':
        start(command).catch((error: unknown) => send({ type: 'failed', message: (error as Error).stack ?? String(error) }));
        break;
      case 'arm':
        watches.set(command.watch, { applied: proxies.map(() => []) });
        send({ type: 'armed', watch: command.watch });
        break;
      case 'resolve':
        resolve(command.watch, command.conditions, command.timeoutMs);
        break;
      case 'waitRevision':
        waitRevision(command.id, command.revisions, command.timeoutMs);
        break;
      case 'memory': {
        const usage = process.memoryUsage();
        send({ type: 'memory', id: command.id, rssBytes: usage.rss, heapUsedBytes: usage.heapUsed });
        break;
      }
    }
  });
  // Exit with the benchmark, however it ends (process.exit, so that a --cpu-prof profile is written).
  const exit = (): void => {
    void Promise.allSettled(proxies.map((p) => p.close())).finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('disconnect', exit);
  process.on('SIGTERM', exit);
}

if (require.main === module) main();
