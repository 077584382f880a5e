import { ReconnectBackoff } from './reconnect-backoff';

describe('ReconnectBackoff', () => {
  it('doubles from the initial delay to the cap, with the jitter in the upper half', () => {
    const lowest = new ReconnectBackoff({ initialDelayMs: 100, maxDelayMs: 10_000 }, () => 0);
    expect(Array.from({ length: 10 }, () => lowest.nextDelayMs())).toEqual([50, 100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
    const highest = new ReconnectBackoff({ initialDelayMs: 100, maxDelayMs: 10_000 }, () => 1);
    expect(Array.from({ length: 9 }, () => highest.nextDelayMs())).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
  });

  it('starts over after a reset and never overflows', () => {
    const backoff = new ReconnectBackoff({ initialDelayMs: 100, maxDelayMs: 10_000 }, () => 1);
    for (let i = 0; i < 2000; i++) backoff.nextDelayMs();
    expect(backoff.nextDelayMs()).toBe(10_000);
    backoff.reset();
    expect(backoff.nextDelayMs()).toBe(100);
  });
});
