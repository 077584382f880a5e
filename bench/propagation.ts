// `npm run bench:propagation`: how fast a configuration change reaches every proxy. The control
// plane runs in its own process; N proxies (real data-plane instances, rate limiting off) run in
// this one. Each iteration makes one GraphQL mutation and measures, from the mutation's response,
// the time until the LAST of the N proxies serves the new revision (snapshot compiled and swapped in).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { type DataPlaneHandle, startDataPlane } from '../data-plane/src/main';

const ROOT = join(__dirname, '../..');
const PROXY_COUNTS = (process.env.BENCH_PROXIES ?? '1,10,50').split(',').map(Number);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 60);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main(): Promise<void> {
  const adminToken = `tgp_${randomBytes(16).toString('hex')}`;
  const dataPlaneToken = `tgd_${randomBytes(16).toString('hex')}`;
  const port = 40000 + Math.floor(Math.random() * 10000);
  const grpcPort = port + 1;
  const controlPlane = spawn(process.execPath, [join(ROOT, 'dist/cli/main.js'), 'control-plane'], {
    env: {
      ...process.env,
      DATABASE_URL: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/tokengate_bench_propagation',
      TOKENGATE_ADMIN_TOKEN: adminToken,
      TOKENGATE_SECRET_KEY: randomBytes(32).toString('base64'),
      TOKENGATE_DATAPLANE_TOKEN: dataPlaneToken,
      TOKENGATE_PORT: String(port),
      TOKENGATE_GRPC_PORT: String(grpcPort),
      TOKENGATE_REDIS_NAMESPACE: `bench-${randomBytes(3).toString('hex')}`,
      TOKENGATE_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const stopControlPlane = () => controlPlane.kill('SIGTERM');
  process.once('SIGINT', () => {
    stopControlPlane();
    process.exit(130);
  });
  const graphql = `http://127.0.0.1:${port}/graphql`;
  const gql = async <T>(query: string, variables: Record<string, unknown> = {}): Promise<T> => {
    const response = await fetch(graphql, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` }, body: JSON.stringify({ query, variables }) });
    const body = (await response.json()) as { data?: T; errors?: unknown };
    if (!body.data || body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
  const proxies: DataPlaneHandle[] = [];
  try {
    for (let i = 0; ; i++) {
      try {
        await gql('{ environments { handle } }');
        break;
      } catch {
        if (i > 300) throw new Error('control plane did not start');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const environment = `prop-${randomBytes(3).toString('hex')}`;
    await gql(`mutation { createEnvironment(input: {handle: "${environment}", name: "propagation"}) { id } }`);
    const { createOrganization } = await gql<{ createOrganization: { id: string } }>(`mutation { createOrganization(input: {handle: "${environment}", name: "bench"}) { id } }`);
    const { registerGenAIService } = await gql<{ registerGenAIService: { id: string } }>(
      'mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id } }',
      { i: { organizationId: createOrganization.id, scope: 'ORGANIZATION', provider: 'OPENAI', name: 'p', contextPath: '/p', serviceUrl: 'http://127.0.0.1:9/v1', environments: [{ environment, backendSecurity: { value: 'sk-bench-0123456789' } }] } },
    );
    const results: Array<{ proxies: number; iterations: number; p50Ms: number; p99Ms: number; maxMs: number }> = [];
    for (const count of PROXY_COUNTS) {
      while (proxies.length < count) {
        proxies.push(
          await startDataPlane({ environment, controlPlane: { address: `127.0.0.1:${grpcPort}`, token: dataPlaneToken }, port: 0, logger: pino({ level: 'silent' }), rateLimiting: null, proxyId: `bench-${proxies.length}` }),
        );
      }
      const { environments } = await gql<{ environments: Array<{ handle: string; revision: number }> }>('{ environments { handle revision } }');
      const start = BigInt(environments.find((e) => e.handle === environment)!.revision);
      await Promise.all(proxies.map((p) => p.waitForRevision(start)));
      const samples: number[] = [];
      for (let i = 0; i < ITERATIONS; i++) {
        // One mutation bumps the environment once: each proxy's next swap is that revision.
        const applied = proxies.map(
          (p) =>
            new Promise<number>((resolve) => {
              const off = p.holder.onSwap(() => {
                off();
                resolve(performance.now());
              });
            }),
        );
        await gql('mutation($s: ID!, $n: Int) { configureServiceEnvironment(serviceId: $s, environment: "' + environment + '", input: {rateLimit: {timeUnit: MINUTE, maxTotalTokens: $n}}) { id } }', { s: registerGenAIService.id, n: 1000 + i });
        const answered = performance.now();
        const times = await Promise.all(applied);
        samples.push(Math.max(0, Math.max(...times) - answered));
      }
      samples.sort((a, b) => a - b);
      results.push({ proxies: count, iterations: ITERATIONS, p50Ms: round(percentile(samples, 50)), p99Ms: round(percentile(samples, 99)), maxMs: round(samples[samples.length - 1]) });
      console.log(`${String(count).padStart(3)} proxies: p50 ${round(percentile(samples, 50))} ms, p99 ${round(percentile(samples, 99))} ms, max ${round(samples[samples.length - 1])} ms (${ITERATIONS} changes)`);
    }
    const goal = results.find((r) => r.proxies === 50);
    if (goal) console.log(`goal p99 < 100 ms for 50 proxies: ${goal.p99Ms < 100 ? 'PASS' : 'FAIL'} (${goal.p99Ms} ms)`);
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    const file = join(ROOT, 'bench/results', `propagation-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify({ measuredAt: new Date().toISOString(), iterations: ITERATIONS, results }, null, 2));
    console.log(`written ${file}`);
  } finally {
    await Promise.all(proxies.map((p) => p.close()));
    stopControlPlane();
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
