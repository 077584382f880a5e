// Apps call every provider through the proxy with the provider's official SDK, unchanged but for
// base URL and key. Asserted: what the app received, and what the provider received (its own
// credential, never the consumer key; a SigV4 signature that verifies for the upstream host).
import Anthropic from '@anthropic-ai/sdk';
import { BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import OpenAI, { AzureOpenAI } from 'openai';
import { runMistralSdk, verifySigV4 } from '../fakes';
import { type Gateway, PROVIDER_SECRETS, startGateway } from '../support/gateway-harness';

const MODEL_ID = 'anthropic.claude-3-haiku-20240307-v1:0';
let gw: Gateway;

beforeAll(async () => {
  gw = await startGateway();
});
afterAll(async () => {
  await gw?.stop();
});
beforeEach(() => {
  for (const fake of Object.values(gw.fakes)) fake.reset();
});

function expectNoConsumerKey(headers: Record<string, unknown>, key: string): void {
  expect(JSON.stringify(headers)).not.toContain(key);
}

describe('OpenAI (openai SDK)', () => {
  const client = () => new OpenAI({ baseURL: gw.services.openai.endpoint, apiKey: gw.services.openai.key, maxRetries: 0 });

  it('completes a chat with the provider key injected', async () => {
    const reply = await client().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
    expect(reply.choices[0].message.content).toBe('Hello from the fake');
    expect(reply.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 });
    const [upstream] = gw.fakes.openai.received;
    expect(upstream.path).toBe('/v1/chat/completions');
    expect(upstream.headers.authorization).toBe(`Bearer ${PROVIDER_SECRETS.openai}`);
    expectNoConsumerKey(upstream.headers, gw.services.openai.key);
  });

  it('streams chunks through', async () => {
    const stream = await client().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe('Hello from the fake');
  });
});

describe('Azure OpenAI (openai SDK, AzureOpenAI client)', () => {
  const client = () => new AzureOpenAI({ endpoint: gw.services.azure.endpoint, apiKey: gw.services.azure.key, apiVersion: '2024-02-01', deployment: 'gpt-4o', maxRetries: 0 });

  it('completes a chat with api-key injected and the api-version the client chose', async () => {
    const reply = await client().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] });
    expect(reply.choices[0].message.content).toBe('Hello from the fake');
    const [upstream] = gw.fakes.azure.received;
    expect(upstream.path).toBe('/openai/deployments/gpt-4o/chat/completions');
    expect(upstream.query['api-version']).toBe('2024-02-01');
    expect(upstream.headers['api-key']).toBe(PROVIDER_SECRETS.azure);
    expectNoConsumerKey(upstream.headers, gw.services.azure.key);
  });

  it('streams chunks through', async () => {
    const stream = await client().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe('Hello from the fake');
  });

  it('streams "On Your Data" (data_sources) without the stream_options Azure refuses there', async () => {
    const modern = new AzureOpenAI({ endpoint: gw.services.azure.endpoint, apiKey: gw.services.azure.key, apiVersion: '2024-10-21', deployment: 'gpt-4o', maxRetries: 0 });
    const body = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'Hi' }], stream: true as const, data_sources: [{ type: 'azure_search', parameters: { endpoint: 'https://search.example', index_name: 'docs' } }] };
    let text = '';
    for await (const chunk of await modern.chat.completions.create(body)) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe('Hello from the fake');
    expect(gw.fakes.azure.received.at(-1)?.json).not.toHaveProperty('stream_options');
  });
});

describe('Anthropic (@anthropic-ai/sdk)', () => {
  const client = () => new Anthropic({ baseURL: gw.services.anthropic.endpoint, apiKey: gw.services.anthropic.key, maxRetries: 0 });

  it('creates a message with x-api-key and anthropic-version', async () => {
    const reply = await client().messages.create({ model: 'claude-sonnet-5-5', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] });
    expect(reply.content).toEqual([{ type: 'text', text: 'Hello from the fake' }]);
    expect(reply.usage).toMatchObject({ input_tokens: 11, output_tokens: 7 });
    const [upstream] = gw.fakes.anthropic.received;
    expect(upstream.headers['x-api-key']).toBe(PROVIDER_SECRETS.anthropic);
    expect(upstream.headers.authorization).toBeUndefined();
    expect(upstream.headers['anthropic-version']).toBe('2023-06-01');
    expectNoConsumerKey(upstream.headers, gw.services.anthropic.key);
  });

  it('streams events through', async () => {
    const message = await client().messages.stream({ model: 'claude-sonnet-5-5', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] }).finalMessage();
    expect(message.content).toEqual([{ type: 'text', text: 'Hello from the fake' }]);
    expect(message.usage.output_tokens).toBe(7);
  });
});

