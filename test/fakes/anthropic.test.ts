import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Anthropic, OverloadedError, RateLimitError } from '@anthropic-ai/sdk';
import { type FakeServer, decodedText, rawRequest, startFakeAnthropic } from './index';
import { parseSse, shapeOf } from './wire';

describe('fake Anthropic upstream, called with @anthropic-ai/sdk', () => {
  let fake: FakeServer;
  let client: Anthropic;

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    client = new Anthropic({ apiKey: 'sk-ant-test', baseURL: fake.url, maxRetries: 0 });
  });
  afterAll(() => fake.close());
  beforeEach(() => fake.reset());

  it('answers a message with content and usage', async () => {
    const message = await client.messages.create({
      model: 'claude-sonnet-5-5',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(message.id).toMatch(/^msg_/);
    expect(message.type).toBe('message');
    expect(message.content).toEqual([{ type: 'text', text: 'Hello from the fake' }]);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage).toMatchObject({ input_tokens: 11, output_tokens: 7, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });

    const [request] = fake.received;
    expect(request.path).toBe('/v1/messages');
    // The 1.13 SDK sends the API key as a bearer token (docs/architecture.md, "Contract").
    expect(request.headers.authorization).toBe('Bearer sk-ant-test');
    expect(request.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it('streams the documented event sequence with cumulative output tokens', async () => {
    fake.behaviour.content = 'a b c';
    fake.behaviour.usage = { prompt: 20, completion: 3 };
    const stream = await client.messages.create({
      model: 'claude-sonnet-5-5',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
    });
    const types: string[] = [];
    let text = '';
    let inputTokens = 0;
    let outputTokens = 0;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'message_start') inputTokens = event.message.usage.input_tokens;
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
      if (event.type === 'message_delta') outputTokens = event.usage.output_tokens;
    }
    expect(types).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]); // the SDK drops `ping`
    expect(text).toBe('a b c');
    expect(inputTokens).toBe(20);
    expect(outputTokens).toBe(3);
  });

  it('works with the SDK stream helper', async () => {
    const message = await client.messages
      .stream({ model: 'claude-sonnet-5-5', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] })
      .finalMessage();
    expect(message.content).toEqual([{ type: 'text', text: 'Hello from the fake' }]);
    expect(message.usage.output_tokens).toBe(7);
  });

  it('sends SSE events shaped like the documented example', async () => {
    const documented = parseSse(readFileSync(join(__dirname, '../fixtures/providers/anthropic/message-stream.sse'), 'utf8'));
    fake.behaviour.content = 'Hello !';
    const response = await fetch(`${fake.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', max_tokens: 1, messages: [], stream: true }),
    });
    const events = parseSse(await response.text());
    expect(events.map((e) => e.event)).toEqual(documented.map((e) => e.event));
    for (const [i, event] of events.entries()) {
      const ours = JSON.parse(event.data) as { type: string };
      expect(ours.type).toBe(event.event);
      // The current API adds usage fields to the documented ones: cache tokens and service tier in
      // message_start, cumulative input and cache tokens in message_delta.
      if (event.event === 'message_start' || event.event === 'message_delta') expect(shapeOf(ours)).toMatchObject(shapeOf(JSON.parse(documented[i].data)) as object);
      else expect(shapeOf(ours)).toEqual(shapeOf(JSON.parse(documented[i].data)));
    }
  });

  it('counts tokens', async () => {
    const count = await client.messages.countTokens({ model: 'claude-sonnet-5-5', messages: [{ role: 'user', content: 'Hi' }] });
    expect(count.input_tokens).toBe(11);
  });

  it('makes the SDK raise its error classes', async () => {
    fake.behaviour.status = 429;
    const error: unknown = await client.messages
      .create({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({ status: 429, error: { type: 'error', error: { type: 'rate_limit_error' } } });

    fake.behaviour.status = 529;
    await expect(client.messages.create({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'Hi' }] })).rejects.toBeInstanceOf(
      OverloadedError,
    );
  });

  it('accepts the key as x-api-key or bearer when it checks keys', async () => {
    const strict = await startFakeAnthropic({ requireApiKey: 'right' });
    try {
      const ok = await fetch(`${strict.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': 'right', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', max_tokens: 1, messages: [] }),
      });
      expect(ok.status).toBe(200);
      const wrong = new Anthropic({ apiKey: 'wrong', baseURL: strict.url, maxRetries: 0 });
      await expect(wrong.messages.create({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'Hi' }] })).rejects.toMatchObject({
        status: 401,
      });
    } finally {
      await strict.close();
    }
  });

  it('compresses as Anthropic answers fetch-based clients: gzip JSON and streams, flushed per event', async () => {
    const message = { model: 'claude-sonnet-5-5', max_tokens: 100, messages: [{ role: 'user' as const, content: 'Hi' }] };
    const { data, response } = await client.messages.create(message).withResponse();
    expect(response.headers.get('content-encoding')).toBe('gzip');
    expect(data.content).toEqual([{ type: 'text', text: 'Hello from the fake' }]);
    const streamed = await client.messages.create({ ...message, stream: true }).withResponse();
    expect(streamed.response.headers.get('content-encoding')).toBe('gzip');
    const types: string[] = [];
    for await (const event of streamed.data) types.push(event.type);
    expect(types.at(-1)).toBe('message_stop');
    expect(fake.received.map((r) => r.headers['accept-encoding'])).toEqual(['gzip, deflate', 'gzip, deflate']);

    const headers = { 'content-type': 'application/json', 'accept-encoding': 'gzip, deflate' };
    const json = await rawRequest(`${fake.url}/v1/messages`, { headers, body: JSON.stringify(message) });
    expect(json.headers).toMatchObject({ 'content-encoding': 'gzip', 'content-length': String(json.body.length) });
    expect(JSON.parse(decodedText(json))).toMatchObject({ type: 'message' });

    fake.behaviour.cutStreamAfterChunks = 3; // message_start, content_block_start, ping
    const cut = await rawRequest(`${fake.url}/v1/messages`, { headers, body: JSON.stringify({ ...message, stream: true }) });
    expect(cut.headers['content-encoding']).toBe('gzip');
    expect(cut.complete).toBe(false);
    expect(parseSse(decodedText(cut)).map((e) => e.event)).toEqual(['message_start', 'content_block_start', 'ping']);
  });

  describe('prompt caching', () => {
    beforeEach(() => {
      fake.behaviour.usage = { prompt: 3000, completion: 120, cachedRead: 2048, cachedWrite: 512, reasoning: 50 };
    });
    const message = { model: 'claude-sonnet-5-5', max_tokens: 500, messages: [{ role: 'user' as const, content: 'Hi' }] };
    // input_tokens is the uncached rest of the prompt: 3000 - 2048 - 512.
    const split = { input_tokens: 440, cache_read_input_tokens: 2048, cache_creation_input_tokens: 512, output_tokens: 120 };

    it('reports input_tokens without the cached part, beside cache reads and writes', async () => {
      const reply = await client.messages.create(message);
      expect(reply.usage).toMatchObject(split);
    });

    it('streams the split in message_start and, cumulatively, in message_delta', async () => {
      const starts: unknown[] = [];
      const deltas: unknown[] = [];
      for await (const event of await client.messages.create({ ...message, stream: true })) {
        if (event.type === 'message_start') starts.push(event.message.usage);
        if (event.type === 'message_delta') deltas.push(event.usage);
      }
      expect(starts).toEqual([expect.objectContaining({ ...split, output_tokens: 1 })]);
      expect(deltas).toEqual([split]);

      const final = await client.messages.stream(message).finalMessage();
      expect(final.usage).toMatchObject(split);
    });
  });
});
