// `npm run bench:hostile` (issue 15, item 1): what oversized GraphQL inputs cost the control plane's
// other callers. A `tokengate control-plane` (built CLI, its own scratch database) serves two
// organizations. A DEVELOPER of one asks `viewer`, one request at a time, first alone, then while a
// sender process — a DEVELOPER of the other organization — keeps 1, then 4 (BENCH_HOSTILE_SENDERS)
// hostile requests in flight, each under the 1 MiB body limit: registerGenAIService against the first
// organization with 110,000 distinct labels (the issue's request), with a 900,000-character
// description, with 10,000 environment entries, and a marketplace query of its own organization
// filtered by 100,000 labels. Printed: the viewer's p50/p99 in every phase, the hostile answers and
// their latency, and the cores the control plane and the rest of the machine used.
//
//   npm run bench:hostile
//   BENCH_BASELINE=<git revision> npm run bench:hostile   # the same against that revision too (built beside)
//   BENCH_HOSTILE_DURATION_S=20 BENCH_HOSTILE_SENDERS=1,8 npm run bench:hostile
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildBaseline } from './baseline-build';
import { BenchConfigError, baselineDatabaseUrlOf, positiveNumber } from './bench-config';
import type { ChildProcessGroup, ManagedChild } from './child-processes';
import { type CpuUse, cpuUseBetween, takeCpuSnapshot } from './cpu-usage';
import { gitRevision, runBenchmark } from './run';
import { percentileOfSorted } from './statistics';
import { controlPlaneEnv, parseLogLine, recreateBenchDatabase } from './tokengate-stack';

const SENDER_ARGUMENT = 'hostile-sender';
const START_TIMEOUT_MS = 60_000;
const WARM_UP_REQUESTS = 200;
/** The sender keeps sending this long past the measured window, so the window is covered end to end. */
const SENDER_MARGIN_MS = 2000;
/** In-flight hostile requests still unanswered this long after the window are abandoned (counted as such). */
const SENDER_GRACE_MS = 30_000;

const VIEWER = '{ viewer { user { id email } memberships { role organization { handle } } } }';
const REGISTER = 'mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id } }';
const MARKETPLACE = 'query($o: ID!, $f: MarketplaceFilter) { marketplace(organizationId: $o, filter: $f) { id } }';

const log = (message: string): void => {
  process.stderr.write(`${message}\n`);
};

interface HostileSettings {
  readonly durationMs: number;
  /** Hostile requests kept in flight, one phase per entry. */
  readonly senders: readonly number[];
  readonly databaseUrl: string;
  readonly redisUrl: string;
  readonly baselineRevision: string | null;
}

function loadSettings(env: NodeJS.ProcessEnv = process.env): HostileSettings {
  return {
    durationMs: positiveNumber(env, 'BENCH_HOSTILE_DURATION_S', 15, false, 1) * 1000,
    senders: (env.BENCH_HOSTILE_SENDERS || '1,4').split(',').map((n) => {
      if (!/^\s*[1-9]\d*\s*$/.test(n)) throw new BenchConfigError(`BENCH_HOSTILE_SENDERS must list positive integers, got "${env.BENCH_HOSTILE_SENDERS}"`);
      return Number(n);
    }),
    databaseUrl: env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/tokengate_bench_hostile',
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    baselineRevision: env.BENCH_BASELINE?.trim() || null,
  };
}

/** The hostile request bodies, serialized once: the sender spends its time sending, not building JSON. */
function hostileBodies(victimOrganizationId: string, ownOrganizationId: string): Array<{ name: string; body: string }> {
  const service = { organizationId: victimOrganizationId, scope: 'ORGANIZATION', provider: 'OPENAI', name: 'x', contextPath: '/x', serviceUrl: 'https://api.openai.com/v1' };
  // Distinct, as in the report (832 KB): the worst case of the dedup that compared each label with all before it.
  const labels = Array.from({ length: 110_000 }, (_, i) => `l${i.toString(36)}`);
  return [
    { name: '110,000 labels', body: JSON.stringify({ query: REGISTER, variables: { i: { ...service, labels } } }) },
    { name: '900,000-character description', body: JSON.stringify({ query: REGISTER, variables: { i: { ...service, description: 'x'.repeat(900_000) } } }) },
    { name: '10,000 environments', body: JSON.stringify({ query: REGISTER, variables: { i: { ...service, environments: Array.from({ length: 10_000 }, () => ({ environment: 'production' })) } } }) },
    { name: 'marketplace, 100,000 labels', body: JSON.stringify({ query: MARKETPLACE, variables: { o: ownOrganizationId, f: { labels: labels.slice(0, 100_000) } } }) },
  ];
}

