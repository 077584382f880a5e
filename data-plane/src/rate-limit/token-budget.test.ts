// TokenBudget against real Redis: the shared instance for the exactness tests, and a private
// redis-server (stopped and restarted) for the degraded mode.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Socket, createServer } from 'node:net';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { freePort } from '../../../test/support/free-port';
import { type BudgetPolicy, TokenBudget, type TokenBudgetOptions } from './token-budget';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const logger = pino({ level: 'silent' });
const budgets: TokenBudget[] = [];
/**
 * The budgets' clock, frozen at the start of each test: a test sees one window of each budget, and
 * every proxy of a test sees the same one. On the wall clock, a minute boundary mid-test starts a
 * window with fresh counters and no lease, which no assertion here is about. Tests of windows set
 * their own clock.
 */
let testStartedAt = Date.now();
beforeEach(() => {
  testStartedAt = Date.now();
});

/**
 * A budget on the test Redis. Its commands may take up to 10 s (the proxy's default is 50 ms): on a busy
 * machine a slower answer would put it in degraded mode and the tests of exact counting would depend
 * on timing. Tests of degraded mode set their own timeout or stop their Redis.
 */
function budget(options: Partial<ConstructorParameters<typeof TokenBudget>[0]> = {}): TokenBudget {
  const instance = new TokenBudget({ redisUrl: REDIS_URL, environment: `test-${randomBytes(4).toString('hex')}`, proxyId: 'p1', logger, now: () => testStartedAt, commandTimeoutMs: 10_000, ...options });
  budgets.push(instance);
  return instance;
}

function policy(limits: Partial<BudgetPolicy>): BudgetPolicy {
  return { serviceId: 'svc', timeUnit: 'MINUTE', maxPromptTokens: null, maxCompletionTokens: null, maxTotalTokens: null, ...limits };
}

afterAll(async () => {
  await Promise.all(budgets.map((b) => b.close()));
});

/** Bytes the kernel holds unread on a socket to 127.0.0.1, read synchronously from Linux's /proc/net/tcp. */
function unreadBytes(socket: Socket): number {
  const local = `0100007F:${(socket.localPort ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === local) return parseInt(fields[4].split(':')[1], 16);
  }
  throw new Error(`no socket ${local} in /proc/net/tcp`);
}

async function ready(b: TokenBudget): Promise<void> {
  // The first admission waits for the connection; a throwaway policy keeps test windows clean.
  for (let i = 0; i < 200; i++) {
    const result = await b.admit(policy({ serviceId: 'warm-up' }), 0, 0);
    if (result.admitted && result.reservation.where === 'redis') return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('redis not ready');
}

describe('start-up', () => {
  it('whenConnected: true once the connection is ready, false after the wait when Redis is not there', async () => {
    expect(await budget().whenConnected(5000)).toBe(true);
    const away = budget({ redisUrl: `redis://127.0.0.1:${await freePort()}` });
    expect(await away.whenConnected(100)).toBe(false);
  });
});

