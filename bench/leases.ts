// What the degraded-mode leases (ADR 011) cost while Redis answers, measured on TokenBudget itself
// against the real Redis of REDIS_URL (no HTTP in the way):
// 1. Extra 429s near the boundary: 4 proxies share a budget under uneven load (40/30/20/10 % of the
//    requests) until every one is refused; reported: how much of the budget was admitted before the
//    first refusal and in all, for no leases (exact to the last token), leases (default 5% per
//    proxy, 20% cap) and fail-open.
// 2. The normal path: admit + settle round trips, one at a time, p50/p99 in µs, for a service budget
//    alone and with a connection quota beside it, with and without leases.
//
//   npm run bench:leases                      # REDIS_URL (default redis://127.0.0.1:6379)
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { type BudgetPolicy, type TokenBudgetOptions, TokenBudget } from '../data-plane/src/rate-limit/token-budget';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const logger = pino({ level: 'silent' });
const BUDGET = 100_000;
const REQUEST = 700; // tokens per request (a typical chat turn)
const LOAD = [0.4, 0.3, 0.2, 0.1];

type Setting = { readonly name: string; readonly options: Partial<TokenBudgetOptions> };
const SETTINGS: readonly Setting[] = [
  { name: 'no leases (--lease-share 0)', options: { leaseShare: 0 } },
  { name: 'leases (default: 5% per proxy, 20% cap)', options: {} },
  { name: 'fail-open (--degraded-budget fail-open)', options: { degradedMode: 'fail-open' } },
];

function budgets(environment: string, options: Partial<TokenBudgetOptions>, count: number): TokenBudget[] {
  return Array.from({ length: count }, (_, i) => new TokenBudget({ redisUrl: REDIS_URL, environment, proxyId: `bench-${i}`, logger, ...options }));
}

/** Picks a proxy with the LOAD weights from a deterministic sequence (the same for every setting). */
function pick(i: number): number {
  const x = ((i * 2654435761) % 2 ** 32) / 2 ** 32;
  let acc = 0;
  for (let p = 0; p < LOAD.length; p++) if (x < (acc += LOAD[p])) return p;
  return LOAD.length - 1;
}

async function boundary(setting: Setting): Promise<{ beforeFirstRefusal: number; total: number; refusalsWhileTokensLeft: number }> {
  const environment = `bench-leases-${randomBytes(4).toString('hex')}`;
  const proxies = budgets(environment, setting.options, LOAD.length);
  await Promise.all(proxies.map((p) => p.whenConnected(5000)));
  const policy: BudgetPolicy = { serviceId: 'svc', timeUnit: 'HOUR', maxPromptTokens: null, maxCompletionTokens: null, maxTotalTokens: BUDGET };
  let admitted = 0;
  let beforeFirstRefusal: number | null = null;
  let refusalsWhileTokensLeft = 0;
  const refusedBy = new Set<number>();
  for (let i = 0; refusedBy.size < LOAD.length && i < 10_000; i++) {
    const p = pick(i);
    const result = await proxies[p].admit(policy, REQUEST, 0);
    if (result.admitted) {
      admitted += REQUEST;
      refusedBy.delete(p);
      continue;
    }
    beforeFirstRefusal ??= admitted;
    if (BUDGET - admitted >= REQUEST) refusalsWhileTokensLeft += 1;
    refusedBy.add(p);
  }
  await Promise.all(proxies.map((p) => p.close()));
  return { beforeFirstRefusal: beforeFirstRefusal ?? admitted, total: admitted, refusalsWhileTokensLeft };
}

async function roundTrips(options: Partial<TokenBudgetOptions>, withQuota: boolean, samples: number): Promise<{ p50: number; p99: number }> {
  const [proxy] = budgets(`bench-leases-${randomBytes(4).toString('hex')}`, options, 1);
  await proxy.whenConnected(5000);
  const service: BudgetPolicy = { serviceId: 'svc', timeUnit: 'MINUTE', maxPromptTokens: null, maxCompletionTokens: null, maxTotalTokens: 2_000_000_000 };
  const quota: BudgetPolicy = { scope: 'connection', serviceId: 'svc', connectionId: 'app', timeUnit: 'HOUR', maxPromptTokens: null, maxCompletionTokens: null, maxTotalTokens: 2_000_000_000 };
  const policies = withQuota ? [service, quota] : [service];
  const times: number[] = [];
  for (let i = 0; i < samples + 200; i++) {
    const start = performance.now();
    const result = await proxy.admit(policies, 40, 256);
    if (!result.admitted) throw new Error('refused far from the boundary');
    await proxy.settle(result.reservation, { prompt: 12, completion: 30 });
    if (i >= 200) times.push((performance.now() - start) * 1000);
  }
  await proxy.close();
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length * 0.5)], p99: times[Math.floor(times.length * 0.99)] };
}

async function main(): Promise<void> {
  const pct = (value: number) => `${((100 * value) / BUDGET).toFixed(1)}%`;
  console.log(`Budget ${BUDGET} tokens, requests of ${REQUEST}, 4 proxies with ${LOAD.map((l) => `${l * 100}%`).join('/')} of the requests, Redis ${REDIS_URL}\n`);
  console.log('| setting | admitted before the first 429 | admitted in all | 429s while ≥ 1 request of the budget was unused |');
  console.log('| --- | --- | --- | --- |');
  for (const setting of SETTINGS) {
    const r = await boundary(setting);
    console.log(`| ${setting.name} | ${pct(r.beforeFirstRefusal)} | ${pct(r.total)} | ${r.refusalsWhileTokensLeft} |`);
  }
  const samples = Number(process.env.BENCH_SAMPLES ?? 5000);
  console.log(`\nadmit + settle, one at a time (${samples} samples after 200 warm-up), µs:\n`);
  console.log('| budgets | leases | p50 | p99 |');
  console.log('| --- | --- | --- | --- |');
  for (const [withQuota, options, leases] of [
    [false, { leaseShare: 0 }, 'off'],
    [false, {}, 'on'],
    [true, { leaseShare: 0 }, 'off'],
    [true, {}, 'on'],
  ] as const) {
    const r = await roundTrips(options, withQuota, samples);
    console.log(`| service budget${withQuota ? ' + connection quota' : ''} | ${leases} | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} |`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
