import { BedrockRuntimeClient, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Anthropic } from '@anthropic-ai/sdk';
import { APIConnectionError, OpenAI } from 'openai';
import { type FakeServer, defaultBehaviour, splitWords, startFakeAnthropic, startFakeBedrock, startFakeOpenAI } from './index';
import { parseSse } from './wire';

describe('fake behaviours', () => {
  let fake: FakeServer;
  let client: OpenAI;

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    client = new OpenAI({ apiKey: 'k', baseURL: `${fake.url}/v1`, maxRetries: 0 });
  });
  afterAll(() => fake.close());
  beforeEach(() => fake.reset());

  const chat = (): Promise<unknown> => client.chat.completions.create({ model: 'gpt-4o-mini', messages: [] });

  it('splits content into words that join back to it', () => {
    expect(splitWords('Hello from the fake')).toEqual(['Hello', ' from', ' the', ' fake']);
    expect(splitWords(' a  b ').join('')).toBe(' a  b ');
    expect(splitWords('')).toEqual([]);
  });

  it('records method, path, query, headers and body', async () => {
    await fetch(`${fake.url}/v1/models?limit=2&a=%20b`, { headers: { 'X-Custom': 'yes' } });
    const [request] = fake.received;
    expect(request).toMatchObject({ method: 'GET', path: '/v1/models', url: '/v1/models?limit=2&a=%20b', query: { limit: '2', a: ' b' } });
    expect(request.headers['x-custom']).toBe('yes');
    expect(request.rawBody).toHaveLength(0);
    expect(request.json).toBeUndefined();
  });

  it('delays the response headers', async () => {
    fake.behaviour.delayMs = 150;
    const started = Date.now();
    await chat();
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('hangs until the client gives up', async () => {
    fake.behaviour.hang = true;
    await expect(client.chat.completions.create({ model: 'gpt-4o-mini', messages: [] }, { timeout: 200 })).rejects.toBeInstanceOf(
      APIConnectionError,
    );
    expect(fake.received).toHaveLength(1);
  });

  it('answers with a custom error body', async () => {
    fake.behaviour.status = 503;
    fake.behaviour.errorBody = { error: { message: 'custom', type: 'x', param: null, code: 'y' } };
    await expect(chat()).rejects.toMatchObject({ status: 503, message: expect.stringContaining('custom') });
  });

  it('cuts a stream after N frames', async () => {
    fake.behaviour.content = 'one two three four five';
    fake.behaviour.cutStreamAfterChunks = 3;
    const response = await fetch(`${fake.url}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'm', messages: [], stream: true }),
    });
    expect(response.status).toBe(200);
    // undici reports the early close ("terminated"); its TypeError comes from another realm.
    await expect(response.text()).rejects.toMatchObject({ message: 'terminated' });

    // The openai SDK surfaces the broken stream as an error.
    const stream = await client.chat.completions.create({ model: 'm', messages: [], stream: true });
    const deltas: string[] = [];
    await expect(
      (async () => {
        for await (const chunk of stream) deltas.push(chunk.choices[0]?.delta.content ?? '');
      })(),
    ).rejects.toThrow();
    expect(deltas).toEqual(['', 'one', ' two']);
  });

  it('paces stream frames', async () => {
    fake.behaviour.chunkDelayMs = 30;
    fake.behaviour.content = 'a b';
    const started = Date.now();
    const response = await fetch(`${fake.url}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'm', messages: [], stream: true }),
    });
    const events = parseSse(await response.text());
    expect(events).toHaveLength(5); // role, a, b, finish, [DONE]
    expect(Date.now() - started).toBeGreaterThanOrEqual(5 * 30 - 10);
  });

  it('reset restores the default behaviour in place and forgets requests', async () => {
    const behaviour = fake.behaviour;
    await fetch(`${fake.url}/v1/models`);
    Object.assign(behaviour, { status: 500, hang: true, cutStreamAfterChunks: 1, content: 'x', usage: { prompt: 1, completion: 1 } });
    fake.reset();
    expect(fake.behaviour).toBe(behaviour);
    expect(fake.behaviour).toEqual(defaultBehaviour());
    expect(fake.received).toEqual([]);
  });

  it('cuts Anthropic streams: the SDK sees no message_stop', async () => {
    const anthropicFake = await startFakeAnthropic();
    try {
      anthropicFake.behaviour.cutStreamAfterChunks = 4; // message_start, content_block_start, ping, 1 delta
      const anthropic = new Anthropic({ apiKey: 'k', baseURL: anthropicFake.url, maxRetries: 0 });
      const stream = await anthropic.messages.create({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'Hi' }], stream: true });
      const types: string[] = [];
      const outcome = await (async () => {
        for await (const event of stream) types.push(event.type);
      })().then(
        () => 'ended',
        () => 'threw',
      );
      expect(types).toEqual(['message_start', 'content_block_start', 'content_block_delta']);
      expect(['ended', 'threw']).toContain(outcome);
    } finally {
      await anthropicFake.close();
    }
  });

  it('cuts Bedrock streams: the SDK ends without messageStop/metadata', async () => {
    const bedrockFake = await startFakeBedrock();
    const bedrock = new BedrockRuntimeClient({
      endpoint: bedrockFake.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler(),
    });
    try {
      bedrockFake.behaviour.cutStreamAfterChunks = 2;
      const response = await bedrock.send(new ConverseStreamCommand({ modelId: 'm', messages: [] }));
      const names: string[] = [];
      await (async () => {
        for await (const event of response.stream ?? []) names.push(...Object.keys(event).filter((k) => k !== '$unknown'));
      })().catch(() => undefined);
      expect(names).toEqual(['messageStart', 'contentBlockDelta']);
    } finally {
      bedrock.destroy();
      await bedrockFake.close();
    }
  });
});
