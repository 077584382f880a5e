// One-connection latency client, in its own process: sequential requests on one keep-alive socket,
// each timed with process.hrtime.bigint() (load generators report whole milliseconds, too coarse for
// a proxy's added latency). Warm-up requests first, then requests for the given time.
//   node dist/bench/precise-client.js '<PreciseClientSpec as JSON>'
// Prints one JSON line, a PreciseClientResult, on stdout; exits 1 on any non-2xx answer or error.
import http from 'node:http';
import { percentileOfSorted } from './statistics';

export interface PreciseClientSpec {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** `response`: until the last byte of the body; `first-byte`: until the first body chunk (SSE: the first event). */
  readonly measure: 'response' | 'first-byte';
  readonly warmupRequests: number;
  readonly durationMs: number;
  /** Upper bound on timed requests (memory for the samples). */
  readonly maxRequests: number;
}

export interface PreciseClientResult {
  readonly requests: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly meanUs: number;
  readonly minUs: number;
  readonly maxUs: number;
}

function timeOne(spec: PreciseClientSpec, url: URL, agent: http.Agent, body: Buffer): Promise<bigint> {
  return new Promise((resolve, reject) => {
    const startedAt = process.hrtime.bigint();
    let measuredAt = 0n;
    const req = http.request(
      { agent, hostname: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', headers: { ...spec.headers, 'content-length': body.length } },
      (res) => {
        const status = res.statusCode ?? 0;
        const errorChunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => {
          if (measuredAt === 0n && spec.measure === 'first-byte') measuredAt = process.hrtime.bigint();
          if (status >= 300 && errorChunks.length < 8) errorChunks.push(chunk);
        });
        res.on('end', () => {
          if (spec.measure === 'response') measuredAt = process.hrtime.bigint();
          if (status < 200 || status >= 300) reject(new Error(`HTTP ${status} from ${url.href}: ${Buffer.concat(errorChunks).toString('utf8').slice(0, 300)}`));
          else resolve(measuredAt - startedAt);
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export async function runPreciseClient(spec: PreciseClientSpec): Promise<PreciseClientResult> {
  const url = new URL(spec.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const body = Buffer.from(spec.body);
  for (let i = 0; i < spec.warmupRequests; i++) await timeOne(spec, url, agent, body);
  const samples = new Float64Array(spec.maxRequests);
  let count = 0;
  const deadline = process.hrtime.bigint() + BigInt(Math.round(spec.durationMs * 1e6));
  while (count < spec.maxRequests && process.hrtime.bigint() < deadline) {
    samples[count++] = Number(await timeOne(spec, url, agent, body)) / 1000;
  }
  agent.destroy();
  const sorted = samples.subarray(0, count).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    requests: count,
    p50Us: percentileOfSorted(sorted, 50),
    p90Us: percentileOfSorted(sorted, 90),
    p99Us: percentileOfSorted(sorted, 99),
    meanUs: count === 0 ? Number.NaN : sum / count,
    minUs: count === 0 ? Number.NaN : sorted[0],
    maxUs: count === 0 ? Number.NaN : sorted[count - 1],
  };
}

if (require.main === module) {
  process.on('disconnect', () => process.exit(1));
  runPreciseClient(JSON.parse(process.argv[2] ?? '{}') as PreciseClientSpec).then(
    (result) => process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0)),
    (error: unknown) => {
      process.stderr.write(`precise-client: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
