import { AppliedRevisions } from './applied-revisions';

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void } {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('AppliedRevisions', () => {
  it('stores the ACKs of one turn in one statement, then the ACKs that arrived meanwhile in the next, per proxy only the highest revision', async () => {
    const batches: Array<Array<{ proxyId: string; revision: string | number }>> = [];
    const gates = [deferred(), deferred()];
    const store = {
      applied: async (acks: ReadonlyArray<{ proxyId: string; revision: string | number }>) => {
        batches.push([...acks]);
        await gates[batches.length - 1].promise;
      },
    };
    const reported: string[] = [];
    const acks = new AppliedRevisions(store, (environment) => reported.push(environment));
    const first = [acks.record('a', 'dev', 3), acks.record('b', 'prod', 7), acks.record('a', 'dev', 2)];
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([[{ proxyId: 'a', revision: 3 }, { proxyId: 'b', revision: 7 }]]);
    // While the first statement runs, more ACKs wait for the next one.
    const second = [acks.record('a', 'dev', 4), acks.record('a', 'dev', 5)];
    gates[0].resolve();
    await Promise.all(first);
    expect(reported).toEqual(['dev', 'prod']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches[1]).toEqual([{ proxyId: 'a', revision: 5 }]);
    gates[1].resolve();
    await Promise.all(second);
    expect(reported).toEqual(['dev', 'prod', 'dev']);
  });

  it('rejects the ACKs of a failed statement and keeps storing later ones', async () => {
    let calls = 0;
    const store = {
      applied: async () => {
        calls++;
        if (calls === 1) throw new Error('database away');
      },
    };
    const acks = new AppliedRevisions(store, () => undefined);
    await expect(acks.record('a', 'dev', 1)).rejects.toThrow('database away');
    await expect(acks.record('a', 'dev', 2)).resolves.toBeUndefined();
    expect(calls).toBe(2);
  });
});
