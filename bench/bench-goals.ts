// The performance goals (issues 3, 4, 11 and 12), checked against the medians of a run. A goal whose
// case or targets did not run is SKIPped, never passed.
import type { Summary } from './bench-report';

export type GoalCheck =
  /** target's metric ≥ atLeast × baseline's metric */
  | { readonly kind: 'ratio'; readonly metric: 'requestsPerSecond'; readonly baseline: string; readonly atLeast: number }
  /** target's metric − baseline's metric ≤ atMostUs */
  | { readonly kind: 'added'; readonly metric: 'p50Us' | 'p99Us'; readonly baseline: string; readonly atMostUs: number }
  /** target's metric ≥ atLeast (no baseline) */
  | { readonly kind: 'absolute'; readonly metric: 'requestsPerSecond'; readonly atLeast: number };

export interface Goal {
  readonly description: string;
  readonly caseId: string;
  readonly targetId: string;
  readonly check: GoalCheck;
}

export interface GoalOutcome {
  readonly description: string;
  readonly status: 'PASS' | 'FAIL' | 'SKIP';
  /** The measured ratio, or the added microseconds; null when skipped. */
  readonly measured: number | null;
  readonly detail: string;
}

export const BENCH_GOALS: readonly Goal[] = [
  {
    description: 'tokengate ≥ 0.7x passthrough req/s, 50 connections, 0 ms upstream',
    caseId: 'json-50c-0ms',
    targetId: 'tokengate',
    check: { kind: 'ratio', metric: 'requestsPerSecond', baseline: 'passthrough', atLeast: 0.7 },
  },
  {
    description: 'tokengate ≥ 0.9x direct req/s, 50 connections, 20 ms upstream',
    caseId: 'json-50c-20ms',
    targetId: 'tokengate',
    check: { kind: 'ratio', metric: 'requestsPerSecond', baseline: 'direct', atLeast: 0.9 },
  },
  {
    description: 'tokengate adds ≤ 0.5 ms at p50, 1 connection, JSON',
    caseId: 'json-1c',
    targetId: 'tokengate',
    check: { kind: 'added', metric: 'p50Us', baseline: 'direct', atMostUs: 500 },
  },
  {
    description: 'tokengate adds ≤ 0.6 ms to the SSE first byte (p50), 1 connection',
    caseId: 'sse-1c',
    targetId: 'tokengate',
    check: { kind: 'added', metric: 'p50Us', baseline: 'direct', atMostUs: 600 },
  },
  // Issue 4: the cost of token budgets (Redis reservation + settlement, body parsing, usage accounting).
  {
    description: 'rate limits on (Redis) add ≤ 0.3 ms at p50 over limits off, 1 connection, small prompt',
    caseId: 'json-1c',
    targetId: 'tokengate-limits',
    check: { kind: 'added', metric: 'p50Us', baseline: 'tokengate', atMostUs: 300 },
  },
  {
    description: 'rate limits on: ≥ 1,000 req/s with 4 KB prompts, 50 connections, 0 ms upstream',
    caseId: 'json-50c-4kb',
    targetId: 'tokengate-limits',
    check: { kind: 'absolute', metric: 'requestsPerSecond', atLeast: 1000 },
  },
  // Issue 11: every request of every service is metered (bodies read and parsed, responses observed,
  // compressed ones decoded for observation); the unlimited path must stay close to a plain proxy.
  ...[
    ['json-50c-0ms', '0 ms upstream'],
    ['json-50c-20ms', '20 ms upstream'],
    ['json-50c-0ms-gzip', '0 ms upstream, gzip response'],
  ].map(
    ([caseId, what]): Goal => ({
      description: `tokengate (metered) ≥ 0.85x passthrough req/s, 50 connections, ${what}`,
      caseId,
      targetId: 'tokengate',
      check: { kind: 'ratio', metric: 'requestsPerSecond', baseline: 'passthrough', atLeast: 0.85 },
    }),
  ),
  // Issue 12, item 6: the proxy's upstream side on the fastest HTTP client for Node, so that Tokengate
  // beats the plain node:http passthrough (same run, CPU-bound case), and budgets on cost little more.
  {
    description: 'tokengate ≥ 1.15x passthrough req/s, 50 connections, 0 ms upstream',
    caseId: 'json-50c-0ms',
    targetId: 'tokengate',
    check: { kind: 'ratio', metric: 'requestsPerSecond', baseline: 'passthrough', atLeast: 1.15 },
  },
  // Issue 13: a connection quota beside the service budget rides in the same Redis round trip.
  {
    description: 'a connection quota + service budget add ≤ 0.05 ms at p50 over a service budget alone, 1 connection',
    caseId: 'json-1c',
    targetId: 'tokengate-quota',
    check: { kind: 'added', metric: 'p50Us', baseline: 'tokengate-limits', atMostUs: 50 },
  },
  {
    description: 'tokengate-limits ≥ 0.9x tokengate req/s, 50 connections, 0 ms upstream',
    caseId: 'json-50c-0ms',
    targetId: 'tokengate-limits',
    check: { kind: 'ratio', metric: 'requestsPerSecond', baseline: 'tokengate', atLeast: 0.9 },
  },
];

export function evaluateGoals(goals: readonly Goal[], summaries: readonly Summary[]): GoalOutcome[] {
  const find = (caseId: string, targetId: string): Summary | undefined => summaries.find((s) => s.caseId === caseId && s.targetId === targetId && s.validRounds > 0);
  return goals.map((goal) => {
    const subject = find(goal.caseId, goal.targetId);
    if (goal.check.kind === 'absolute') {
      if (subject === undefined) return { description: goal.description, status: 'SKIP', measured: null, detail: `${goal.targetId} not measured in ${goal.caseId}` };
      const value = subject[goal.check.metric];
      const pass = value >= goal.check.atLeast && subject.errors === 0;
      return { description: goal.description, status: pass ? 'PASS' : 'FAIL', measured: value, detail: `measured ${Math.round(value)}${subject.errors > 0 ? ` (${subject.errors} failed requests)` : ''}` };
    }
    const baseline = find(goal.caseId, goal.check.baseline);
    if (subject === undefined || baseline === undefined) {
      return { description: goal.description, status: 'SKIP', measured: null, detail: `${subject === undefined ? goal.targetId : goal.check.baseline} not measured in ${goal.caseId}` };
    }
    const errors = subject.errors > 0 ? ` (${subject.errors} failed requests)` : '';
    if (goal.check.kind === 'ratio') {
      const ratio = subject[goal.check.metric] / baseline[goal.check.metric];
      const pass = ratio >= goal.check.atLeast && subject.errors === 0;
      return { description: goal.description, status: pass ? 'PASS' : 'FAIL', measured: ratio, detail: `measured ${ratio.toFixed(2)}x ${goal.check.baseline}${errors}` };
    }
    const added = subject[goal.check.metric] - baseline[goal.check.metric];
    const pass = added <= goal.check.atMostUs && subject.errors === 0;
    return { description: goal.description, status: pass ? 'PASS' : 'FAIL', measured: added, detail: `measured +${(added / 1000).toFixed(3)} ms over ${goal.check.baseline}${errors}` };
  });
}