describe('exact budgets in Redis', () => {
  it.each([
    ['prompt', { maxPromptTokens: 100 }, 10, 0],
    ['completion', { maxCompletionTokens: 100 }, 0, 10],
    ['total', { maxTotalTokens: 100 }, 5, 5],
  ] as const)('refuses exactly at the %s boundary', async (dimension, limits, prompt, completion) => {
    const b = budget({ now: () => Date.UTC(2026, 0, 1, 12, 0, 30) });
    await ready(b);
    for (let i = 0; i < 10; i++) expect((await b.admit(policy(limits), prompt, completion)).admitted).toBe(true);
    const refused = await b.admit(policy(limits), Math.max(prompt, 1) && prompt, completion || (prompt ? 0 : 1));
    expect(refused).toMatchObject({ admitted: false, refused: dimension, retryAfterSeconds: 30 });
    expect((await b.admit(policy(limits), 0, 0)).admitted).toBe(true);
  });

  it('a busy event loop is not a slow Redis: an answer waiting on the socket beats the timer', async () => {
    const b = budget({ commandTimeoutMs: 20 });
    await ready(b);
    // On a loaded machine a warm-up answer can come after 20 ms; the probe then ends that mode.
    for (let i = 0; b.degraded && i < 500; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(b.degraded).toBe(false);
    const socket = (b as unknown as { redis: Redis }).redis.stream as Socket;
    const pending = b.admit(policy({ maxTotalTokens: 1000 }), 10, 0);
    // Auto-pipelining writes the command from a setImmediate: let it go out first.
    await new Promise((resolve) => setImmediate(resolve));
    // A GC pause or a burst of synchronous work: busy past the timeout, until the answer is on the
    // socket (not merely "long enough": Redis shares the machine's cores with this test's neighbours).
    const started = Date.now();
    while (Date.now() - started < 150 || unreadBytes(socket) === 0) {
      if (Date.now() - started > 30_000) throw new Error('Redis did not answer within 30 s');
    }
    expect(await pending).toMatchObject({ admitted: true, reservation: { where: 'redis' } });
    expect(b.degraded).toBe(false);
  });

  it('charge: usage nobody reserved (a Realtime response) lands in the window, in every budget given, and later admissions see it', async () => {
    const b = budget({ now: () => Date.UTC(2026, 0, 1, 12, 0, 30) });
    await ready(b);
    const service = policy({ maxTotalTokens: 100 });
    const connection = policy({ scope: 'connection', connectionId: 'c1', maxCompletionTokens: 40 });
    await b.charge([service, connection], { prompt: 50, completion: 30 });
    expect(b.lastKnown([service, connection]).map((view) => view.used)).toEqual([{ prompt: 50, completion: 30, total: 80 }, { prompt: 50, completion: 30, total: 80 }]);
    expect(await b.admit([service, connection], 5, 11)).toMatchObject({ admitted: false, refusedBy: 'connection', refused: 'completion' });
    expect(await b.admit([service, connection], 25, 0)).toMatchObject({ admitted: false, refusedBy: 'service', refused: 'total' });
    expect((await b.admit([service, connection], 10, 10)).admitted).toBe(true);
  });

  it('forgets windows a minute after they end, so a long-running proxy does not grow', async () => {
    let now = Date.UTC(2026, 0, 1, 12, 0, 30);
    const b = budget({ now: () => now });
    await ready(b);
    for (let minute = 0; minute < 10; minute++) {
      now = Date.UTC(2026, 0, 1, 12, minute, 30);
      const admitted = await b.admit(policy({ maxTotalTokens: 1000 }), 10, 0);
      if (!admitted.admitted) throw new Error('expected admission');
      await b.settle(admitted.reservation, { prompt: 5, completion: 1 });
    }
    // 12:09 (live) and 12:08 (ended less than a minute ago); the warm-up's window is long gone too.
    expect(b.trackedWindows).toBe(2);
  });

  it('never admits more than the budget between two proxies admitting concurrently (no leases: to the last token)', async () => {
    const environment = `shared-${randomBytes(4).toString('hex')}`;
    const [a, b] = [budget({ environment, proxyId: 'a', degradedMode: 'fail-open' }), budget({ environment, proxyId: 'b', degradedMode: 'fail-open' })];
    await Promise.all([ready(a), ready(b)]);
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).admit(policy({ maxTotalTokens: 1000 }), 7, 0)));
    const admitted = results.filter((r) => r.admitted).length;
    expect(admitted).toBe(Math.floor(1000 / 7));
  });

  it('with leases, never admits more than the budget, and leaves at most each proxy’s lease unspent', async () => {
    const environment = `leased-${randomBytes(4).toString('hex')}`;
    const [a, b] = [budget({ environment, proxyId: 'a' }), budget({ environment, proxyId: 'b' })];
    await Promise.all([ready(a), ready(b)]);
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).admit(policy({ maxTotalTokens: 1000 }), 7, 0)));
    const admitted = results.filter((r) => r.admitted).length;
    expect(admitted * 7).toBeLessThanOrEqual(1000);
    // A proxy may stop asking while its lease (5% of the budget: 50) is unspent; only it may spend
    // that. So at most the two leases and less than one request of free tokens go unused.
    expect(admitted * 7).toBeGreaterThan(1000 - 2 * 50 - 7);
  });

  it('leases of many proxies together never hold more than the cap', async () => {
    const environment = `capped-${randomBytes(4).toString('hex')}`;
    const proxies = Array.from({ length: 10 }, (_, i) => budget({ environment, proxyId: `p${i}`, leaseShare: 0.05, leaseCap: 0.2 }));
    await Promise.all(proxies.map(ready));
    for (const proxy of proxies) expect((await proxy.admit(policy({ maxTotalTokens: 10_000 }), 10, 0)).admitted).toBe(true);
    const redis = new Redis(REDIS_URL);
    const key = (await redis.keys(`tokengate:rl:{${environment}:svc}:MINUTE:*`))[0];
    const { LT } = await redis.hgetall(key);
    redis.disconnect();
    // Ten proxies would hold 5% each; the first four reach the cap of 20% (2,000 tokens).
    expect(Number(LT)).toBe(2000);
  });

  it('replaces a reservation by the reported usage, and a limit change keeps what was used', async () => {
    const b = budget();
    await ready(b);
    const first = await b.admit(policy({ maxTotalTokens: 1000 }), 100, 400);
    if (!first.admitted) throw new Error('expected admission');
    expect(first.views[0].used.total).toBe(500);
    await b.settle(first.reservation, { prompt: 20, completion: 30 });
    const raised = await b.admit(policy({ maxTotalTokens: 2000 }), 0, 0);
    await waitUntil(async () => (await b.admit(policy({ maxTotalTokens: 2000 }), 0, 0)).views[0].used.total === 50);
    expect(raised.admitted).toBe(true);
  });
});

