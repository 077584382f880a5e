// Fixed calendar windows in UTC. A window is identified by its unit and its start.

export type TimeUnit = 'MINUTE' | 'HOUR' | 'DAY';

const LENGTH_MS: Record<TimeUnit, number> = { MINUTE: 60_000, HOUR: 3_600_000, DAY: 86_400_000 };

export interface Window {
  readonly unit: TimeUnit;
  /** Epoch milliseconds, inclusive. */
  readonly start: number;
  /** Epoch milliseconds, exclusive. */
  readonly end: number;
}

/** UTC minute, hour and day boundaries are multiples of their length since the epoch (no leap seconds in Unix time). */
export function windowAt(unit: TimeUnit, nowMs: number): Window {
  const length = LENGTH_MS[unit];
  const start = Math.floor(nowMs / length) * length;
  return { unit, start, end: start + length };
}

export function windowLengthMs(unit: TimeUnit): number {
  return LENGTH_MS[unit];
}

/** Whole seconds until the window resets (at least 1: a client told 0 would retry into the same window). */
export function secondsUntilReset(window: Window, nowMs: number): number {
  return Math.max(1, Math.ceil((window.end - nowMs) / 1000));
}
