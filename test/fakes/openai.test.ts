import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthenticationError, OpenAI, RateLimitError } from 'openai';
import { type FakeServer, startFakeOpenAI } from './index';
import { parseSse, shapeOf } from './wire';

describe('fake OpenAI upstream, called with the openai SDK', () => {
  let fake: FakeServer;
  let client: OpenAI;

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    client = new OpenAI({ apiKey: 'sk-test-key', baseURL: `${fake.url}/v1`, maxRetries: 0 });
  });
  afterAll(() => fake.close());
  beforeEach(() => fake.reset());

  it('answers a chat completion with content and usage', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.model).toBe('gpt-4o-mini');
    expect(completion.choices[0].message).toEqual({ role: 'assistant', content: 'Hello from the fake', refusal: null, annotations: [] });
    expect(completion.choices[0].finish_reason).toBe('stop');
    expect(completion.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 });

    expect(fake.received).toHaveLength(1);
    const [request] = fake.received;
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/v1/chat/completions');
    expect(request.headers.authorization).toBe('Bearer sk-test-key');
    expect(request.json).toMatchObject({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
  });

  it('has the documented response shape', async () => {
    const documented: unknown = JSON.parse(readFileSync(join(__dirname, '../fixtures/providers/openai/chat-completion.json'), 'utf8'));
    const response = await fetch(`${fake.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [] }),
    });
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(shapeOf(await response.json())).toEqual(shapeOf(documented));
  });

  it('streams per-word chunks with usage when include_usage is set', async () => {
    fake.behaviour.content = 'one two three four';
    fake.behaviour.usage = { prompt: 5, completion: 4 };
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Count' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const deltas: string[] = [];
    let usage: unknown;
    let sawEmptyChoices = false;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      if (chunk.choices.length === 0) sawEmptyChoices = true;
      for (const choice of chunk.choices) if (choice.delta.content) deltas.push(choice.delta.content);
      if (chunk.usage) usage = chunk.usage;
    }
    expect(deltas).toEqual(['one', ' two', ' three', ' four']);
    expect(sawEmptyChoices).toBe(true);
    expect(usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 });
  });

  it('streams without usage when include_usage is not set, ending with [DONE]', async () => {
    const response = await fetch(`${fake.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [], stream: true }),
    });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = parseSse(await response.text());
    expect(events.at(-1)?.data).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data) as Record<string, unknown>);
    expect(chunks.every((c) => !('usage' in c))).toBe(true);
    expect(chunks.length).toBeGreaterThan(3);
  });

  it('streams the documented chunk shapes with include_usage', async () => {
    const documented = parseSse(readFileSync(join(__dirname, '../fixtures/providers/openai/chat-completion-stream.sse'), 'utf8'));
    fake.behaviour.content = 'Hello';
    const response = await fetch(`${fake.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [], stream: true, stream_options: { include_usage: true } }),
    });
    const events = parseSse(await response.text());
    const shapes = (list: { data: string }[]): unknown[] => list.map((e) => (e.data === '[DONE]' ? e.data : shapeOf(JSON.parse(e.data))));
    expect(shapes(events)).toEqual(shapes(documented));
  });

  it('serves embeddings, in base64 as the SDK asks by default', async () => {
    const result = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] });
    expect(result.data).toHaveLength(2);
    expect(result.data[0].embedding).toHaveLength(8);
    expect(result.data[0].embedding[0]).toBeCloseTo(-3 / 8);
    expect(result.usage).toEqual({ prompt_tokens: 11, total_tokens: 11 });
    expect(fake.received[0].json).toMatchObject({ encoding_format: 'base64' });

    const floats = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'a', encoding_format: 'float' });
    expect(floats.data[0].embedding).toEqual(result.data[0].embedding);
  });

  it('lists models', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toContain('gpt-4o-mini');
    expect((await client.models.retrieve('gpt-4o')).id).toBe('gpt-4o');
  });

  it('makes the SDK raise its error classes for error statuses', async () => {
    fake.behaviour.status = 429;
    const error: unknown = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({ status: 429, code: 'rate_limit_exceeded', type: 'tokens' });
    expect(fake.received).toHaveLength(1);

    fake.behaviour.status = 401;
    await expect(client.chat.completions.create({ model: 'gpt-4o-mini', messages: [] })).rejects.toBeInstanceOf(AuthenticationError);
  });

  it('checks the API key when asked to', async () => {
    const strict = await startFakeOpenAI({ requireApiKey: 'sk-right' });
    try {
      const wrong = new OpenAI({ apiKey: 'sk-wrong', baseURL: `${strict.url}/v1`, maxRetries: 0 });
      await expect(wrong.models.list()).rejects.toMatchObject({ status: 401, code: 'invalid_api_key' });
      const right = new OpenAI({ apiKey: 'sk-right', baseURL: `${strict.url}/v1`, maxRetries: 0 });
      await expect(right.chat.completions.create({ model: 'gpt-4o-mini', messages: [] })).resolves.toMatchObject({ object: 'chat.completion' });
    } finally {
      await strict.close();
    }
  });
});