describe('a connection quota under the service budget', () => {
  const service = (limits: Partial<BudgetPolicy>) => policy({ scope: 'service', ...limits });
  const quota = (connectionId: string, limits: Partial<BudgetPolicy>) => policy({ scope: 'connection', connectionId, ...limits });

  it('admits against both in one step; a refusal names the budget and takes nothing from the other', async () => {
    const b = budget({ degradedMode: 'fail-open' });
    await ready(b);
    const budgets = (connection: string) => [service({ maxTotalTokens: 100 }), quota(connection, { maxTotalTokens: 30 })];
    for (let i = 0; i < 3; i++) expect((await b.admit(budgets('noisy'), 10, 0)).admitted).toBe(true);
    const refused = await b.admit(budgets('noisy'), 10, 0);
    expect(refused).toMatchObject({ admitted: false, refusedBy: 'connection', refused: 'total', view: { used: { total: 30 } } });
    // The service budget kept only the three admitted requests: another connection still has 70.
    const other = await b.admit(budgets('quiet'), 30, 0);
    expect(other).toMatchObject({ admitted: true });
    if (other.admitted) expect(other.views.map((v) => v.used.total)).toEqual([60, 30]);
    for (let i = 0; i < 4; i++) expect((await b.admit(budgets(`c${i}`), 10, 0)).admitted).toBe(true);
    expect(await b.admit(budgets('c5'), 10, 0)).toMatchObject({ admitted: false, refusedBy: 'service', refused: 'total' });
  });

  it('a shadow budget admits everything and says what it would have refused', async () => {
    const b = budget();
    await ready(b);
    const budgets = [service({ maxTotalTokens: 1000 }), quota('trial', { maxTotalTokens: 15, shadow: true })];
    const first = await b.admit(budgets, 10, 0);
    expect(first).toMatchObject({ admitted: true, wouldHaveRefused: null });
    const second = await b.admit(budgets, 10, 0);
    expect(second).toMatchObject({ admitted: true, wouldHaveRefused: { scope: 'connection', dimension: 'total' } });
    if (second.admitted) expect(second.views.map((v) => v.used.total)).toEqual([20, 20]);
  });

  it('concurrent bursts from two proxies never admit more than either budget', async () => {
    const environment = `burst-${randomBytes(4).toString('hex')}`;
    const [a, b] = [budget({ environment, proxyId: 'a' }), budget({ environment, proxyId: 'b' })];
    await Promise.all([ready(a), ready(b)]);
    const connections = ['x', 'y'];
    const results = await Promise.all(
      Array.from({ length: 400 }, (_, i) => {
        const connection = connections[i % 2];
        return (i % 3 ? a : b).admit([service({ maxTotalTokens: 1000 }), quota(connection, { maxTotalTokens: 600 })], 7, 0).then((r) => ({ connection, admitted: r.admitted }));
      }),
    );
    const admitted = (connection?: string) => results.filter((r) => r.admitted && (connection === undefined || r.connection === connection)).length * 7;
    expect(admitted()).toBeLessThanOrEqual(1000);
    expect(admitted('x')).toBeLessThanOrEqual(600);
    expect(admitted('y')).toBeLessThanOrEqual(600);
  });
});

async function waitUntil(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('condition not met');
}