interface SenderReport {
  sent: number;
  /** Answers by `extensions.code` of the first error ("data" without errors, "HTTP n" without JSON). */
  answers: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  abandoned: number;
  bodyBytes: number[];
}

/** The sender process: `senders` loops over the hostile bodies until the deadline, then one JSON line. */
async function runSender(): Promise<void> {
  const url = process.env.HOSTILE_GRAPHQL_URL!;
  const token = process.env.HOSTILE_TOKEN!;
  const senders = Number(process.env.HOSTILE_SENDERS);
  const deadline = performance.now() + Number(process.env.HOSTILE_DURATION_MS);
  const bodies = hostileBodies(process.env.HOSTILE_VICTIM_ORGANIZATION!, process.env.HOSTILE_OWN_ORGANIZATION!);
  const abort = new AbortController();
  const latencies: number[] = [];
  const answers: Record<string, number> = {};
  let sent = 0;
  let abandoned = 0;
  const loop = async (offset: number): Promise<void> => {
    for (let i = offset; performance.now() < deadline; i++) {
      const { body } = bodies[i % bodies.length];
      const startedAt = performance.now();
      sent++;
      try {
        const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body, signal: abort.signal });
        const text = await response.text();
        latencies.push(performance.now() - startedAt);
        let answer = `HTTP ${response.status}`;
        try {
          const json = JSON.parse(text) as { errors?: Array<{ extensions?: { code?: string } }> };
          answer = json.errors?.[0]?.extensions?.code ?? 'data';
        } catch {
          // not JSON: the HTTP status says it
        }
        answers[answer] = (answers[answer] ?? 0) + 1;
      } catch {
        abandoned++;
        return;
      }
    }
  };
  process.stdout.write('sending\n');
  const loops = Promise.all(Array.from({ length: senders }, (_, i) => loop(i)));
  const grace = setTimeout(() => abort.abort(), Math.max(0, deadline - performance.now()) + SENDER_GRACE_MS);
  await loops;
  clearTimeout(grace);
  latencies.sort((a, b) => a - b);
  const report: SenderReport = {
    sent,
    answers,
    p50Ms: percentileOfSorted(latencies, 50),
    p99Ms: percentileOfSorted(latencies, 99),
    maxMs: latencies[latencies.length - 1] ?? Number.NaN,
    abandoned,
    bodyBytes: bodies.map((b) => Buffer.byteLength(b.body)),
  };
  process.stdout.write(`report ${JSON.stringify(report)}\n`);
}

interface ControlPlaneUnderTest {
  readonly child: ManagedChild;
  readonly graphqlUrl: string;
  readonly victimToken: string;
  readonly senderToken: string;
  readonly victimOrganizationId: string;
  readonly senderOrganizationId: string;
}

async function graphql<T>(url: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) });
  const body = (await response.json()) as { data?: T | null; errors?: unknown[] };
  if (body.errors?.length || !body.data) throw new Error(`GraphQL ${response.status}: ${JSON.stringify(body.errors ?? body)}`);
  return body.data;
}

/** Starts the control plane of `root` on a fresh scratch database; one organization per party, a DEVELOPER token each. */
async function startControlPlane(processes: ChildProcessGroup, root: string, label: string, databaseUrl: string, redisUrl: string): Promise<ControlPlaneUnderTest> {
  await recreateBenchDatabase(databaseUrl);
  const adminToken = `tgp_admin_${randomBytes(16).toString('hex')}`;
  const child = processes.start({
    name: `tokengate control plane (${label})`,
    command: process.execPath,
    args: [path.join(root, 'dist/cli/main.js'), 'control-plane'],
    cwd: root,
    env: controlPlaneEnv({ databaseUrl, redisUrl, adminToken, dataPlaneToken: `tgd_${randomBytes(16).toString('hex')}`, redisNamespace: `bench-hostile-${randomBytes(4).toString('hex')}` }),
  });
  const graphqlUrl = await child.waitForLine((line) => {
    const entry = parseLogLine(line);
    return entry?.msg === 'control plane listening' && typeof entry.graphql === 'string' ? entry.graphql : undefined;
  }, START_TIMEOUT_MS);
  log(`${child.name}: ${graphqlUrl}`);
  const admin = <T>(query: string, variables: Record<string, unknown>) => graphql<T>(graphqlUrl, adminToken, query, variables);
  await admin('mutation($i: CreateEnvironmentInput!) { createEnvironment(input: $i) { id } }', { i: { handle: 'production', name: 'Production' } });
  const party = async (handle: string): Promise<{ organizationId: string; token: string }> => {
    const { createOrganization } = await admin<{ createOrganization: { id: string } }>('mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }', { i: { handle, name: handle } });
    const { addMember } = await admin<{ addMember: { user: { id: string } } }>(
      'mutation($o: ID!, $e: String!) { addMember(organizationId: $o, email: $e, role: DEVELOPER) { user { id } } }',
      { o: createOrganization.id, e: `developer@${handle}.test` },
    );
    const { createApiToken } = await admin<{ createApiToken: { token: string } }>('mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { token } }', { i: { name: 'bench', userId: addMember.user.id } });
    return { organizationId: createOrganization.id, token: createApiToken.token };
  };
  const victim = await party('acme');
  const sender = await party('mallory');
  return { child, graphqlUrl, victimToken: victim.token, senderToken: sender.token, victimOrganizationId: victim.organizationId, senderOrganizationId: sender.organizationId };
}

