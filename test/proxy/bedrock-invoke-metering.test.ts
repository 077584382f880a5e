// Bedrock InvokeModel and InvokeModelWithResponseStream (what @anthropic-ai/bedrock-sdk and LangChain's
// legacy Bedrock chat model call) are metered as Bedrock billed them, cache counts included: the JSON
// answer's token-count headers, and the stream's last chunk's `amazon-bedrock-invocationMetrics`.
import { BedrockRuntimeClient, InvokeModelCommand, InvokeModelWithResponseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import type { FakeUsage } from '../fakes';
import { type Gateway, startGateway } from '../support/gateway-harness';
import { meteredBy } from '../support/usage-report';

const MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';
const BILLED: Required<FakeUsage> = { prompt: 4561, completion: 58, cachedRead: 1024, cachedWrite: 512, reasoning: 0 };
const CLAUDE_BILLED = { promptTokens: BILLED.prompt, completionTokens: BILLED.completion, cachedPromptReadTokens: BILLED.cachedRead, cachedPromptWriteTokens: BILLED.cachedWrite, reasoningTokens: 0 };

let gw: Gateway;

beforeAll(async () => {
  gw = await startGateway({ rateLimiting: { usageReportIntervalMs: 100 } });
});
afterAll(async () => {
  await gw?.stop();
});

const bedrock = () =>
  new BedrockRuntimeClient({ endpoint: gw.services.bedrock.endpoint, region: 'us-east-1', token: { token: gw.services.bedrock.key }, authSchemePreference: ['httpBearerAuth'], maxAttempts: 1 });
const body = JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 100, messages: [{ role: 'user', content: 'Summarize the quarterly report.' }] });

beforeEach(() => {
  gw.fakes.bedrock.reset();
  gw.fakes.bedrock.behaviour.usage = { ...BILLED };
});

it('InvokeModel (JSON, counts in headers) is metered as billed', async () => {
  const row = await meteredBy(gw, 'bedrock', async () => {
    const reply = await bedrock().send(new InvokeModelCommand({ modelId: MODEL, body, contentType: 'application/json', accept: 'application/json' }));
    expect((JSON.parse(Buffer.from(reply.body).toString()) as { usage: { cache_read_input_tokens: number } }).usage.cache_read_input_tokens).toBe(BILLED.cachedRead);
  });
  expect(row).toMatchObject({ operation: 'invoke', requestModel: MODEL, requests: 1, ...CLAUDE_BILLED });
});

it('InvokeModelWithResponseStream is metered from the invocation metrics of its last chunk', async () => {
  const row = await meteredBy(gw, 'bedrock', async () => {
    const reply = await bedrock().send(new InvokeModelWithResponseStreamCommand({ modelId: MODEL, body, contentType: 'application/json', accept: 'application/json' }));
    let text = '';
    let metrics: { inputTokenCount?: number } | undefined;
    for await (const event of reply.body ?? []) {
      const chunk = JSON.parse(Buffer.from(event.chunk?.bytes ?? new Uint8Array()).toString()) as { delta?: { text?: string }; 'amazon-bedrock-invocationMetrics'?: { inputTokenCount: number } };
      text += chunk.delta?.text ?? '';
      metrics = chunk['amazon-bedrock-invocationMetrics'] ?? metrics;
    }
    expect(text).toBe('Hello from the fake');
    expect(metrics?.inputTokenCount).toBe(BILLED.prompt - BILLED.cachedRead - BILLED.cachedWrite);
  });
  expect(row).toMatchObject({ operation: 'invoke_stream', requestModel: MODEL, requests: 1, ...CLAUDE_BILLED });
});