describe('Redis away', () => {
  let port: number;
  let server: ChildProcess | null = null;

  async function startRedis(): Promise<void> {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => 20, maxRetriesPerRequest: null, connectTimeout: 200 });
    await probe.connect().catch(() => undefined);
    await probe.ping();
    probe.disconnect();
  }

  async function stopRedis(): Promise<void> {
    const running = server;
    if (!running) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill('SIGKILL');
    });
    server = null;
  }

  beforeAll(async () => {
    port = await freePort();
    await startRedis();
  });
  afterAll(stopRedis);

  it('serves on local counters while Redis is down, then pushes exactly what it counted to a restarted (empty) Redis', async () => {
    const transitions: boolean[] = [];
    const b = budget({ redisUrl: `redis://127.0.0.1:${port}`, environment: 'prod', degradedMode: 'fail-open', localShare: 0.5, onDegradedChange: (d) => transitions.push(d) });
    await ready(b);
    transitions.length = 0; // a budget created before its first connection starts degraded for a moment
    const limits = policy({ maxTotalTokens: 1000 });
    const before = await b.admit(limits, 100, 0);
    if (!before.admitted) throw new Error('expected admission');
    await b.settle(before.reservation, { prompt: 100, completion: 50 }); // Redis: 150

    await stopRedis();
    const during = [];
    for (let i = 0; i < 3; i++) {
      const result = await b.admit(limits, 100, 0);
      if (!result.admitted) throw new Error('expected a local admission');
      expect(result.reservation.where).toBe('local');
      during.push(result);
    }
    expect(b.degraded).toBe(true);
    // Local share: 500 of the 1000; seeded with half the 150 Redis had seen (75): 75 + 3×100 = 375 ≤ 500, and a 4th of 200 is refused.
    expect((await b.admit(limits, 200, 0)).admitted).toBe(false);
    for (const result of during) if (result.admitted) await b.settle(result.reservation, { prompt: 60, completion: 20 });

    await startRedis();
    await waitUntil(async () => !b.degraded);
    expect(transitions).toEqual([true, false]);
    const redis = new Redis(port, '127.0.0.1');
    const key = (await redis.keys('tokengate:rl:{prod:svc}:MINUTE:*'))[0];
    const counters = await redis.hgetall(key);
    redis.disconnect();
    // 150 before the outage + 3 × 80 during it: nothing lost, nothing doubled.
    expect(counters).toMatchObject({ p: String(100 + 3 * 60), c: String(50 + 3 * 20), t: String(150 + 3 * 80) });
  });

  it('leases: while Redis is down a proxy spends only its lease, one without a lease admits nothing, and Redis gets exactly what was admitted', async () => {
    const environment = `lease-${randomBytes(4).toString('hex')}`;
    const url = `redis://127.0.0.1:${port}`;
    const [a, b] = [budget({ redisUrl: url, environment, proxyId: 'a', leaseShare: 0.1 }), budget({ redisUrl: url, environment, proxyId: 'b', leaseShare: 0.1 })];
    await Promise.all([ready(a), ready(b)]);
    const limits = policy({ maxTotalTokens: 1000 });
    const first = await a.admit(limits, 100, 0); // a holds a lease of 100 (10%) from now on
    expect(first).toMatchObject({ admitted: true });

    await stopRedis();
    let admittedDuring = 0;
    for (let i = 0; i < 20; i++) {
      const result = await a.admit(limits, 30, 0);
      if (result.admitted) admittedDuring += 30;
    }
    expect(a.degraded).toBe(true);
    expect(admittedDuring).toBe(90); // three of 30 fit its lease of 100
    const without = await b.admit(limits, 1, 0);
    expect(without).toMatchObject({ admitted: false, unavailable: true, refusedBy: 'service', retryAfterSeconds: 1 });

    await startRedis(); // empty: both proxies push what they know
    await waitUntil(async () => !a.degraded);
    const redis = new Redis(port, '127.0.0.1');
    const key = (await redis.keys(`tokengate:rl:{${environment}:svc}:MINUTE:*`))[0];
    const counters = await redis.hgetall(key);
    redis.disconnect();
    expect(Number(counters.t)).toBe(100 + admittedDuring);
    // What is left of a's lease is set aside for it again: 100 − 90 = 10.
    expect(Number(counters.LT)).toBe(10);
  });

  it('leases: a connection quota is held to its own lease while Redis is down, and reconciled like the service budget', async () => {
    const environment = `quota-lease-${randomBytes(4).toString('hex')}`;
    const b = budget({ redisUrl: `redis://127.0.0.1:${port}`, environment, proxyId: 'a', leaseShare: 0.1 });
    await ready(b);
    const budgets = [policy({ maxTotalTokens: 10_000 }), policy({ scope: 'connection', connectionId: 'app', maxTotalTokens: 1000 })];
    expect(await b.admit(budgets, 100, 0)).toMatchObject({ admitted: true }); // leases: 1,000 of the service, 100 of the quota

    await stopRedis();
    let admittedDuring = 0;
    for (let i = 0; i < 10; i++) if ((await b.admit(budgets, 30, 0)).admitted) admittedDuring += 30;
    expect(admittedDuring).toBe(90); // the quota's lease decides
    expect(await b.admit(budgets, 30, 0)).toMatchObject({ admitted: false, refusedBy: 'connection', unavailable: true });

    await startRedis();
    await waitUntil(async () => !b.degraded);
    const redis = new Redis(port, '127.0.0.1');
    const [quotaKey] = await redis.keys(`tokengate:rl:{${environment}:svc}:c:app:MINUTE:*`);
    const [serviceKey] = await redis.keys(`tokengate:rl:{${environment}:svc}:MINUTE:*`);
    const [quota, service] = [await redis.hgetall(quotaKey), await redis.hgetall(serviceKey)];
    redis.disconnect();
    expect(Number(quota.t)).toBe(190);
    expect(Number(service.t)).toBe(190);
  });
});

