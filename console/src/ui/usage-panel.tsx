// Usage over the last day (hourly) or month (daily), stacked by one dimension the viewer picks.
import { useEffect, useState } from 'react';
import { Radio, RadioGroup, Label } from 'react-aria-components';
import { ErrorNotice, Loading } from './controls';
import { UsageChart, type UsagePoint } from './usage-chart';

export type UsageGroup = 'ENVIRONMENT' | 'REQUEST_MODEL' | 'CONNECTION';
export type UsageRange = 'DAY' | 'MONTH';

const GROUP_NAMES: Record<UsageGroup, string> = { ENVIRONMENT: 'Environment', REQUEST_MODEL: 'Model', CONNECTION: 'Connection' };

export interface UsageRow {
  bucketStart: string | null; environment: string | null; requestModel: string | null; connectionId: string | null; connectionName: string | null;
  promptTokens: number; completionTokens: number; totalTokens: number; requests: number;
}

export function UsagePanel({ groups, fetchRows }: {
  groups: UsageGroup[];
  fetchRows(group: UsageGroup, window: UsageWindow): Promise<UsageRow[]>;
}) {
  const [group, setGroup] = useState<UsageGroup>(groups[0]);
  const [range, setRange] = useState<UsageRange>('DAY');
  // The rows with the window they cover: the chart draws every bucket of it, those without usage too.
  const [loaded, setLoaded] = useState<{ rows: UsageRow[]; window: UsageWindow } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let current = true;
    setError(null);
    const window = usageWindow(range);
    fetchRows(group, window).then((rows) => { if (current) setLoaded({ rows, window }); }, (e: unknown) => { if (current) setError(e); });
    return () => { current = false; };
  }, [group, range, fetchRows, attempt]);

  const rows = loaded?.rows ?? null;
  const points: UsagePoint[] = (rows ?? []).map((r) => ({
    bucketStart: r.bucketStart,
    group: group === 'ENVIRONMENT' ? (r.environment ?? '') : group === 'REQUEST_MODEL' ? (r.requestModel ?? '') : connectionLabel(r),
    promptTokens: r.promptTokens, completionTokens: r.completionTokens, totalTokens: r.totalTokens, requests: r.requests,
  }));

  return (
    <div className="usage" id="usage">
      <div className="filters">
        <RadioGroup className="radios" value={group} onChange={(v) => setGroup(v as UsageGroup)} orientation="horizontal">
          <Label>Stack by</Label>
          {groups.map((g) => <Radio key={g} value={g} className="radio">{GROUP_NAMES[g]}</Radio>)}
        </RadioGroup>
        <RadioGroup className="radios" value={range} onChange={(v) => setRange(v as UsageRange)} orientation="horizontal">
          <Label>Period</Label>
          <Radio value="DAY" className="radio">Last 24 hours</Radio>
          <Radio value="MONTH" className="radio">Last 30 days</Radio>
        </RadioGroup>
      </div>
      {error ? <ErrorNotice error={error} onRetry={() => setAttempt((n) => n + 1)} /> : null}
      {!rows && !error ? <Loading what="usage" /> : null}
      {loaded ? <UsageChart points={points} granularity={loaded.window.granularity} from={loaded.window.from} to={loaded.window.to} title={`Tokens ${range === 'DAY' ? 'per hour, last 24 hours' : 'per day, last 30 days'}`} groupName={GROUP_NAMES[group]} /> : null}
    </div>
  );
}

/** A deleted connection has no name; its id's start keeps two of them apart in the chart. */
function connectionLabel(row: UsageRow): string {
  return row.connectionName ?? `deleted connection ${(row.connectionId ?? '').slice(0, 8)}`.trim();
}

/** What one usage query covers: from (ISO) to now, in buckets of the granularity. */
export interface UsageWindow { from: string; to: string; granularity: 'HOUR' | 'DAY' }

export function usageWindow(range: UsageRange): UsageWindow {
  const hours = range === 'DAY' ? 24 : 24 * 30;
  const now = Date.now();
  return { from: new Date(now - hours * 3_600_000).toISOString(), to: new Date(now).toISOString(), granularity: range === 'DAY' ? 'HOUR' : 'DAY' };
}
