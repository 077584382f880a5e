import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  type ConverseStreamOutput,
  InvokeModelCommand,
  ThrottlingException,
  ValidationException,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { type FakeServer, type RecordedRequest, decodeBody, decodeEventStream, rawRequest, shapeOf, startFakeBedrock, verifySigV4 } from './index';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const region = 'us-east-1';
const modelId = 'anthropic.claude-3-haiku-20240307-v1:0';

function sdkClient(url: string, extra: Partial<ConstructorParameters<typeof BedrockRuntimeClient>[0]> = {}): BedrockRuntimeClient {
  return new BedrockRuntimeClient({
    endpoint: url,
    region,
    credentials,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler(),
    ...extra,
  });
}

describe('fake Bedrock Runtime upstream, called with @aws-sdk/client-bedrock-runtime', () => {
  let fake: FakeServer;
  let client: BedrockRuntimeClient;

  beforeAll(async () => {
    fake = await startFakeBedrock();
    client = sdkClient(fake.url);
  });
  afterAll(async () => {
    client.destroy();
    await fake.close();
  });
  beforeEach(() => fake.reset());

  it('answers Converse with content and usage; the request is SigV4-signed', async () => {
    const response = await client.send(new ConverseCommand({ modelId, messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }));
    expect(response.output?.message?.content).toEqual([{ text: 'Hello from the fake' }]);
    expect(response.stopReason).toBe('end_turn');
    expect(response.usage).toEqual({ inputTokens: 11, outputTokens: 7, totalTokens: 18 });
    expect(response.metrics?.latencyMs).toEqual(expect.any(Number));

    const [request] = fake.received;
    expect(request.path).toBe('/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse');
    expect(request.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/bedrock\/aws4_request, /);
    expect(request.headers['x-amz-content-sha256']).toMatch(/^[0-9a-f]{64}$/);
    expect(await verifySigV4(request, credentials, region)).toBe(true);
  });

  it('verifySigV4 rejects tampered requests and wrong keys', async () => {
    await client.send(new ConverseCommand({ modelId, messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }));
    const [request] = fake.received;
    const tampered = (change: Partial<RecordedRequest>): RecordedRequest => ({ ...request, ...change });

    expect(await verifySigV4(request, { ...credentials, secretAccessKey: 'other' }, region)).toBe(false);
    expect(await verifySigV4(request, credentials, 'eu-west-1')).toBe(false);
    expect(await verifySigV4(request, credentials, region, 'sagemaker')).toBe(false);
    const body = Buffer.from(request.rawBody.toString('utf8').replace('Hi', 'Ho'));
    expect(await verifySigV4(tampered({ rawBody: body }), credentials, region)).toBe(false);
    const path = '/model/anthropic.claude-3-haiku-20240307-v1:0/converse';
    expect(await verifySigV4(tampered({ path, url: path }), credentials, region)).toBe(false);
    expect(await verifySigV4(tampered({ headers: { ...request.headers, host: 'evil.example:443' } }), credentials, region)).toBe(false);
    expect(await verifySigV4(tampered({ headers: { ...request.headers, 'x-amz-date': '20200101T000000Z' } }), credentials, region)).toBe(false);
    const { authorization: _dropped, ...unsigned } = request.headers;
    expect(await verifySigV4(tampered({ headers: unsigned }), credentials, region)).toBe(false);
  });

  it('streams ConverseStream event-stream frames with usage in metadata', async () => {
    fake.behaviour.content = 'eins zwei drei';
    fake.behaviour.usage = { prompt: 9, completion: 3 };
    const response = await client.send(new ConverseStreamCommand({ modelId, messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }));
    const events: ConverseStreamOutput[] = [];
    for await (const event of response.stream ?? []) events.push(event);

    expect(Object.keys(events[0])).toEqual(['messageStart']);
    const deltas = events.flatMap((e) => (e.contentBlockDelta?.delta?.text === undefined ? [] : [e.contentBlockDelta.delta.text]));
    expect(deltas).toEqual(['eins', ' zwei', ' drei']);
    expect(events.some((e) => e.contentBlockStop)).toBe(true);
    expect(events.find((e) => e.messageStop)?.messageStop?.stopReason).toBe('end_turn');
    expect(events.at(-1)?.metadata?.usage).toEqual({ inputTokens: 9, outputTokens: 3, totalTokens: 12 });

    expect(fake.received[0].path).toBe('/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream');
    expect(await verifySigV4(fake.received[0], credentials, region)).toBe(true);
  });

  it('frames the stream as application/vnd.amazon.eventstream', async () => {
    const response = await fetch(`${fake.url}/model/m/converse-stream`, { method: 'POST', body: '{}' });
    expect(response.headers.get('content-type')).toBe('application/vnd.amazon.eventstream');
    const events = decodeEventStream(new Uint8Array(await response.arrayBuffer()));
    expect(events.map((e) => e.headers[':event-type'])).toEqual([
      'messageStart',
      'contentBlockDelta',
      'contentBlockDelta',
      'contentBlockDelta',
      'contentBlockDelta',
      'contentBlockStop',
      'messageStop',
      'metadata',
    ]);
    expect(events.every((e) => e.headers[':message-type'] === 'event' && e.headers[':content-type'] === 'application/json')).toBe(true);

    // Same payload shapes as the documented events (one of each type).
    const documented = JSON.parse(readFileSync(join(__dirname, '../fixtures/providers/bedrock/converse-stream-events.json'), 'utf8')) as {
      event: string;
      payload: unknown;
    }[];
    for (const { event, payload } of documented) {
      expect(shapeOf(events.find((e) => e.headers[':event-type'] === event)?.payload)).toEqual(shapeOf(payload));
    }
  });

  it('makes the SDK raise its modeled exceptions', async () => {
    fake.behaviour.status = 429;
    const error: unknown = await client.send(new ConverseCommand({ modelId, messages: [] })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ThrottlingException);
    expect(error).toMatchObject({ name: 'ThrottlingException', message: 'Too many requests, please wait before trying again.', $metadata: { httpStatusCode: 429 } });
    expect(fake.received).toHaveLength(1);

    fake.behaviour.status = 400;
    fake.behaviour.errorBody = { message: 'The provided model identifier is invalid.' };
    await expect(client.send(new ConverseStreamCommand({ modelId, messages: [] }))).rejects.toThrow(ValidationException);
  });

  it('checks signatures itself when given credentials, and accepts Bedrock API keys', async () => {
    const strict = await startFakeBedrock({ verify: { credentials, region }, apiKey: 'bedrock-api-key' });
    const good = sdkClient(strict.url);
    const bad = sdkClient(strict.url, { credentials: { ...credentials, secretAccessKey: 'wrong' } });
    const bearer = sdkClient(strict.url, { token: { token: 'bedrock-api-key' }, authSchemePreference: ['httpBearerAuth'] });
    try {
      await expect(good.send(new ConverseCommand({ modelId, messages: [] }))).resolves.toMatchObject({ stopReason: 'end_turn' });
      await expect(bad.send(new ConverseCommand({ modelId, messages: [] }))).rejects.toMatchObject({
        name: 'InvalidSignatureException',
        $metadata: { httpStatusCode: 403 },
      });
      await expect(bearer.send(new ConverseCommand({ modelId, messages: [] }))).resolves.toMatchObject({ stopReason: 'end_turn' });
      expect(strict.received[2].headers.authorization).toBe('Bearer bedrock-api-key');
    } finally {
      good.destroy();
      bad.destroy();
      bearer.destroy();
      await strict.close();
    }
  });

  it('answers the AWS SDK, which offers no compression, uncompressed', async () => {
    const encodings: (string | undefined)[] = [];
    const watched = sdkClient(fake.url);
    watched.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        encodings.push((result.response as { headers: Record<string, string> }).headers['content-encoding']);
        return result;
      },
      { step: 'deserialize' },
    );
    try {
      await watched.send(new ConverseCommand({ modelId, messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }));
      const stream = await watched.send(new ConverseStreamCommand({ modelId, messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }));
      for await (const _event of stream.stream ?? []) void _event;
    } finally {
      watched.destroy();
    }
    expect(fake.received.map((r) => r.headers['accept-encoding'])).toEqual([undefined, undefined]);
    expect(encodings).toEqual([undefined, undefined]);
  });

  it('compresses for a client that offers gzip: JSON, and the event stream flushed per message', async () => {
    const headers = { 'content-type': 'application/json', 'accept-encoding': 'gzip, deflate' };
    const json = await rawRequest(`${fake.url}/model/m/converse`, { headers, body: '{}' });
    expect(json.headers).toMatchObject({ 'content-encoding': 'gzip', 'content-length': String(json.body.length) });
    expect(JSON.parse(decodeBody(json.body, 'gzip').toString())).toMatchObject({ stopReason: 'end_turn' });

    const stream = await rawRequest(`${fake.url}/model/m/converse-stream`, { headers, body: '{}' });
    expect(stream.headers['content-encoding']).toBe('gzip');
    expect(decodeEventStream(decodeBody(stream.body, 'gzip')).at(-1)?.headers[':event-type']).toBe('metadata');

    fake.behaviour.cutStreamAfterChunks = 2;
    const cut = await rawRequest(`${fake.url}/model/m/converse-stream`, { headers, body: '{}' });
    expect(cut.complete).toBe(false);
    const events = decodeEventStream(decodeBody(cut.body, 'gzip', { truncated: true }));
    expect(events.map((e) => e.headers[':event-type'])).toEqual(['messageStart', 'contentBlockDelta']);
  });

  describe('prompt caching', () => {
    const messages = [{ role: 'user' as const, content: [{ text: 'Hi' }] }];

    it('reports inputTokens without the cached part, cache reads and writes apart, totalTokens over all', async () => {
      fake.behaviour.usage = { prompt: 3000, completion: 120, cachedRead: 2048, cachedWrite: 512, reasoning: 50 };
      const usage = { inputTokens: 440, cacheReadInputTokens: 2048, cacheWriteInputTokens: 512, outputTokens: 120, totalTokens: 3120 };
      expect((await client.send(new ConverseCommand({ modelId, messages }))).usage).toEqual(usage);
      const response = await client.send(new ConverseStreamCommand({ modelId, messages }));
      const events: ConverseStreamOutput[] = [];
      for await (const event of response.stream ?? []) events.push(event);
      expect(events.at(-1)?.metadata?.usage).toEqual(usage);
    });

    it('reports InvokeModel token counts in headers, the input count without the cached part', async () => {
      fake.behaviour.usage = { prompt: 3000, completion: 120, cachedRead: 2048, cachedWrite: 512 };
      const body = JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 200, messages: [{ role: 'user', content: 'Hi' }] });
      const response = await client.send(new InvokeModelCommand({ modelId, contentType: 'application/json', body }));
      expect(JSON.parse(new TextDecoder().decode(response.body))).toMatchObject({
        type: 'message',
        model: 'claude-3-haiku-20240307',
        content: [{ type: 'text', text: 'Hello from the fake' }],
        usage: { input_tokens: 440, cache_read_input_tokens: 2048, cache_creation_input_tokens: 512, output_tokens: 120 },
      });
      expect(fake.received[0].path).toBe('/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke');

      const raw = await rawRequest(`${fake.url}/model/${encodeURIComponent(modelId)}/invoke`, { headers: { 'content-type': 'application/json' }, body });
      expect(raw.headers).toMatchObject({
        'x-amzn-bedrock-input-token-count': '440',
        'x-amzn-bedrock-output-token-count': '120',
        'x-amzn-bedrock-cache-read-input-token-count': '2048',
        'x-amzn-bedrock-cache-write-input-token-count': '512',
        'x-amzn-bedrock-invocation-latency': expect.stringMatching(/^\d+$/),
      });
      fake.behaviour.usage = { prompt: 30, completion: 12 };
      const plain = await rawRequest(`${fake.url}/model/${encodeURIComponent(modelId)}/invoke`, { headers: { 'content-type': 'application/json' }, body });
      expect(plain.headers['x-amzn-bedrock-input-token-count']).toBe('30');
      expect(plain.headers['x-amzn-bedrock-cache-read-input-token-count']).toBeUndefined();
    });

    it('leaves a cache count out when it is 0, as AWS does', async () => {
      fake.behaviour.usage = { prompt: 3000, completion: 120, cachedRead: 2048 };
      const raw = await rawRequest(`${fake.url}/model/m/converse`, { headers: { 'content-type': 'application/json' }, body: '{}' });
      expect((JSON.parse(raw.body.toString()) as { usage: unknown }).usage).toEqual({
        inputTokens: 952,
        cacheReadInputTokens: 2048,
        outputTokens: 120,
        totalTokens: 3120,
      });
    });
  });
});
