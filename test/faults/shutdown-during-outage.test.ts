// Stopping while Redis is down: a `tokengate worker` answers SIGTERM, a control plane (with its
// in-process worker) stops, and the rollout queue and worker leave nothing behind that keeps a
// process alive. BullMQ alone cannot do this (Worker.close() waits for a reconnecting client:
// taskforcesh/bullmq#4656); the only pass condition on time is "did not hang".
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane-harness';
import { createTestDatabase } from '../support/database';
import { REPO_ROOT, runCli } from '../support/processes';
import { PrivateRedis } from '../support/redis-server';
import { waitFor, withinBound } from '../support/wait';

/** Generous: a forced close takes about 2 s; a hang is forever. */
const EXIT_BOUND_MS = 15_000;
/** The rollout worker's own log line once it has failed to reconnect: it knows Redis is away. */
const WORKER_LOST_REDIS = /"err":"connect ECONNREFUSED[^"]*","msg":"rollout worker error"/;

let redis: PrivateRedis;

beforeAll(async () => {
  redis = await PrivateRedis.start();
});
afterAll(async () => {
  await redis?.stop();
});
beforeEach(async () => {
  if (!redis.running) await redis.start();
});

it('`tokengate worker` exits 0 on SIGTERM while Redis is down', async () => {
  const database = await createTestDatabase();
  const worker = runCli(['worker'], {
    DATABASE_URL: database.url,
    REDIS_URL: redis.url,
    TOKENGATE_REDIS_NAMESPACE: `tg-test-${randomBytes(4).toString('hex')}`,
    TOKENGATE_SECRET_KEY: randomBytes(32).toString('base64'),
    TOKENGATE_DATAPLANE_TOKEN: `tgd_${randomBytes(16).toString('hex')}`,
    TOKENGATE_LOG_LEVEL: 'debug',
    TOKENGATE_WORKER_PORT: '0',
  });
  try {
    await worker.waitFor(/worker metrics listening/);
    await redis.stop();
    await worker.waitFor(WORKER_LOST_REDIS);
    const code = await withinBound(worker.stop('SIGTERM'), 'the worker exiting on SIGTERM with Redis down', EXIT_BOUND_MS);
    expect(code).toBe(0);
    expect(worker.output()).toMatch(/"msg":"Redis is unreachable: rollouts in flight were not waited for/);
    expect(worker.output()).toMatch(/"shutdown":"redis-unreachable","msg":"rollout worker stopped"/);
  } finally {
    await worker.stop('SIGKILL');
    await database.drop();
  }
});

it('a control plane with an in-process worker stops while Redis is down', async () => {
  let cp: TestControlPlane | undefined = await startTestControlPlane({ REDIS_URL: redis.url, TOKENGATE_INPROCESS_WORKER: 'true' });
  try {
    await redis.stop();
    const plane = cp;
    await waitFor(() => plane.logLines.some((line) => WORKER_LOST_REDIS.test(line)), 'the in-process worker to notice Redis is away');
    await withinBound(cp.stop(), 'the control plane stopping with Redis down', EXIT_BOUND_MS);
    const stopped = cp.logLines.map((line) => JSON.parse(line) as { msg: string; shutdown?: string });
    expect(stopped).toContainEqual(expect.objectContaining({ msg: 'rollout worker stopped', shutdown: 'redis-unreachable' }));
    expect(stopped.map((line) => line.msg)).not.toContain('shutdown step failed');
    cp = undefined;
  } finally {
    // Only after a failure above: with Redis back, the rest can still be stopped.
    if (cp) {
      await redis.start();
      await cp.stop();
    }
  }
});

it('the rollout queue and worker, closed while Redis is down, let their process exit on its own', async () => {
  // No process.exit() here: the process ends only when nothing (such as a Redis client that keeps
  // reconnecting) holds the event loop.
  const script = `
    const { pino } = require('pino');
    const { DeploymentEvents } = require('./dist/control-plane/src/deployment/deployment-events');
    const { RolloutScheduler } = require('./dist/control-plane/src/deployment/rollout-queue');
    const { RolloutWorker } = require('./dist/control-plane/src/deployment/rollout-worker');
    const { REDIS_URL: redisUrl, NAMESPACE: namespace } = process.env;
    const logger = pino({ level: 'debug' });
    const store = { unfinished: async () => [] };
    const events = new DeploymentEvents(redisUrl, namespace, logger);
    const scheduler = new RolloutScheduler(redisUrl, namespace, store, events, logger);
    scheduler.startSweeper(100);
    const worker = new RolloutWorker(store, events, logger, { redisUrl, namespace });
    (async () => {
      while ((await scheduler.queue.getWorkers()).length === 0) await new Promise((resolve) => setTimeout(resolve, 25));
      console.log('ready');
    })();
    process.once('SIGTERM', async () => {
      console.log('closing: worker ' + (await worker.close()));
      await scheduler.close();
      events.close();
      console.log('closed');
    });
  `;
  const child = spawn(process.execPath, ['-e', script], { cwd: REPO_ROOT, env: { ...process.env, REDIS_URL: redis.url, NAMESPACE: `tg-test-${randomBytes(4).toString('hex')}` } });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await withinBound(
      new Promise<void>((resolve, reject) => {
        child.stdout.on('data', () => /^ready$/m.test(output) && resolve());
        void exited.then(() => reject(new Error(`exited before it was ready:\n${output}`)));
      }),
      'the rollout queue and worker becoming ready',
    );
    await redis.stop();
    await waitFor(() => WORKER_LOST_REDIS.test(output), 'the worker to notice Redis is away');
    child.kill('SIGTERM');
    const code = await withinBound(exited, 'the process exiting on its own after closing with Redis down', EXIT_BOUND_MS).catch((error: Error) => {
      throw new Error(`${error.message}; output:\n${output}`);
    });
    expect(code).toBe(0);
    expect(output).toContain('closing: worker redis-unreachable');
    expect(output).toMatch(/^closed$/m);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});