interface ViewerFigures {
  requests: number;
  /** Requests that got no answer (a connection closed under them): timed like the others, and reported. */
  failed: number;
  firstFailure: string | null;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  cpu: CpuUse;
}

/** `viewer`, one request at a time, for `durationMs`: what another caller of the control plane sees. */
async function measureViewer(target: ControlPlaneUnderTest, durationMs: number): Promise<ViewerFigures> {
  const body = JSON.stringify({ query: VIEWER });
  const ask = async (): Promise<void> => {
    const response = await fetch(target.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${target.victimToken}` }, body });
    const json = (await response.json()) as { errors?: unknown[] };
    if (response.status !== 200 || json.errors) throw new Error(`viewer answered ${response.status}: ${JSON.stringify(json)}`);
  };
  const parties = [{ name: 'control plane', pid: target.child.child.pid! }];
  const before = takeCpuSnapshot(parties);
  const latencies: number[] = [];
  let failed = 0;
  let firstFailure: string | null = null;
  const deadline = performance.now() + durationMs;
  while (performance.now() < deadline) {
    const startedAt = performance.now();
    try {
      await ask();
    } catch (error) {
      if (!target.child.isRunning()) throw new Error(`${target.child.name} exited; its output:\n${target.child.outputTail()}`);
      failed++;
      const cause = error instanceof Error ? `${error.message}${error.cause instanceof Error ? ` (${error.cause.message})` : ''}` : String(error);
      firstFailure ??= cause;
    }
    latencies.push(performance.now() - startedAt);
  }
  const cpu = cpuUseBetween(before, takeCpuSnapshot(parties), os.cpus().length);
  latencies.sort((a, b) => a - b);
  return { requests: latencies.length, failed, firstFailure, p50Ms: percentileOfSorted(latencies, 50), p99Ms: percentileOfSorted(latencies, 99), maxMs: latencies[latencies.length - 1], cpu };
}

interface LoadedPhase {
  senders: number;
  viewer: ViewerFigures;
  hostile: SenderReport;
}

interface RunFigures {
  label: string;
  alone: ViewerFigures;
  loaded: LoadedPhase[];
}

async function measureUnderHostileLoad(processes: ChildProcessGroup, target: ControlPlaneUnderTest, label: string, senders: number, durationMs: number): Promise<{ viewer: ViewerFigures; hostile: SenderReport }> {
  const sender = processes.start({
    name: `hostile sender ×${senders} (${label})`,
    command: process.execPath,
    args: [__filename, SENDER_ARGUMENT],
    env: {
      ...process.env,
      HOSTILE_GRAPHQL_URL: target.graphqlUrl,
      HOSTILE_TOKEN: target.senderToken,
      HOSTILE_SENDERS: String(senders),
      HOSTILE_DURATION_MS: String(durationMs + 2 * SENDER_MARGIN_MS),
      HOSTILE_VICTIM_ORGANIZATION: target.victimOrganizationId,
      HOSTILE_OWN_ORGANIZATION: target.senderOrganizationId,
    },
  });
  const report = sender.waitForLine((line) => (line.startsWith('report ') ? (JSON.parse(line.slice('report '.length)) as SenderReport) : undefined), durationMs + 4 * SENDER_MARGIN_MS + SENDER_GRACE_MS + START_TIMEOUT_MS);
  report.catch(() => undefined); // awaited below; a sender dying meanwhile must not be an unhandled rejection
  await sender.waitForLine((line) => (line === 'sending' ? true : undefined), START_TIMEOUT_MS);
  await new Promise((resolve) => setTimeout(resolve, SENDER_MARGIN_MS));
  const viewer = await measureViewer(target, durationMs);
  const hostile = await report;
  await sender.exited;
  return { viewer, hostile };
}

async function measureControlPlane(processes: ChildProcessGroup, settings: HostileSettings, root: string, label: string, databaseUrl: string): Promise<RunFigures> {
  const target = await startControlPlane(processes, root, label, databaseUrl, settings.redisUrl);
  try {
    const body = JSON.stringify({ query: VIEWER });
    for (let i = 0; i < WARM_UP_REQUESTS; i++) {
      await fetch(target.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${target.victimToken}` }, body }).then((r) => r.text());
    }
    log(`${label}: viewer alone for ${settings.durationMs / 1000} s`);
    const alone = await measureViewer(target, settings.durationMs);
    const loaded: LoadedPhase[] = [];
    for (const senders of settings.senders) {
      log(`${label}: viewer while ${senders} hostile request(s) are kept in flight`);
      loaded.push({ senders, ...(await measureUnderHostileLoad(processes, target, label, senders, settings.durationMs)) });
    }
    return { label, alone, loaded };
  } finally {
    target.child.child.kill('SIGTERM');
    await target.child.exited;
  }
}