/**
 * A TCP hop to the shared Redis whose answers can be held back: commands still reach Redis and run,
 * but the proxy sees a timeout — the case where it cannot know whether a command landed.
 */
async function startAnswerGate(): Promise<{ url: string; hold(): void; release(): void; close(): Promise<void> }> {
  const target = new URL(REDIS_URL);
  let holding = false;
  const held: Array<() => void> = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = new Socket();
    sockets.add(client).add(upstream);
    upstream.connect(Number(target.port || 6379), target.hostname);
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    upstream.on('data', (chunk: Buffer) => (holding ? held.push(() => client.write(chunk)) : client.write(chunk)));
    for (const socket of [client, upstream]) socket.on('error', () => undefined).on('close', () => (socket === client ? upstream : client).destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as { port: number }).port}`,
    hold: () => void (holding = true),
    release: () => {
      holding = false;
      for (const send of held.splice(0)) send();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('answers that do not arrive in time', () => {
  const environment = () => `gate-${randomBytes(4).toString('hex')}`;
  const readCounters = async (env: string) => {
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`tokengate:rl:{${env}:svc}:MINUTE:*`);
    const counters = keys.length ? await redis.hgetall(keys[0]) : {};
    redis.disconnect();
    return { p: Number(counters.p ?? 0), c: Number(counters.c ?? 0), t: Number(counters.t ?? 0) };
  };

  /** A budget whose Redis answers pass through `gate`; the gate is closed afterwards. */
  type GateTest = (gate: Awaited<ReturnType<typeof startAnswerGate>>, b: TokenBudget, env: string) => Promise<void>;
  async function throughGate(...args: [GateTest] | [Partial<TokenBudgetOptions>, GateTest]): Promise<void> {
    const [options, test] = args.length === 1 ? [{}, args[0]] : args;
    const gate = await startAnswerGate();
    const env = environment();
    const b = budget({ redisUrl: gate.url, environment: env, commandTimeoutMs: 50, ...options });
    try {
      await ready(b);
      await test(gate, b, env);
    } finally {
      await gate.close();
    }
  }

  it('a reservation that landed although it timed out is counted once, as the proxy decided', () =>
    // fail-open: with leases a request this small would be admitted out of the lease, never asking Redis.
    throughGate({ degradedMode: 'fail-open' }, async (gate, b, env) => {
      await b.admit(policy({ maxTotalTokens: 10_000 }), 0, 0);
      gate.hold();
      // Redis runs this reservation, the proxy times out and admits it on local counters instead.
      const admitted = await b.admit(policy({ maxTotalTokens: 10_000 }), 100, 20);
      expect(admitted).toMatchObject({ admitted: true, reservation: { where: 'local' } });
      await waitUntil(async () => (await readCounters(env)).t === 120); // it did land
      gate.release();
      await waitUntil(async () => !b.degraded);
      if (!admitted.admitted) throw new Error('expected admission');
      await b.settle(admitted.reservation, { prompt: 90, completion: 10 });
      // Once, with the reported usage — not the reservation twice (Redis's and the local one pushed).
      await waitUntil(async () => (await readCounters(env)).t === 100);
      expect(await readCounters(env)).toEqual({ p: 90, c: 10, t: 100 });
    }));

  it('without a lease, a slow Redis costs the request time, not a refusal: its late answer decides', () =>
    throughGate(async (gate, b, env) => {
      gate.hold();
      setTimeout(() => gate.release(), 200); // four times the command timeout
      const admitted = await b.admit(policy({ maxTotalTokens: 10_000 }), 100, 20);
      expect(admitted).toMatchObject({ admitted: true, reservation: { where: 'redis' } });
      await waitUntil(async () => !b.degraded);
      expect(await readCounters(env)).toEqual({ p: 100, c: 20, t: 120 });
      // The late answer carried this proxy's new lease: it is kept (and reconciled), so the next small
      // request is admitted out of it, without Redis, even while Redis's answers wait again.
      gate.hold();
      expect(await b.admit(policy({ maxTotalTokens: 10_000 }), 10, 5)).toMatchObject({ admitted: true, reservation: { where: 'lease' } });
      gate.release();
    }));

  it('admits out of its lease without asking Redis, and Redis hears of every such admission', () =>
    throughGate(async (gate, b, env) => {
      await b.admit(policy({ maxTotalTokens: 10_000 }), 0, 0); // takes this proxy's lease of the window (500)
      gate.hold(); // Redis's answers wait: an admission that asked Redis would time out (50 ms)
      const admissions = [];
      for (let i = 0; i < 20; i++) admissions.push(await b.admit(policy({ maxTotalTokens: 10_000 }), 15, 10));
      // One that had asked Redis would have timed out into the degraded mode and a 'local' admission.
      expect(b.degraded).toBe(false);
      for (const admission of admissions) expect(admission).toMatchObject({ admitted: true, reservation: { where: 'lease' } });
      gate.release();
      await waitUntil(async () => !b.degraded && (await readCounters(env)).t === 500);
      expect(await readCounters(env)).toEqual({ p: 300, c: 200, t: 500 });
    }));

  it('a lease admission is told to Redis in one flush per window, and its lease is topped up', async () => {
    const env = `flush-${randomBytes(4).toString('hex')}`;
    const b = budget({ environment: env });
    await ready(b);
    const limits = policy({ maxTotalTokens: 10_000 });
    await b.admit(limits, 0, 0);
    const admissions = await Promise.all(Array.from({ length: 30 }, () => b.admit(limits, 10, 5)));
    expect(admissions.filter((a) => a.admitted && a.reservation.where === 'lease')).toHaveLength(30);
    const redis = new Redis(REDIS_URL);
    try {
      const key = (await redis.keys(`tokengate:rl:{${env}:svc}:MINUTE:*`))[0];
      await waitUntil(async () => Number(await redis.hget(key, 't')) === 450);
      // Admitted tokens moved from the lease to used, then the lease was topped up to 5% again.
      await waitUntil(async () => Number(await redis.hget(key, 'LT')) === 500);
      for (const admission of admissions) if (admission.admitted) await b.settle(admission.reservation, { prompt: 10, completion: 0 });
      await waitUntil(async () => Number(await redis.hget(key, 't')) === 300);
      expect(await redis.hmget(key, 'p', 'c', 't', 'LT')).toEqual(['300', '0', '300', '500']);
    } finally {
      redis.disconnect();
    }
  });

  it('under steady load, timed flushes leave at least 20 ms apart, and together carry every admission', async () => {
    const env = `spacing-${randomBytes(4).toString('hex')}`;
    const b = budget({ environment: env });
    await ready(b);
    const limits = policy({ maxTotalTokens: 1_000_000_000 }); // a lease of 50,000,000: never low here
    await b.admit(limits, 0, 0); // takes this proxy's lease of the window
    const observer = new Redis(REDIS_URL);
    const monitor = await observer.monitor();
    const flushes: number[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if ((args[0] === 'evalsha' || args[0] === 'eval') && args.some((arg) => arg.includes(`{${env}:`))) flushes.push(performance.now());
    });
    try {
      // Admissions out of the lease, each in its own event-loop turn, for 300 ms.
      const started = performance.now();
      let admitted = 0;
      while (performance.now() - started < 300) {
        expect(b.admitNow(limits, 10, 5)).toMatchObject({ admitted: true, reservation: { where: 'lease' } });
        admitted++;
        await new Promise((resolve) => setImmediate(resolve));
      }
      const elapsed = performance.now() - started;
      const redis = new Redis(REDIS_URL);
      try {
        const key = (await redis.keys(`tokengate:rl:{${env}:svc}:MINUTE:*`))[0];
        await waitUntil(async () => Number(await redis.hget(key, 't')) === admitted * 15);
      } finally {
        redis.disconnect();
      }
      // n flushes at least 20 ms apart (19: timers run on the event loop's millisecond clock) span
      // 19 × (n - 1) ms, within the loop's time and the last flush after it. 5 ms apart (the delay a
      // change may wait) would be about 60 flushes.
      expect(flushes.length).toBeGreaterThan(0);
      expect(flushes.length).toBeLessThanOrEqual(Math.floor((elapsed + 20) / 19) + 1);
    } finally {
      monitor.disconnect();
      observer.disconnect();
    }
  });

  it('a reconciliation asked for while Redis answers (a probe whose PING came back after the mode was left) counts nothing twice', async () => {
    const env = `probe-${randomBytes(4).toString('hex')}`;
    const b = budget({ environment: env });
    await ready(b);
    const limits = policy({ maxTotalTokens: 10_000 });
    await b.admit(limits, 0, 0); // takes this proxy's lease of the window
    const admitted = await b.admit(limits, 60, 15);
    expect(admitted).toMatchObject({ admitted: true, reservation: { where: 'lease' } });
    // What the probe's late answer does: its flush (within 5 ms) is still pending.
    await (b as unknown as { sync(): Promise<void> }).sync();
    if (!admitted.admitted) throw new Error('expected admission');
    await b.settle(admitted.reservation, { prompt: 11, completion: 7 });
    const redis = new Redis(REDIS_URL);
    try {
      const key = (await redis.keys(`tokengate:rl:{${env}:svc}:MINUTE:*`))[0];
      await waitUntil(async () => Number(await redis.hget(key, 't')) === 18);
      await new Promise((resolve) => setTimeout(resolve, 50)); // every flush has landed
      expect(await redis.hmget(key, 'p', 'c', 't')).toEqual(['11', '7', '18']);
    } finally {
      redis.disconnect();
    }
  });

  it('closing while a lease admission waits to be flushed tells Redis of it once', () =>
    throughGate(async (gate, b, env) => {
      await b.admit(policy({ maxTotalTokens: 10_000 }), 0, 0); // takes this proxy's lease of the window
      expect(await b.admit(policy({ maxTotalTokens: 10_000 }), 15, 10)).toMatchObject({ admitted: true, reservation: { where: 'lease' } });
      gate.hold(); // the closing reconciliation's answer waits past the 5 ms a flush may wait
      const closing = b.close();
      await new Promise((resolve) => setTimeout(resolve, 30));
      gate.release();
      await closing;
      expect(await readCounters(env)).toEqual({ p: 15, c: 10, t: 25 });
    }));

  it('a correction of a local admission that settles after Redis is back still reaches Redis', () =>
    throughGate(async (gate, b, env) => {
      await b.admit(policy({ maxTotalTokens: 10_000 }), 0, 0); // takes this proxy's lease of the window
      gate.hold();
      const local = await b.admit(policy({ maxTotalTokens: 10_000 }), 300, 200);
      if (!local.admitted) throw new Error('expected admission');
      gate.release();
      await waitUntil(async () => !b.degraded);
      await b.settle(local.reservation, { prompt: 250, completion: 40 });
      expect(await readCounters(env)).toEqual({ p: 250, c: 40, t: 290 });
    }));

  it('a correction that times out is reconciled once, whether or not it landed', () =>
    throughGate(async (gate, b, env) => {
      const first = await b.admit(policy({ maxTotalTokens: 10_000 }), 100, 100);
      if (!first.admitted) throw new Error('expected admission');
      gate.hold();
      await b.settle(first.reservation, { prompt: 70, completion: 5 });
      expect(b.degraded).toBe(true);
      gate.release();
      await waitUntil(async () => !b.degraded);
      expect(await readCounters(env)).toEqual({ p: 70, c: 5, t: 75 });
    }));
});
