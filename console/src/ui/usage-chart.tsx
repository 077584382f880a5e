// Tokens over time as stacked bars, one colour per group (environment, model or connection), with
// the same numbers as a table for screen readers and for people who prefer to read.
import { useId, useMemo } from 'react';
import { tokens } from './words';

export interface UsagePoint { bucketStart: string | null; group: string; totalTokens: number; promptTokens: number; completionTokens: number; requests: number }

const PALETTE = ['#1f6fb2', '#e08a00', '#2f9e5b', '#b2336a', '#6b4fbb', '#0f8c8c', '#8a6d3b', '#5b6470'];
const WIDTH = 720;
const HEIGHT = 220;
const PAD = { left: 56, right: 8, top: 10, bottom: 28 };

function bucketLabel(iso: string, granularity: string): string {
  const text = iso.replace('T', ' ');
  return granularity === 'DAY' ? text.slice(5, 10) : text.slice(11, 16);
}

const BUCKET_MS: Record<string, number> = { HOUR: 3_600_000, DAY: 86_400_000 };

/**
 * Every bucket start of [from, to) as the server counts them (whole UTC hours or days: the first and
 * the last may be partial), so periods without usage are drawn as empty rather than left out.
 */
export function bucketStarts(from: string, to: string, granularity: string): string[] {
  const size = BUCKET_MS[granularity];
  if (!size) return [];
  const starts: string[] = [];
  for (let t = Math.floor(Date.parse(from) / size) * size; t < Date.parse(to); t += size) starts.push(new Date(t).toISOString());
  return starts;
}

export function UsageChart({ points, granularity, from, to, title, groupName }: { points: UsagePoint[]; granularity: string; from: string; to: string; title: string; groupName: string }) {
  const id = useId();
  const { buckets, groups, max, totals } = useMemo(() => {
    // Keyed by the bucket's instant (the server's ISO form may differ from toISOString's).
    const byBucket = new Map<string, Map<string, number>>(bucketStarts(from, to, granularity).map((start) => [start, new Map()]));
    const groupTotals = new Map<string, number>();
    for (const p of points) {
      const key = p.bucketStart ? new Date(p.bucketStart).toISOString() : '';
      const row = byBucket.get(key) ?? new Map<string, number>();
      row.set(p.group, (row.get(p.group) ?? 0) + p.totalTokens);
      byBucket.set(key, row);
      groupTotals.set(p.group, (groupTotals.get(p.group) ?? 0) + p.totalTokens);
    }
    const sortedBuckets = [...byBucket.keys()].sort();
    const sortedGroups = [...groupTotals.keys()].sort((a, b) => (groupTotals.get(b) ?? 0) - (groupTotals.get(a) ?? 0));
    let highest = 0;
    for (const row of byBucket.values()) highest = Math.max(highest, [...row.values()].reduce((a, b) => a + b, 0));
    return { buckets: sortedBuckets.map((b) => ({ start: b, values: byBucket.get(b)! })), groups: sortedGroups, max: highest, totals: groupTotals };
  }, [points, from, to, granularity]);

  if (!points.length) return <p className="muted empty-chart">No usage in this period yet.</p>;

  const total = [...totals.values()].reduce((a, b) => a + b, 0);
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotWidth / Math.max(buckets.length, 1);
  const barWidth = Math.max(2, Math.min(36, slot * 0.7));
  const scale = max > 0 ? plotHeight / max : 0;
  const colour = (group: string) => PALETTE[groups.indexOf(group) % PALETTE.length];
  const labelEvery = Math.ceil(buckets.length / 8);

  return (
    <figure className="chart" aria-labelledby={`${id}-caption`}>
      <figcaption id={`${id}-caption`}>{title}: {tokens(total)} tokens in total</figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={`${title}, stacked by ${groupName}: ${groups.map((g) => `${g || '(none)'} ${tokens(totals.get(g))}`).join(', ')}`} preserveAspectRatio="xMidYMid meet">
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line x1={PAD.left} x2={WIDTH - PAD.right} y1={PAD.top + plotHeight * (1 - f)} y2={PAD.top + plotHeight * (1 - f)} className="gridline" />
            <text x={PAD.left - 6} y={PAD.top + plotHeight * (1 - f) + 4} textAnchor="end" className="axis">{tokens(max * f)}</text>
          </g>
        ))}
        {buckets.map((bucket, i) => {
          let y = PAD.top + plotHeight;
          const x = PAD.left + slot * i + (slot - barWidth) / 2;
          return (
            <g key={bucket.start} data-bucket={bucket.start}>
              {groups.map((g) => {
                const value = bucket.values.get(g) ?? 0;
                if (!value) return null;
                const h = Math.max(1, value * scale);
                y -= h;
                return <rect key={g} x={x} y={y} width={barWidth} height={h} fill={colour(g)}><title>{`${bucket.start ? bucketLabel(bucket.start, granularity) : ''} ${g || '(none)'}: ${tokens(value)}`}</title></rect>;
              })}
              {i % labelEvery === 0 && bucket.start ? <text x={x + barWidth / 2} y={HEIGHT - 8} textAnchor="middle" className="axis">{bucketLabel(bucket.start, granularity)}</text> : null}
            </g>
          );
        })}
      </svg>
      <ul className="legend" aria-hidden="true">
        {groups.map((g) => <li key={g}><span className={`swatch swatch-${groups.indexOf(g) % PALETTE.length}`} />{g || '(none)'} · {tokens(totals.get(g))}</li>)}
      </ul>
      <details className="chart-table">
        <summary>Show the numbers</summary>
        <div className="table-scroll" tabIndex={0} role="region" aria-label={`${title}: the numbers`}>
          <table>
            <thead><tr><th scope="col">From (UTC)</th><th scope="col">{groupName}</th><th scope="col" className="num">Prompt</th><th scope="col" className="num">Completion</th><th scope="col" className="num">Total</th><th scope="col" className="num">Requests</th></tr></thead>
            <tbody>
              {points.map((p, i) => (
                <tr key={i}><td>{p.bucketStart ? p.bucketStart.replace('T', ' ').slice(0, 16) : 'all'}</td><th scope="row">{p.group || '(none)'}</th>
                  <td className="num">{tokens(p.promptTokens)}</td><td className="num">{tokens(p.completionTokens)}</td><td className="num">{tokens(p.totalTokens)}</td><td className="num">{tokens(p.requests)}</td></tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
