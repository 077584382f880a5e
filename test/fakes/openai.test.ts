import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthenticationError, OpenAI, RateLimitError } from 'openai';
import { type FakeServer, decodedText, rawRequest, startFakeOpenAI } from './index';
import { parseSse, shapeOf } from './wire';

const documentedResponse: unknown = JSON.parse(readFileSync(join(__dirname, '../fixtures/providers/openai/response.json'), 'utf8'));
const documentedResponseStream = parseSse(readFileSync(join(__dirname, '../fixtures/providers/openai/response-stream.sse'), 'utf8'));

describe('fake OpenAI upstream, called with the openai SDK', () => {
  let fake: FakeServer;
  let client: OpenAI;

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    client = new OpenAI({ apiKey: 'sk-test-key', baseURL: `${fake.url}/v1`, maxRetries: 0 });
  });
  afterAll(() => fake.close());
  beforeEach(() => fake.reset());

  it('refuses stream_options on a request that does not stream, as OpenAI does', async () => {
    const nonStreaming = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hi' }], stream_options: { include_usage: true } };
    await expect(client.chat.completions.create(nonStreaming)).rejects.toMatchObject({ status: 400, param: 'stream_options', type: 'invalid_request_error' });
    await expect(client.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'Hi', stream: false, stream_options: { include_usage: true } })).rejects.toMatchObject({ status: 400 });
  });

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

  describe('compressed as OpenAI answers fetch-based clients', () => {
    const post = (path: string, body: object): ReturnType<typeof rawRequest> =>
      rawRequest(`${fake.url}${path}`, { headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip, deflate' }, body: JSON.stringify(body) });

    it('the SDK gets gzip JSON and gzip streams by default, and parses them', async () => {
      const { data, response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [] }).withResponse();
      expect(response.headers.get('content-encoding')).toBe('gzip');
      expect(data.choices[0].message.content).toBe('Hello from the fake');

      const streamed = await client.chat.completions
        .create({ model: 'gpt-4o-mini', messages: [], stream: true, stream_options: { include_usage: true } })
        .withResponse();
      expect(streamed.response.headers.get('content-encoding')).toBe('gzip');
      let text = '';
      let usage: unknown;
      for await (const chunk of streamed.data) {
        text += chunk.choices[0]?.delta.content ?? '';
        usage = chunk.usage ?? usage;
      }
      expect(text).toBe('Hello from the fake');
      expect(usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 7 });
      expect(fake.received.map((r) => r.headers['accept-encoding'])).toEqual(['gzip, deflate', 'gzip, deflate']);
    });

    it('answers gzip to a raw request with gzip, deflate: JSON with content-length, SSE without', async () => {
      const json = await post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [] });
      expect(json.headers).toMatchObject({ 'content-encoding': 'gzip', 'content-length': String(json.body.length), vary: 'accept-encoding' });
      expect(JSON.parse(decodedText(json))).toMatchObject({ object: 'chat.completion' });
      const sse = await post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [], stream: true });
      expect(sse.headers['content-encoding']).toBe('gzip');
      expect(sse.headers['content-length']).toBeUndefined();
      expect(parseSse(decodedText(sse)).at(-1)?.data).toBe('[DONE]');
    });

    it('flushes every chunk: a stream cut after two chunks decodes to exactly those two', async () => {
      fake.behaviour.cutStreamAfterChunks = 2;
      const cut = await post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [], stream: true });
      expect(cut.complete).toBe(false);
      const chunks = parseSse(decodedText(cut)).map((e) => JSON.parse(e.data) as { choices: { delta: { role?: string; content?: string } }[] });
      expect(chunks.map((c) => c.choices[0].delta)).toEqual([{ role: 'assistant', content: '', refusal: null }, { content: 'Hello' }]);
    });
  });

  describe('cache and reasoning tokens', () => {
    beforeEach(() => {
      fake.behaviour.usage = { prompt: 2000, completion: 300, cachedRead: 1536, cachedWrite: 200, reasoning: 256 };
    });
    const expected = {
      prompt_tokens: 2000,
      completion_tokens: 300,
      total_tokens: 2300,
      prompt_tokens_details: { cached_tokens: 1536, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 256, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    };

    it('reports cached prompt tokens inside prompt_tokens and reasoning inside completion_tokens', async () => {
      const completion = await client.chat.completions.create({ model: 'o4-mini', messages: [] });
      expect(completion.usage).toEqual(expected);

      let usage: unknown;
      const stream = await client.chat.completions.create({ model: 'o4-mini', messages: [], stream: true, stream_options: { include_usage: true } });
      for await (const chunk of stream) usage = chunk.usage ?? usage;
      expect(usage).toEqual(expected);
    });

    it('reports them in the Responses API usage, JSON and streamed', async () => {
      const usage = {
        input_tokens: 2000,
        input_tokens_details: { cached_tokens: 1536 },
        output_tokens: 300,
        output_tokens_details: { reasoning_tokens: 256 },
        total_tokens: 2300,
      };
      const response = await client.responses.create({ model: 'o4-mini', input: 'Hi' });
      expect(response.usage).toEqual(usage);
      // A reasoning model's output starts with its reasoning item.
      expect(response.output.map((item) => item.type)).toEqual(['reasoning', 'message']);
      expect(response.output_text).toBe('Hello from the fake');

      const final = await client.responses.stream({ model: 'o4-mini', input: 'Hi' }).finalResponse();
      expect(final.usage).toEqual(usage);
      expect(final.output_text).toBe('Hello from the fake');
    });
  });

  describe('Responses API', () => {
    it('answers POST /v1/responses with the documented Response', async () => {
      const { data, response } = await client.responses.create({ model: 'gpt-4.1', input: 'Tell me a story.' }).withResponse();
      expect(response.headers.get('content-encoding')).toBe('gzip');
      expect(data).toMatchObject({ object: 'response', status: 'completed', model: 'gpt-4.1', error: null });
      expect(data.id).toMatch(/^resp_[0-9a-f]{48}$/);
      expect(data.output_text).toBe('Hello from the fake'); // the SDK joins the message's output_text parts
      expect(data.usage).toEqual({
        input_tokens: 11,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: 7,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 18,
      });
      expect(fake.received[0].path).toBe('/v1/responses');

      const raw = await rawRequest(`${fake.url}/v1/responses`, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4.1', input: 'x' }) });
      expect(shapeOf(JSON.parse(raw.body.toString()))).toEqual(shapeOf(documentedResponse));
    });

    it('streams the documented semantic events, usage in response.completed, and the SDK helpers read them', async () => {
      fake.behaviour.content = 'Hi there!';
      const events = [];
      for await (const event of await client.responses.create({ model: 'gpt-4o', input: 'Hi', stream: true })) events.push(event);
      expect(events.map((e) => e.type)).toEqual(documentedResponseStream.map((e) => e.event));
      expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
      expect(events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta)).toEqual(['Hi', ' there!']);
      const completed = events.at(-1);
      expect(completed?.type === 'response.completed' && completed.response.usage).toEqual({
        input_tokens: 11,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: 7,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 18,
      });
      expect(events[0].type === 'response.created' && events[0].response.usage).toBeNull();

      // The stream helper checks item identities and ordering as it accumulates.
      const final = await client.responses.stream({ model: 'gpt-4o', input: 'Hi' }).finalResponse();
      expect(final.output_text).toBe('Hi there!');
      expect(final.usage?.total_tokens).toBe(18);
    });

    it('sends events shaped like the documented ones, each with its event name, and no [DONE]', async () => {
      fake.behaviour.content = 'Hi there!';
      const raw = await rawRequest(`${fake.url}/v1/responses`, {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', input: 'Hi', stream: true }),
      });
      expect(raw.headers['content-type']).toMatch(/^text\/event-stream/);
      const events = parseSse(raw.body.toString());
      expect(events.map((e) => e.event)).toEqual(documentedResponseStream.map((e) => e.event));
      for (const [i, event] of events.entries()) {
        const ours = JSON.parse(event.data) as { type: string };
        expect(ours.type).toBe(event.event);
        expect(shapeOf(ours)).toEqual(shapeOf(JSON.parse(documentedResponseStream[i].data)));
      }
    });

    it('keeps background responses: queued at creation, retrieved in progress then completed, and their stream resumed after a sequence number', async () => {
      const created = await client.responses.create({ model: 'gpt-4o', input: 'Hi', background: true });
      expect(created).toMatchObject({ object: 'response', status: 'queued', background: true, usage: null, output: [] });
      expect((await client.responses.retrieve(created.id)).status).toBe('in_progress');
      const done = await client.responses.retrieve(created.id);
      expect(done).toMatchObject({ status: 'completed', background: true, usage: { input_tokens: 11, output_tokens: 7 } });

      const streamed = [];
      for await (const event of await client.responses.create({ model: 'gpt-4o', input: 'Hi', background: true, stream: true })) streamed.push(event);
      expect(streamed.slice(0, 3).map((e) => e.type)).toEqual(['response.created', 'response.queued', 'response.in_progress']);
      const id = streamed[0].type === 'response.created' ? streamed[0].response.id : '';
      const resumed = [];
      for await (const event of await client.responses.retrieve(id, { stream: true, starting_after: 4 })) resumed.push(event);
      expect(resumed).toEqual(streamed.slice(5));
      expect(fake.received.at(-1)?.query).toEqual({ stream: 'true', starting_after: '4' });
      await expect(client.responses.retrieve('resp_unknown', { stream: true })).rejects.toMatchObject({ status: 404 });
    });
  });
});
