// 10,000 requests through a proxy — successful calls, refused calls (unknown key) and calls to a
// hanging upstream that time out — leave no sockets behind and no unbounded heap growth.
//
// Method. Everything (control plane, proxy, fake provider, client) runs in this process, so
// process.getActiveResourcesInfo() sees every TCP handle. Each phase's client uses its own
// keep-alive agent capped at CONCURRENCY sockets. At the end of a phase the agent is destroyed and
// the proxy's idle upstream sockets expire (freeSocketTimeoutMs is shortened to 300 ms for this
// proxy), so a healthy process returns to the handles it holds at rest: control plane, PostgreSQL,
// Redis, the gRPC config stream and the listening servers. The baseline is that resting count after
// a warm-up phase (so lazily opened connections are already counted); after the 10,000 requests the
// count must come back to within SOCKET_MARGIN of it. Waiting is a poll with a deadline that is only
// a safety net; the assertion is on the count, never on elapsed time.
// Heap: jest gives no global.gc, so V8 is asked to expose it (v8.setFlagsFromString + a fresh vm
// context) and a full collection runs before each reading; if that is unavailable the readings
// are taken without it (noisier, hence the generous bound). heapUsed after the second half of the
// run is compared with heapUsed after the first half, so one-off costs (JIT, caches, pools) are
// already paid. The fake's record of received requests is cleared between batches: it belongs to
// the test, not to the gateway.
import { Agent, request } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { DataPlaneHandle } from '../../data-plane/src/main';
import { type Gateway, startGateway } from '../support/gateway-harness';
import { waitFor } from '../support/wait';

const CONCURRENCY = 50;
const SOCKET_MARGIN = 5;
const HEAP_GROWTH_BOUND = 20 * 1024 * 1024;

let gw: Gateway;
let proxy: DataPlaneHandle;
let agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

beforeAll(async () => {
  gw = await startGateway();
  proxy = await gw.startProxy({ upstreamHeadersTimeoutMs: 200, upstreamAgents: { freeSocketTimeoutMs: 300, maxSocketsPerOrigin: null } });
});
afterAll(async () => {
  agent.destroy();
  await gw?.stop();
});

type Kind = 'ok' | 'refused' | 'timeout';
const EXPECTED: Record<Kind, number> = { ok: 200, refused: 401, timeout: 504 };
const BODY = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });

function send(kind: Kind): Promise<number> {
  const url = new URL(`${proxy.url}/acme/openai/chat/completions`);
  const key = kind === 'refused' ? 'tgk_not-a-valid-key-0123456789' : gw.services.openai.key;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(BODY);
  });
}

/** Sends `kinds` with at most CONCURRENCY in flight; returns how many answered other than expected. */
async function run(kinds: Kind[]): Promise<{ sent: number; unexpected: Array<{ kind: Kind; status: number }> }> {
  const unexpected: Array<{ kind: Kind; status: number }> = [];
  let next = 0;
  const worker = async () => {
    while (next < kinds.length) {
      const kind = kinds[next++]!;
      const status = await send(kind);
      if (status !== EXPECTED[kind]) unexpected.push({ kind, status });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  for (const fake of Object.values(gw.fakes)) fake.reset();
  return { sent: kinds.length, unexpected };
}

/** Every fifth call uses an unknown key. */
const mixed = (count: number): Kind[] => Array.from({ length: count }, (_, i) => (i % 5 === 4 ? 'refused' : 'ok'));
const hanging = (count: number): Kind[] => Array.from({ length: count }, () => 'timeout');

async function hangingBatch(count: number) {
  gw.fakes.openai.behaviour.hang = true;
  try {
    return await run(hanging(count));
  } finally {
    gw.fakes.openai.reset();
  }
}

/** Ends a phase: closes the client's keep-alive sockets and waits until the handle count settles at or below `target`. */
async function endPhase(target: number): Promise<number> {
  const inUse = tcpHandles();
  agent.destroy();
  agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let count = tcpHandles();
  await waitFor(() => (count = tcpHandles()) <= target, `TCP handles to fall to ${target} (from ${inUse})`, 15_000).catch(() => undefined);
  return count;
}

const tcpHandles = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPWRAP').length;

let gc: (() => void) | undefined;
try {
  setFlagsFromString('--expose-gc');
  gc = runInNewContext('gc') as () => void;
} catch {
  gc = undefined;
}
function heapUsed(): number {
  gc?.();
  return process.memoryUsage().heapUsed;
}
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

it('10,000 requests (ok, refused, timed out) leak no sockets and grow the heap by a bounded amount', async () => {
  let sent = 0;
  const unexpected: Array<{ kind: Kind; status: number }> = [];
  const tally = (result: Awaited<ReturnType<typeof run>>) => {
    sent += result.sent;
    unexpected.push(...result.unexpected);
  };

  const socketsBeforeTraffic = tcpHandles();
  // Warm-up, including a timeout batch; then the resting baseline.
  tally(await run(mixed(900)));
  tally(await hangingBatch(CONCURRENCY));
  tally(await run(mixed(50)));
  const socketsInUseAfterWarmUp = tcpHandles();
  const socketsBaseline = await endPhase(socketsBeforeTraffic);

  // First half.
  tally(await run(mixed(4_400)));
  tally(await hangingBatch(2 * CONCURRENCY));
  tally(await run(mixed(500)));
  const heapAfterFirst = heapUsed();

  // Second half.
  tally(await run(mixed(3_400)));
  tally(await hangingBatch(2 * CONCURRENCY));
  tally(await run(mixed(500)));
  const heapAfterSecond = heapUsed();
  const socketsInUseAtEnd = tcpHandles();
  const socketsAfter = await endPhase(socketsBaseline);

  console.log(
    [
      `requests sent: ${sent} (unexpected statuses: ${unexpected.length})`,
      `TCP handles at rest: ${socketsBeforeTraffic} before traffic, ${socketsBaseline} after warm-up (baseline), ${socketsAfter} after the run (margin ${SOCKET_MARGIN})`,
      `TCP handles with keep-alive pools in use: ${socketsInUseAfterWarmUp} after warm-up, ${socketsInUseAtEnd} at the end`,
      `heapUsed: ${mb(heapAfterFirst)} after first half, ${mb(heapAfterSecond)} after second half (growth ${mb(heapAfterSecond - heapAfterFirst)}, bound ${mb(HEAP_GROWTH_BOUND)}; forced gc: ${gc ? 'yes' : 'no'})`,
    ].join('\n'),
  );

  expect(sent).toBe(10_000);
  // Statuses near the 200 ms upstream timeout depend on machine load; what matters here is that every
  // exchange ended with an answer the gateway gives on purpose (no dropped connection, no crash).
  expect(unexpected.filter((u) => ![200, 401, 502, 504].includes(u.status))).toEqual([]);
  expect(socketsAfter).toBeLessThanOrEqual(socketsBaseline + SOCKET_MARGIN);
  expect(heapAfterSecond - heapAfterFirst).toBeLessThan(HEAP_GROWTH_BOUND);
});