describe('Mistral (@mistralai/mistralai)', () => {
  it('completes a chat', async () => {
    const { result, error } = await runMistralSdk({ serverURL: gw.services.mistral.endpoint, apiKey: gw.services.mistral.key, operation: 'chat.complete', request: { model: 'mistral-small-latest', messages: [{ role: 'user', content: 'Hi' }] } });
    expect(error).toBeUndefined();
    expect(result).toMatchObject({ choices: [{ message: { content: 'Hello from the fake' } }], usage: { promptTokens: 11, completionTokens: 7 } });
    const [upstream] = gw.fakes.mistral.received;
    expect(upstream.headers.authorization).toBe(`Bearer ${PROVIDER_SECRETS.mistral}`);
    expectNoConsumerKey(upstream.headers, gw.services.mistral.key);
  });

  it('streams chunks through', async () => {
    const { result, error } = await runMistralSdk({ serverURL: gw.services.mistral.endpoint, apiKey: gw.services.mistral.key, operation: 'chat.stream', request: { model: 'mistral-small-latest', messages: [{ role: 'user', content: 'Hi' }] } });
    expect(error).toBeUndefined();
    const text = (result as Array<{ choices: Array<{ delta: { content?: string } }> }>).map((e) => e.choices[0]?.delta?.content ?? '').join('');
    expect(text).toBe('Hello from the fake');
  });
});

describe('AWS Bedrock (@aws-sdk/client-bedrock-runtime)', () => {
  const tokenClient = (key: string, http1 = false) =>
    new BedrockRuntimeClient({
      endpoint: gw.services.bedrock.endpoint,
      region: 'us-east-1',
      token: { token: key },
      authSchemePreference: ['httpBearerAuth'],
      maxAttempts: 1,
      ...(http1 ? { requestHandler: new NodeHttpHandler() } : {}),
    });

  it.each([['HTTP/2 (the SDK default, h2c)', false], ['HTTP/1.1', true]])('Converse over %s is re-signed with SigV4 for the upstream host', async (_label, http1) => {
    const client = tokenClient(gw.services.bedrock.key, http1);
    const reply = await client.send(new ConverseCommand({ modelId: MODEL_ID, messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }));
    client.destroy();
    expect(reply.output?.message?.content).toEqual([{ text: 'Hello from the fake' }]);
    expect(reply.usage).toEqual({ inputTokens: 11, outputTokens: 7, totalTokens: 18 });
    const [upstream] = gw.fakes.bedrock.received;
    expect(upstream.path).toBe('/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse');
    expect(upstream.headers.authorization).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${PROVIDER_SECRETS.aws.accessKeyId}/\\d{8}/us-east-1/bedrock/aws4_request`));
    expect(upstream.headers['x-amz-security-token']).toBe(PROVIDER_SECRETS.aws.sessionToken);
    expect(upstream.headers.host).toBe(new URL(gw.fakes.bedrock.url).host);
    expect(await verifySigV4(upstream, PROVIDER_SECRETS.aws, 'us-east-1')).toBe(true);
    expectNoConsumerKey(upstream.headers, gw.services.bedrock.key);
  });

  it('ConverseStream delivers the event stream', async () => {
    const client = tokenClient(gw.services.bedrock.key);
    const reply = await client.send(new ConverseStreamCommand({ modelId: MODEL_ID, messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }));
    let text = '';
    let usage: unknown;
    for await (const event of reply.stream!) {
      text += event.contentBlockDelta?.delta?.text ?? '';
      if (event.metadata) usage = event.metadata.usage;
    }
    client.destroy();
    expect(text).toBe('Hello from the fake');
    expect(usage).toEqual({ inputTokens: 11, outputTokens: 7, totalTokens: 18 });
    expect(await verifySigV4(gw.fakes.bedrock.received[0], PROVIDER_SECRETS.aws, 'us-east-1')).toBe(true);
  });

  it('uses a Bedrock API key as a bearer token when one is configured', async () => {
    const client = new BedrockRuntimeClient({ endpoint: gw.services.bedrockApiKey.endpoint, region: 'us-east-1', token: { token: gw.services.bedrockApiKey.key }, authSchemePreference: ['httpBearerAuth'], maxAttempts: 1 });
    const reply = await client.send(new ConverseCommand({ modelId: MODEL_ID, messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }));
    client.destroy();
    expect(reply.output?.message?.content).toEqual([{ text: 'Hello from the fake' }]);
    expect(gw.fakes.bedrock.received[0].headers.authorization).toBe(`Bearer ${PROVIDER_SECRETS.bedrockApiKey}`);
  });
});
