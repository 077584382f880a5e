// A proxy shutting down lets open exchanges finish for its grace period, then cuts what is left. The
// streams it cuts were billed by the provider for what they streamed: they are counted and reported
// before the proxy's token counter and usage reporter close. They were lost: close() closed the
// counter right after cutting them, so their counts failed ("the token counter is closed") and they
// were never recorded, and their reservations stood.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startDataPlane } from '../../data-plane/src/main';
import { silentLogger } from '../../data-plane/src/observability/logger';
import { FakeConfigServer } from '../support/data-plane/fake-config-server';
import { consumerKeyFixture, rateLimitFixture, serviceFixture, snapshotFixture } from '../support/data-plane/snapshot-fixtures';

const KEY = 'tgk_shutdown_cut_streams_01';

/** An OpenAI-style stream that never ends (one "word" per event) and reports no usage. */
async function endlessStreamUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = `data: ${JSON.stringify({ id: 'chatcmpl-endless', object: 'chat.completion.chunk', model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: 'word ' } }] })}\n\n`;
    const timer = setInterval(() => res.write(chunk), 10);
    res.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe.each([
  ['without limits', null],
  ['rate-limited', rateLimitFixture({ max_total_tokens: '1000000' })],
])('a stream still open when the shutdown grace period ends (%s)', (_name, rateLimit) => {
  it('is cut, then counted and reported once before the proxy exits', async () => {
    const upstream = await endlessStreamUpstream();
    const config = await FakeConfigServer.start({
      initialSnapshot: snapshotFixture({ revision: 1, services: [serviceFixture({ id: 'chat', context_path: '/chat', upstream_url: upstream.url, rate_limit: rateLimit })], consumerKeys: [consumerKeyFixture(KEY, 'chat')] }),
    });
    const proxy = await startDataPlane({
      environment: 'test',
      controlPlane: { address: config.address },
      port: 0,
      logger: silentLogger(),
      usageReportIntervalMs: 20,
      // The stream never ends: it is always still open when this is over.
      shutdownGraceMs: 200,
      rateLimiting: rateLimit === null ? null : { redisNamespace: `shutdown-cut-${process.pid}-${Date.now()}` },
    });
    try {
      await proxy.waitForRevision(1n);
      let words = 0;
      let clientClosed: Promise<void> = Promise.resolve();
      await new Promise<void>((resolve, reject) => {
        const request = http.request(`${proxy.url}/acme/chat/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' } }, (res) => {
          res.on('data', (data: Buffer) => {
            words += data.toString().split('word').length - 1;
            if (words >= 5) resolve();
          });
          res.on('error', () => undefined);
          clientClosed = new Promise((closed) => res.on('close', closed));
        });
        request.on('error', reject);
        request.end(JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'count forever' }] }));
      });
      await proxy.close();
      await clientClosed;
      const records = config.usageBatches.all.flatMap((batch) => batch.records);
      expect(records).toHaveLength(1);
      expect(records[0].requests).toBe('1');
      expect(Number(records[0].prompt_tokens)).toBeGreaterThan(0);
      // At least what reached the client: the proxy relays only what it has observed.
      expect(Number(records[0].completion_tokens)).toBeGreaterThanOrEqual(words);
    } finally {
      await proxy.close();
      await config.stop();
      await upstream.close();
    }
  });
});
