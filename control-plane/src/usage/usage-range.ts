// How a requested time range becomes bucket reads: which granularity's rows between which bucket
// starts, and the limits that keep one report small. Pure, so the arithmetic is unit-tested.
import { badUserInput } from '../common/errors';
import type { UsageGranularityName } from './usage-record';

export const BUCKET_MS: Readonly<Record<UsageGranularityName, number>> = { MINUTE: 60_000, HOUR: 3_600_000, DAY: 86_400_000 };
/** Most buckets one time series may span (a month of hours is 744). */
export const MAX_BUCKETS = 1500;
/** Longest range a total (no granularity) may cover: as long as the longest DAY series. */
export const MAX_TOTAL_RANGE_MS = MAX_BUCKETS * BUCKET_MS.DAY;
/** Minute rows are pruned after this; hour and day rows are kept. */
export const MINUTE_RETENTION_MS = 7 * BUCKET_MS.DAY;
export const DEFAULT_RANGE_MS = BUCKET_MS.DAY;

/** Rows of one granularity whose bucket_start lies in [from, to). */
export interface BucketSegment {
  granularity: UsageGranularityName;
  from: Date;
  to: Date;
}

export interface ResolvedUsageRange {
  /** The range actually covered: whole buckets, so possibly wider than asked. */
  from: Date;
  to: Date;
  granularity: UsageGranularityName | null;
  segments: BucketSegment[];
}

function floorTo(ms: number, granularity: UsageGranularityName): number {
  return Math.floor(ms / BUCKET_MS[granularity]) * BUCKET_MS[granularity];
}

function ceilTo(ms: number, granularity: UsageGranularityName): number {
  return Math.ceil(ms / BUCKET_MS[granularity]) * BUCKET_MS[granularity];
}

/**
 * Defaults (`to` = now, `from` = `to` − 24 h), checks, and the bucket reads. Buckets overlapping
 * [from, to) count whole. A time series reads rows of its granularity only. A total reads the fewest
 * rows that cover the range exactly: days inside it, hours at the day edges, minutes at the hour
 * edges — except where minute rows are past their retention, where the edge widens to whole hours.
 */
export function resolveUsageRange(input: { from?: Date | null; to?: Date | null; granularity?: UsageGranularityName | null }, now: Date): ResolvedUsageRange {
  const to = input.to?.getTime() ?? now.getTime();
  const from = input.from?.getTime() ?? to - DEFAULT_RANGE_MS;
  if (!(from < to)) throw badUserInput('filter.from', `filter.from (${new Date(from).toISOString()}) must be before filter.to (${new Date(to).toISOString()})`);
  const horizon = now.getTime() - MINUTE_RETENTION_MS;
  const granularity = input.granularity ?? null;

  if (granularity !== null) {
    const start = floorTo(from, granularity);
    const end = ceilTo(to, granularity);
    const buckets = (end - start) / BUCKET_MS[granularity];
    if (buckets > MAX_BUCKETS) {
      throw badUserInput('filter.from', `the range spans ${buckets} ${granularity} buckets; at most ${MAX_BUCKETS} per query: shorten it or use a coarser granularity`);
    }
    if (granularity === 'MINUTE' && start < horizon) {
      throw badUserInput('filter.from', 'MINUTE buckets are kept for 7 days; ask for HOUR or DAY buckets for older usage');
    }
    return { from: new Date(start), to: new Date(end), granularity, segments: [{ granularity, from: new Date(start), to: new Date(end) }] };
  }

  if (to - from > MAX_TOTAL_RANGE_MS) throw badUserInput('filter.from', `a total covers at most ${MAX_BUCKETS} days`);
  let start = floorTo(from, 'MINUTE');
  let end = ceilTo(to, 'MINUTE');
  if (start < horizon) start = floorTo(start, 'HOUR');
  if (end < horizon) end = ceilTo(end, 'HOUR');
  const segments: Array<[UsageGranularityName, number, number]> = [];
  const hourStart = ceilTo(start, 'HOUR');
  const hourEnd = floorTo(end, 'HOUR');
  if (hourStart >= hourEnd) {
    segments.push(['MINUTE', start, end]);
  } else {
    const dayStart = ceilTo(hourStart, 'DAY');
    const dayEnd = floorTo(hourEnd, 'DAY');
    segments.push(['MINUTE', start, hourStart]);
    if (dayStart >= dayEnd) {
      segments.push(['HOUR', hourStart, hourEnd]);
    } else {
      segments.push(['HOUR', hourStart, dayStart], ['DAY', dayStart, dayEnd], ['HOUR', dayEnd, hourEnd]);
    }
    segments.push(['MINUTE', hourEnd, end]);
  }
  return {
    from: new Date(start),
    to: new Date(end),
    granularity: null,
    segments: segments.filter(([, a, b]) => a < b).map(([g, a, b]) => ({ granularity: g, from: new Date(a), to: new Date(b) })),
  };
}
