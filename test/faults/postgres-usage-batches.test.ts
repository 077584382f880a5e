// A usage batch that reaches the control plane while PostgreSQL is unreachable cannot be stored: the
// stream ends with UNAVAILABLE (retry), not INVALID_ARGUMENT (the proxy sent something wrong). The
// proxy keeps the batch, says why it lost the stream, reconnects, and re-sends it once the database is
// back: counted once. A truly malformed message still ends its stream with INVALID_ARGUMENT.
import OpenAI from 'openai';
import { status } from '@grpc/grpc-js';
import { connectDeltaPeer } from '../config-stream/delta-peer';
import { type TestControlPlane, startTestControlPlane } from '../support/control-plane-harness';
import { freePort } from '../support/free-port';
import { type MeteredApp, seedMeteredOpenAIApp, storedUsage } from '../support/metered-app';
import { PrivatePostgres } from '../support/postgres-server';
import { type RunningProcess, runCli } from '../support/processes';
import { waitFor } from '../support/wait';

const PROMPT = 20;
const COMPLETION = 10;

let pg: PrivatePostgres;
let cp: TestControlPlane;
let app: MeteredApp;
let proxy: RunningProcess | undefined;

beforeAll(async () => {
  pg = await PrivatePostgres.start();
  cp = await startTestControlPlane({ TOKENGATE_REVISION_POLL_MS: '500' }, undefined, { database: await pg.migratedDatabase() });
  app = await seedMeteredOpenAIApp(cp, { prompt: PROMPT, completion: COMPLETION });
});
afterAll(async () => {
  await proxy?.stop('SIGKILL');
  await cp?.stop();
  await app?.upstream.close();
  pg?.dispose();
});

async function reportedRequests(): Promise<number> {
  return (await storedUsage(cp, app)).requests;
}

it('a usage batch the control plane cannot store ends the stream with UNAVAILABLE, saying so without the driver detail', async () => {
  const peer = connectDeltaPeer(cp.grpcAddress, cp.dataPlaneToken, { proxyId: 'raw-peer', environment: 'production' });
  try {
    await peer.nth(0);
    await pg.stop('fast');
    // Even an empty batch is stored (its id, so that a re-send is applied once): it needs the database.
    peer.write({ usage: { batch_id: 'raw-peer:1', records: [] } });
    const error = await waitFor(() => peer.error, 'the stream to end', 30_000);
    expect({ code: error.code, details: error.details }).toEqual({ code: status.UNAVAILABLE, details: expect.stringMatching(/could not store/) });
    expect(error.details).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|invalid/i);
  } finally {
    peer.close();
    if (!pg.running) await pg.start();
  }
});

it('a real proxy keeps the batch through the outage, logs the retryable status, and its usage is counted once when PostgreSQL is back', async () => {
  const port = await freePort();
  proxy = runCli(['data-plane', '--environment', 'production', '--port', String(port), '--control-plane', cp.grpcAddress, '--proxy-id', 'proxy-outage', '--log-level', 'warn'], {
    TOKENGATE_DATAPLANE_TOKEN: cp.dataPlaneToken,
    TOKENGATE_REDIS_NAMESPACE: cp.redisNamespace,
    TOKENGATE_USAGE_REPORT_INTERVAL_MS: '100',
  });
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.status === 200, 'the proxy to be ready', 30_000);
  const before = await reportedRequests();

  await pg.stop('fast');
  const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/acme/openai`, apiKey: app.key, maxRetries: 0 });
  const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
  expect(completion.usage?.prompt_tokens).toBe(PROMPT);
  // The batch reaches the control plane, which cannot store it and says so with a retryable status.
  const [closed] = await proxy.waitFor(/.*config stream closed.*/, 30_000);
  expect(closed).toMatch(/"reason":"UNAVAILABLE: /);
  await waitFor(() => cp.logLines.some((line) => line.includes('could not store')), 'the control plane to log the storage failure');

  await pg.start();
  await waitFor(async () => (await reportedRequests()) === before + 1, 'the re-sent batch to be stored', 60_000);
  // Counted once, and nothing along the way claimed the proxy sent something wrong.
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(await reportedRequests()).toBe(before + 1);
  expect(proxy.output()).not.toMatch(/INVALID_ARGUMENT/);
  expect(cp.logLines.filter((line) => line.includes('INVALID_ARGUMENT'))).toEqual([]);
});

it('a malformed message still ends its stream with INVALID_ARGUMENT', async () => {
  if (!pg.running) await pg.start(); // only after a failure of the previous test
  const peer = connectDeltaPeer(cp.grpcAddress, cp.dataPlaneToken, { proxyId: 'twice-hello', environment: 'production' });
  try {
    await peer.nth(0, 30_000);
    peer.write({ hello: { proxy_id: 'twice-hello', environment: 'production', version: 'test', last_applied_revision: '0', accepts_deltas: true } });
    const error = await waitFor(() => peer.error, 'the stream to end');
    expect({ code: error.code, details: error.details }).toEqual({ code: status.INVALID_ARGUMENT, details: 'a second Hello on one stream' });
  } finally {
    peer.close();
  }
});
