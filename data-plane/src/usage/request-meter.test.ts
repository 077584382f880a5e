// What a request is charged when the proxy must count it and the tokenizer cannot.
import type { UsageBatchMessage } from '../config-stream/wire-types';
import { silentLogger } from '../observability/logger';
import { SnapshotCompiler } from '../snapshot/snapshot-compiler';
import { UpstreamAgentPool } from '../snapshot/upstream-target';
import type { TokenCounter } from '../tokens/token-counter';
import { TokenCounterError } from '../tokens/token-counter';
import { consumerKeyFixture, serviceFixture, snapshotFixture } from '../../../test/support/data-plane/snapshot-fixtures';
import { RequestMeter } from './request-meter';
import { UsageReporter } from './usage-reporter';

const KEY = 'tgk_request_meter_unit_01';

/** A token counter whose worker has crashed: every count fails. */
const failingCounter = {
  countPrompt: () => Promise.reject(new TokenCounterError('the token counter worker exited with code 1')),
  countText: () => Promise.reject(new TokenCounterError('the token counter worker exited with code 1')),
} as unknown as TokenCounter;

describe('a request the provider answered without usage, when the token counter fails', () => {
  it('is still recorded once, with an estimate of its tokens', async () => {
    const pool = new UpstreamAgentPool();
    const snapshot = new SnapshotCompiler({ environment: 'test', agentPool: pool }).compile(
      snapshotFixture({ revision: 1, services: [serviceFixture({ id: 'chat' })], consumerKeys: [consumerKeyFixture(KEY, 'chat')] }),
    );
    const batches: UsageBatchMessage[] = [];
    const reporter = new UsageReporter({ deliver: (batch) => batches.push(batch), proxyId: 'unit', intervalMs: 3_600_000 });
    try {
      const service = snapshot.services.get('chat');
      const grant = snapshot.consumerKeys.lookup(KEY);
      if (service === undefined || grant === undefined) throw new Error('fixture did not compile');
      const meter = new RequestMeter({ budget: null, counter: failingCounter, reporter, defaultCompletionTokens: 256, logger: silentLogger() }, service, grant, '/chat/completions');
      const body = Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'twelve bytes' }] }));
      expect(meter.prepare(body, 'application/json', '')).toBeNull();
      const observer = meter.observe(200, { 'content-type': 'text/event-stream' });
      // A stream cut before its usage chunk (the client left): 16 bytes of completion text.
      const event = (text: string) => Buffer.from(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: text } }] })}\n\n`);
      observer.write(event('sixteen '));
      observer.write(event('bytes ok'));
      const settled = await meter.finish(200, 499);
      // The body as sent upstream (stream_options added): ~4 bytes a token.
      const prompt = Math.ceil((meter.prepared?.body.length ?? 0) / 4);
      expect(prompt).toBeGreaterThan(0);
      expect(settled).toEqual({ responseModel: 'gpt-4o-mini', usage: { promptTokens: prompt, completionTokens: 4 } });
      reporter.close();
      const records = batches.flatMap((batch) => batch.records);
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ requests: '1', prompt_tokens: String(prompt), completion_tokens: '4', errors_4xx: '1' });
    } finally {
      reporter.close();
      pool.destroyAll();
    }
  });
});
