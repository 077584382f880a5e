// Calls whose token usage the provider reports other than in the body the proxy reads first, or not
// at all: each is charged what the provider reported (no estimate where it gave a count, nothing where
// it bills no tokens).
import { createAmazonBedrock } from '@ai-sdk/amazon-bedrock';
import { ApplyGuardrailCommand, BedrockRuntimeClient, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';
import { BedrockEmbeddings } from '@langchain/aws';
import { embed } from 'ai';
import { type Gateway, PROVIDER_SECRETS, HEALTHY_REDIS_TIMEOUT_MS, startGateway } from '../support/gateway-harness';
import { BILLED, PROMPT, prepare } from '../support/framework-calls';
import { meteredCall } from '../support/usage-report';
import { runMistralSdk } from '../fakes/mistral-sdk';

let gw: Gateway;

beforeAll(async () => {
  gw = await startGateway({ rateLimiting: { redisTimeoutMs: HEALTHY_REDIS_TIMEOUT_MS, usageReportIntervalMs: 100 } });
});
afterAll(async () => {
  await gw?.stop();
});

const EMBEDDING_CHARGED = { promptTokens: BILLED.prompt, completionTokens: 0, cachedPromptReadTokens: 0, cachedPromptWriteTokens: 0, reasoningTokens: 0 };
const COHERE = 'cohere.embed-english-v3';

const bedrockClient = () =>
  new BedrockRuntimeClient({ endpoint: gw.services.bedrock.endpoint, region: PROVIDER_SECRETS.awsRegion, token: { token: gw.services.bedrock.key }, authSchemePreference: ['httpBearerAuth'], maxAttempts: 1 });

describe('Cohere Embed on Bedrock: no count in the body, the input count in x-amzn-bedrock-input-token-count only', () => {
  beforeEach(() => prepare(gw.fakes.bedrock, { prompt: BILLED.prompt, completion: 0 }));

  it('InvokeModel (AWS SDK) is charged the reported input count', async () => {
    const client = bedrockClient();
    const { charged } = await meteredCall(gw, 'bedrock', () =>
      client.send(new InvokeModelCommand({ modelId: COHERE, body: JSON.stringify({ texts: [PROMPT, 'two'], input_type: 'search_document' }), contentType: 'application/json', accept: 'application/json' })));
    client.destroy();
    expect(charged).toMatchObject({ operation: 'invoke', requestModel: COHERE, requests: 1, ...EMBEDDING_CHARGED });
  });

  it('embed (Vercel AI SDK) is charged what the SDK reports to the app', async () => {
    const bedrock = createAmazonBedrock({ baseURL: gw.services.bedrock.endpoint, region: PROVIDER_SECRETS.awsRegion, apiKey: gw.services.bedrock.key });
    const { call, charged } = await meteredCall(gw, 'bedrock', async () => (await embed({ model: bedrock.embedding(COHERE), value: PROMPT, maxRetries: 0 })).usage);
    expect(call).toEqual({ tokens: BILLED.prompt });
    expect(charged).toMatchObject({ operation: 'invoke', requestModel: COHERE, requests: 1, ...EMBEDDING_CHARGED });
  });

  it('BedrockEmbeddings (LangChain) is charged the reported input count', async () => {
    const client = bedrockClient();
    const embeddings = new BedrockEmbeddings({ model: COHERE, region: PROVIDER_SECRETS.awsRegion, client });
    const { charged } = await meteredCall(gw, 'bedrock', () => embeddings.embedQuery(PROMPT).catch(() => null));
    client.destroy();
    expect(charged).toMatchObject({ operation: 'invoke', requestModel: COHERE, requests: 1, ...EMBEDDING_CHARGED });
  });
});

it('ApplyGuardrail (billed in policy text units, no tokens) is charged no tokens, its blocked message no completion', async () => {
  prepare(gw.fakes.bedrock);
  const client = bedrockClient();
  const { call, charged } = await meteredCall(gw, 'bedrock', () =>
    client.send(new ApplyGuardrailCommand({ guardrailIdentifier: 'gr-0123abcd', guardrailVersion: '1', source: 'INPUT', content: [{ text: { text: `${PROMPT} ${'Should I buy this stock? '.repeat(40)}` } }] })));
  client.destroy();
  expect(call.action).toBe('GUARDRAIL_INTERVENED');
  expect(gw.fakes.bedrock.received[0].path).toBe('/guardrail/gr-0123abcd/version/1/apply');
  expect(charged).toMatchObject({ operation: 'apply_guardrail', requests: 1, promptTokens: 0, completionTokens: 0 });
});

describe('Mistral OCR (billed per page, usage_info in pages, no tokens)', () => {
  /** A PDF as a base64 data URL, as apps send local files: ~24 KB of base64, thousands of tokens if it were counted. */
  const pdf = `data:application/pdf;base64,${Buffer.from(`%PDF-1.4\n${'0123456789abcdef'.repeat(1100)}\n%%EOF`).toString('base64')}`;

  it('process (@mistralai/mistralai) is counted as a request and charged no tokens, within a budget smaller than its document', async () => {
    prepare(gw.fakes.mistral);
    // A budget that a token count of the document would exceed on its own: OCR consumes none of it.
    await gw.cp.ok('mutation($s: ID!) { configureServiceEnvironment(serviceId: $s, environment: "production", input: {rateLimit: {timeUnit: DAY, maxPromptTokens: 1000, maxTotalTokens: 1000}}) { id } }', { s: gw.services.mistral.id });
    await gw.settle();
    for (const document of [{ type: 'document_url', documentUrl: pdf }, { type: 'document_url', documentUrl: 'https://arxiv.org/pdf/2201.04234' }]) {
      const { charged, call } = await meteredCall(gw, 'mistral', () =>
        runMistralSdk({ serverURL: gw.services.mistral.endpoint, apiKey: gw.services.mistral.key, operation: 'ocr.process', request: { model: 'mistral-ocr-latest', document, includeImageBase64: false } }));
      expect(call.error).toBeUndefined();
      expect(call.result).toMatchObject({ model: 'mistral-ocr-2505-completion', pages: [{ index: 0 }, { index: 1 }], usageInfo: { pagesProcessed: 2 } });
      expect(charged).toMatchObject({ operation: 'ocr', requestModel: 'mistral-ocr-latest', requests: 1, promptTokens: 0, completionTokens: 0, errors4xx: 0 });
    }
    expect(gw.fakes.mistral.received.map((r) => r.path)).toEqual(['/v1/ocr', '/v1/ocr']);
  });
});
