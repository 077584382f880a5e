import { GraphQLError } from 'graphql';
import { resolveUsageRange } from './usage-range';

const NOW = new Date('2026-12-10T15:42:30.000Z');
const iso = (value: string) => new Date(value);
const segments = (range: ReturnType<typeof resolveUsageRange>) => range.segments.map((s) => `${s.granularity} ${s.from.toISOString()}..${s.to.toISOString()}`);

function refusal(run: () => unknown): { code: unknown; field: unknown; message: string } {
  try {
    run();
  } catch (error) {
    if (!(error instanceof GraphQLError)) throw error;
    return { code: error.extensions.code, field: error.extensions.field, message: error.message };
  }
  throw new Error('expected a refusal');
}

describe('resolveUsageRange', () => {
  it('defaults to the 24 hours before now, read exactly: minutes at the edges, hours between', () => {
    const range = resolveUsageRange({}, NOW);
    expect(range.from.toISOString()).toBe('2026-12-09T15:42:00.000Z');
    expect(range.to.toISOString()).toBe('2026-12-10T15:43:00.000Z');
    expect(segments(range)).toEqual([
      'MINUTE 2026-12-09T15:42:00.000Z..2026-12-09T16:00:00.000Z',
      'HOUR 2026-12-09T16:00:00.000Z..2026-12-10T15:00:00.000Z',
      'MINUTE 2026-12-10T15:00:00.000Z..2026-12-10T15:43:00.000Z',
    ]);
  });

  it('reads a total over whole days from day rows, and a range inside one hour from minute rows', () => {
    expect(segments(resolveUsageRange({ from: iso('2026-12-04T10:30:00Z'), to: iso('2026-12-09T02:00:00Z') }, NOW))).toEqual([
      'MINUTE 2026-12-04T10:30:00.000Z..2026-12-04T11:00:00.000Z',
      'HOUR 2026-12-04T11:00:00.000Z..2026-12-05T00:00:00.000Z',
      'DAY 2026-12-05T00:00:00.000Z..2026-12-09T00:00:00.000Z',
      'HOUR 2026-12-09T00:00:00.000Z..2026-12-09T02:00:00.000Z',
    ]);
    expect(segments(resolveUsageRange({ from: iso('2026-12-10T15:05:10Z'), to: iso('2026-12-10T15:20:00Z') }, NOW))).toEqual([
      'MINUTE 2026-12-10T15:05:00.000Z..2026-12-10T15:20:00.000Z',
    ]);
  });

  it('widens a total to whole hours where minute rows are past their 7-day retention', () => {
    const range = resolveUsageRange({ from: iso('2026-11-01T10:30:00Z'), to: iso('2026-11-02T10:15:00Z') }, NOW);
    expect(range.from.toISOString()).toBe('2026-11-01T10:00:00.000Z');
    expect(range.to.toISOString()).toBe('2026-11-02T11:00:00.000Z');
    expect(range.segments.map((s) => s.granularity)).not.toContain('MINUTE');
  });

  it('aligns a time series to whole buckets of its granularity', () => {
    const range = resolveUsageRange({ from: iso('2026-11-10T10:30:00Z'), to: iso('2026-12-10T10:30:00Z'), granularity: 'HOUR' }, NOW);
    expect(segments(range)).toEqual(['HOUR 2026-11-10T10:00:00.000Z..2026-12-10T11:00:00.000Z']);
    expect(resolveUsageRange({ from: iso('2026-12-03T23:59:00Z'), to: iso('2026-12-05T00:00:00Z'), granularity: 'DAY' }, NOW).from.toISOString()).toBe('2026-12-03T00:00:00.000Z');
  });

  it('refuses a range that does not run forward', () => {
    expect(refusal(() => resolveUsageRange({ from: iso('2026-12-10T10:00:00Z'), to: iso('2026-12-10T10:00:00Z') }, NOW))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.from' });
    expect(refusal(() => resolveUsageRange({ from: iso('2026-12-11T10:00:00Z') }, NOW)).message).toMatch(/must be before filter.to/);
  });

  it('refuses more than 1,500 buckets, and minute buckets past their retention', () => {
    expect(resolveUsageRange({ from: iso('2026-10-10T00:00:00Z'), to: iso('2026-12-10T00:00:00Z'), granularity: 'HOUR' }, NOW).segments).toHaveLength(1); // 1,464 hours
    expect(refusal(() => resolveUsageRange({ from: iso('2026-10-01T00:00:00Z'), to: iso('2026-12-10T00:00:00Z'), granularity: 'HOUR' }, NOW)).message).toMatch(/spans 1680 HOUR buckets; at most 1500/);
    expect(refusal(() => resolveUsageRange({ from: iso('2026-12-08T00:00:00Z'), granularity: 'MINUTE' }, NOW)).message).toMatch(/MINUTE buckets/);
    expect(refusal(() => resolveUsageRange({ from: iso('2026-12-01T00:00:00Z'), to: iso('2026-12-01T02:00:00Z'), granularity: 'MINUTE' }, NOW)).message).toMatch(/kept for 7 days/);
    expect(refusal(() => resolveUsageRange({ from: iso('2020-01-01T00:00:00Z') }, NOW)).message).toMatch(/at most 1500 days/);
  });
});