function phasesOf(run: RunFigures): Array<[string, ViewerFigures]> {
  return [['alone', run.alone], ...run.loaded.map(({ senders, viewer }): [string, ViewerFigures] => [`${senders} hostile in flight`, viewer])];
}

const ms = (value: number): string => (Number.isFinite(value) ? (value >= 100 ? value.toFixed(0) : value.toFixed(2)) : '-');

function printFigures(runs: readonly RunFigures[], settings: HostileSettings): void {
  const cpus = os.cpus();
  const out = [
    `Hostile GraphQL input against the control plane: viewer (one request at a time) alone, then while ${settings.senders.join(', then ')} hostile requests are kept in flight; ${settings.durationMs / 1000} s each.`,
    `machine: ${cpus.length} × ${cpus[0]?.model ?? 'unknown'}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} at the end`,
    '',
    '| control plane | phase | viewer requests (failed) | p50 ms | p99 ms | max ms | control plane cores | other work (cores) |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const run of runs) {
    for (const [phase, figures] of phasesOf(run)) {
      const cores = figures.cpu.byProcess['control plane'];
      out.push(`| ${run.label} | ${phase} | ${figures.requests}${figures.failed > 0 ? ` (${figures.failed})` : ''} | ${ms(figures.p50Ms)} | ${ms(figures.p99Ms)} | ${ms(figures.maxMs)} | ${cores?.toFixed(2) ?? '-'} | ${figures.cpu.outsideCores?.toFixed(2) ?? '-'} |`);
    }
  }
  out.push('', '| control plane | in flight | hostile requests | answers | p50 ms | p99 ms | max ms | abandoned |', '| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |');
  for (const run of runs) {
    for (const { senders, hostile } of run.loaded) {
      const answers = Object.entries(hostile.answers).map(([code, count]) => `${code} ${count}`).join(', ');
      out.push(`| ${run.label} | ${senders} | ${hostile.sent} | ${answers} | ${ms(hostile.p50Ms)} | ${ms(hostile.p99Ms)} | ${ms(hostile.maxMs)} | ${hostile.abandoned} |`);
    }
  }
  out.push('', `hostile bodies (bytes): ${runs[0]?.loaded[0]?.hostile.bodyBytes.join(', ') ?? '-'}`);
  for (const run of runs) {
    for (const [phase, figures] of phasesOf(run)) {
      if (figures.firstFailure !== null) out.push(`${run.label}, ${phase}: ${figures.failed} viewer request(s) failed, the first with: ${figures.firstFailure}`);
    }
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

async function hostileInputBenchmark(processes: ChildProcessGroup, workDir: string, repositoryRoot: string): Promise<void> {
  const settings = loadSettings();
  const runs: RunFigures[] = [];
  runs.push(await measureControlPlane(processes, settings, repositoryRoot, `current ${gitRevision(repositoryRoot) ?? ''}`.trim(), settings.databaseUrl));
  if (settings.baselineRevision !== null) {
    const baseline = await buildBaseline({ repositoryRoot, revision: settings.baselineRevision, workDir, processes, log });
    runs.push(await measureControlPlane(processes, settings, baseline.root, `baseline ${baseline.shortCommit}`, baselineDatabaseUrlOf(settings.databaseUrl)));
  }
  printFigures(runs, settings);
}

if (require.main === module) {
  if (process.argv[2] === SENDER_ARGUMENT) {
    runSender().catch((error: unknown) => {
      process.stderr.write(`hostile sender: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    });
  } else {
    runBenchmark(hostileInputBenchmark);
  }
}
