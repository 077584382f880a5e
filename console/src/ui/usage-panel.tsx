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
  fetchRows(group: UsageGroup, range: UsageRange): Promise<UsageRow[]>;
}) {
  const [group, setGroup] = useState<UsageGroup>(groups[0]);
  const [range, setRange] = useState<UsageRange>('DAY');
  const [rows, setRows] = useState<UsageRow[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let current = true;
    setError(null);
    fetchRows(group, range).then((r) => { if (current) setRows(r); }, (e: unknown) => { if (current) setError(e); });
    return () => { current = false; };
  }, [group, range, fetchRows, attempt]);

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
      {rows ? <UsageChart points={points} granularity={range === 'DAY' ? 'HOUR' : 'DAY'} title={`Tokens ${range === 'DAY' ? 'per hour, last 24 hours' : 'per day, last 30 days'}`} groupName={GROUP_NAMES[group]} /> : null}
    </div>
  );
}

/** A deleted connection has no name; its id's start keeps two of them apart in the chart. */
function connectionLabel(row: UsageRow): string {
  return row.connectionName ?? `deleted connection ${(row.connectionId ?? '').slice(0, 8)}`.trim();
}

export function usageWindow(range: UsageRange): { from: string; granularity: 'HOUR' | 'DAY' } {
  const hours = range === 'DAY' ? 24 : 24 * 30;
  return { from: new Date(Date.now() - hours * 3_600_000).toISOString(), granularity: range === 'DAY' ? 'HOUR' : 'DAY' };
}
