import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type FakeServer, decodedText, rawRequest, runMistralSdk, startFakeMistral } from './index';
import { parseSse, shapeOf } from './wire';

// @mistralai/mistralai is ESM-only: it runs in a child process (see mistral-sdk.ts).
describe('fake Mistral upstream, called with @mistralai/mistralai', () => {
  let fake: FakeServer;

  beforeAll(async () => {
    fake = await startFakeMistral();
  });
  afterAll(() => fake.close());
  beforeEach(() => fake.reset());

  const messages = [{ role: 'user', content: 'Hi' }];

  it('answers a chat completion with content and usage', async () => {
    const { result, error } = await runMistralSdk({
      serverURL: fake.url,
      apiKey: 'mistral-key',
      operation: 'chat.complete',
      request: { model: 'mistral-small-latest', messages },
    });
    expect(error).toBeUndefined();
    expect(result).toMatchObject({
      object: 'chat.completion',
      model: 'mistral-small-latest',
      usage: { promptTokens: 11, completionTokens: 7, totalTokens: 18 },
      choices: [{ index: 0, finishReason: 'stop', message: { role: 'assistant', content: 'Hello from the fake' } }],
    });
    const [request] = fake.received;
    expect(request.path).toBe('/v1/chat/completions');
    expect(request.headers.authorization).toBe('Bearer mistral-key');
  });

  it('refuses OpenAI-only members (stream_options, max_completion_tokens) with a 422 extra_forbidden, as Mistral does', async () => {
    const response = await fetch(`${fake.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer mistral-key' },
      body: JSON.stringify({ model: 'mistral-small-latest', messages, stream: true, stream_options: { include_usage: true } }),
    });
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({
      object: 'error',
      message: { detail: [{ type: 'extra_forbidden', loc: ['body', 'stream_options'], msg: 'Extra inputs are not permitted' }] },
      type: 'invalid_request_error',
    });
  });

  it('streams per-word chunks, usage on the last chunk only, never null', async () => {
    fake.behaviour.content = 'un deux trois';
    const { result, error } = await runMistralSdk({
      serverURL: fake.url,
      apiKey: 'mistral-key',
      operation: 'chat.stream',
      request: { model: 'mistral-small-latest', messages },
    });
    expect(error).toBeUndefined();
    const chunks = result as { choices: { delta: { content?: string } }[]; usage?: unknown }[];
    expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe('un deux trois');
    expect(chunks.filter((c) => c.choices[0].delta.content)).toHaveLength(3);
    expect(chunks.slice(0, -1).every((c) => c.usage === undefined)).toBe(true);
    expect(chunks.at(-1)?.usage).toEqual({ promptTokens: 11, completionTokens: 7, totalTokens: 18 });

    const raw = await fetch(`${fake.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages, stream: true }),
    });
    const text = await raw.text();
    expect(text).not.toContain('"usage":null');
    expect(parseSse(text).at(-1)?.data).toBe('[DONE]');
  });

  it('streams chunks shaped like the documented example', async () => {
    const documented = parseSse(readFileSync(join(__dirname, '../fixtures/providers/mistral/chat-completion-stream.sse'), 'utf8'));
    fake.behaviour.content = 'Hello';
    const raw = await fetch(`${fake.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages, stream: true }),
    });
    const shapes = (list: { data: string }[]): unknown[] => list.map((e) => (e.data === '[DONE]' ? e.data : shapeOf(JSON.parse(e.data))));
    expect(shapes(parseSse(await raw.text()))).toEqual(shapes(documented));
  });

  it('works with a serverURL that carries a path prefix', async () => {
    const { error } = await runMistralSdk({
      serverURL: `${fake.url}/prefix`,
      apiKey: 'k',
      operation: 'chat.complete',
      request: { model: 'm', messages },
    });
    // The fake only serves /v1: the SDK keeps the prefix, so it gets Mistral's 404.
    expect(error).toMatchObject({ name: 'SDKError', statusCode: 404 });
    expect(fake.received[0].path).toBe('/prefix/v1/chat/completions');
  });

  it('answers OCR with the documented pages and usage_info (pages processed, document size), no token usage', async () => {
    const pdf = Buffer.from('%PDF-1.4 fake document');
    const { result, error } = await runMistralSdk({
      serverURL: fake.url,
      apiKey: 'k',
      operation: 'ocr.process',
      request: { model: 'mistral-ocr-latest', document: { type: 'document_url', documentUrl: `data:application/pdf;base64,${pdf.toString('base64')}` } },
    });
    expect(error).toBeUndefined();
    expect(result).toMatchObject({ model: 'mistral-ocr-2505-completion', usageInfo: { pagesProcessed: 2, docSizeBytes: pdf.length } });
    expect((result as { pages: Array<{ markdown: string }> }).pages[0].markdown).toMatch(/^# LEVERAGING/);
    expect(result).not.toHaveProperty('usage');
    expect(fake.received[0].json).toMatchObject({ model: 'mistral-ocr-latest', document: { type: 'document_url' } });
  });

  it('serves embeddings', async () => {
    const { result, error } = await runMistralSdk({
      serverURL: fake.url,
      apiKey: 'k',
      operation: 'embeddings.create',
      request: { model: 'mistral-embed', inputs: ['a', 'b'] },
    });
    expect(error).toBeUndefined();
    expect(result).toMatchObject({ model: 'mistral-embed', usage: { promptTokens: 11, totalTokens: 11 } });
    expect((result as { data: unknown[] }).data).toHaveLength(2);
  });

  it('makes the SDK raise its error classes', async () => {
    fake.behaviour.status = 429;
    const { error } = await runMistralSdk({ serverURL: fake.url, apiKey: 'k', operation: 'chat.complete', request: { model: 'm', messages } });
    expect(error).toMatchObject({ name: 'SDKError', statusCode: 429 });
    expect(JSON.parse(error?.body ?? '{}')).toMatchObject({ object: 'error', type: 'rate_limited' });
    expect(fake.received).toHaveLength(1);

    fake.behaviour.status = 422;
    const invalid = await runMistralSdk({ serverURL: fake.url, apiKey: 'k', operation: 'chat.stream', request: { model: 'm', messages } });
    expect(invalid.error).toMatchObject({ name: 'HTTPValidationError', statusCode: 422 });
  });

  it('compresses as Mistral answers fetch-based clients; the SDK parses gzip JSON and streams', async () => {
    const complete = await runMistralSdk({ serverURL: fake.url, apiKey: 'k', operation: 'chat.complete', request: { model: 'm', messages } });
    expect(complete.error).toBeUndefined();
    expect(complete.result).toMatchObject({ choices: [{ message: { content: 'Hello from the fake' } }] });
    const stream = await runMistralSdk({ serverURL: fake.url, apiKey: 'k', operation: 'chat.stream', request: { model: 'm', messages } });
    expect(stream.error).toBeUndefined();
    expect((stream.result as unknown[]).at(-1)).toMatchObject({ usage: { promptTokens: 11 } });
    // The SDK (fetch) offers gzip, so it got gzip: that is what the fake answers to such a request.
    const accepted = fake.received.map((r) => r.headers['accept-encoding']);
    expect(accepted).toEqual(['gzip, deflate', 'gzip, deflate']);

    const headers = { 'content-type': 'application/json', 'accept-encoding': accepted[0] ?? '' };
    const json = await rawRequest(`${fake.url}/v1/chat/completions`, { headers, body: JSON.stringify({ model: 'm', messages }) });
    expect(json.headers).toMatchObject({ 'content-encoding': 'gzip', 'content-length': String(json.body.length) });
    expect(JSON.parse(decodedText(json))).toMatchObject({ object: 'chat.completion' });

    fake.behaviour.cutStreamAfterChunks = 2;
    const cut = await rawRequest(`${fake.url}/v1/chat/completions`, { headers, body: JSON.stringify({ model: 'm', messages, stream: true }) });
    expect(cut.headers['content-encoding']).toBe('gzip');
    expect(cut.complete).toBe(false);
    const chunks = parseSse(decodedText(cut)).map((e) => JSON.parse(e.data) as { choices: { delta: object }[] });
    expect(chunks.map((c) => c.choices[0].delta)).toEqual([{ role: 'assistant', content: '' }, { content: 'Hello' }]);
  });

  it('reports only prompt and completion tokens: cached and reasoning tokens are inside them', async () => {
    fake.behaviour.usage = { prompt: 900, completion: 80, cachedRead: 512, cachedWrite: 64, reasoning: 30 };
    const complete = await runMistralSdk({ serverURL: fake.url, apiKey: 'k', operation: 'chat.complete', request: { model: 'm', messages } });
    expect((complete.result as { usage: unknown }).usage).toEqual({ promptTokens: 900, completionTokens: 80, totalTokens: 980 });
    const stream = await runMistralSdk({ serverURL: fake.url, apiKey: 'k', operation: 'chat.stream', request: { model: 'm', messages } });
    expect((stream.result as { usage?: unknown }[]).at(-1)?.usage).toEqual({ promptTokens: 900, completionTokens: 80, totalTokens: 980 });
    // On the wire too (the SDK would drop fields it does not know).
    const raw = await rawRequest(`${fake.url}/v1/chat/completions`, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages }) });
    expect((JSON.parse(raw.body.toString()) as { usage: unknown }).usage).toEqual({ prompt_tokens: 900, completion_tokens: 80, total_tokens: 980 });
  });
});
