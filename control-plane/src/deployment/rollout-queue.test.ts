import { rolloutJobId, sweepMinAgeMs } from './rollout-queue';

describe('sweepMinAgeMs', () => {
  it('is half the sweep interval, at most 5 s (the default 10 s interval keeps 5 s)', () => {
    expect(sweepMinAgeMs(10_000)).toBe(5_000);
    expect(sweepMinAgeMs(60_000)).toBe(5_000);
    expect(sweepMinAgeMs(500)).toBe(250);
    expect(sweepMinAgeMs(1)).toBe(0);
  });
});

describe('rolloutJobId', () => {
  it('names one job per (service, environment, revision), so enqueueing twice is harmless', () => {
    const job = { serviceId: 's', environmentId: 'e', environment: 'production', revision: 7 };
    expect(rolloutJobId(job)).toBe('s.e.7');
    expect(rolloutJobId({ ...job, revision: 8 })).not.toBe(rolloutJobId(job));
  });
});
