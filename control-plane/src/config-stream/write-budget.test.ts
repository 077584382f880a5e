import { WriteBudget } from './write-budget';

describe('WriteBudget', () => {
  it('lets writes through while they fit, holds the rest in order, and admits them as bytes are released', () => {
    const budget = new WriteBudget(100);
    const started: string[] = [];
    const releases = new Map<string, () => void>();
    const write = (name: string, bytes: number) =>
      budget.acquire(bytes, (release) => {
        started.push(name);
        releases.set(name, release);
      });
    write('a', 60);
    write('b', 40);
    write('c', 30); // 130 > 100: waits
    write('d', 1); // waits behind c, though it would fit
    expect(started).toEqual(['a', 'b']);
    expect(budget.bytesInFlight).toBe(100);
    expect(budget.queued).toBe(2);
    releases.get('b')!();
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    expect(budget.bytesInFlight).toBe(91);
    releases.get('b')!(); // a second release changes nothing
    expect(budget.bytesInFlight).toBe(91);
  });

  it('always lets one write through, however large, and a write released at once admits the next', () => {
    const budget = new WriteBudget(10);
    const started: number[] = [];
    let releaseBig: () => void = () => undefined;
    budget.acquire(1_000, (release) => {
      started.push(1_000);
      releaseBig = release;
    });
    budget.acquire(5, (release) => {
      started.push(5);
      release(); // e.g. its stream closed meanwhile
    });
    budget.acquire(6, () => started.push(6));
    expect(started).toEqual([1_000]);
    releaseBig();
    expect(started).toEqual([1_000, 5, 6]);
    expect(budget.bytesInFlight).toBe(6);
  });
});
