import OpenAI, { AzureOpenAI, BadRequestError, RateLimitError } from 'openai';
import { type FakeServer, decodedText, rawRequest, startFakeAzureOpenAI } from './index';
import { parseSse } from './wire';

const API_VERSION = '2024-10-21';

describe('fake Azure OpenAI upstream, called with the AzureOpenAI client', () => {
  let fake: FakeServer;
  let client: AzureOpenAI;

  beforeAll(async () => {
    fake = await startFakeAzureOpenAI();
    client = new AzureOpenAI({ endpoint: fake.url, apiKey: 'azure-key', apiVersion: API_VERSION, deployment: 'my-gpt4o', maxRetries: 0 });
  });
  afterAll(() => fake.close());
  beforeEach(() => fake.reset());

  it('answers a chat completion on the deployment path with the api-key header', async () => {
    const completion = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] });
    expect(completion.choices[0].message.content).toBe('Hello from the fake');
    expect(completion.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 });
    expect(completion).toHaveProperty('prompt_filter_results');
    expect(completion.choices[0]).toHaveProperty('content_filter_results.hate', { filtered: false, severity: 'safe' });

    const [request] = fake.received;
    expect(request.path).toBe('/openai/deployments/my-gpt4o/chat/completions');
    expect(request.query['api-version']).toBe(API_VERSION);
    expect(request.headers['api-key']).toBe('azure-key');
    expect(request.headers.authorization).toBeUndefined();
  });

  it('streams: an opening chunk with empty choices, per-word chunks, then usage', async () => {
    fake.behaviour.content = 'alpha beta gamma';
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0].choices).toEqual([]);
    expect(chunks[0]).toHaveProperty('prompt_filter_results');
    const text = chunks.flatMap((c) => c.choices.map((choice) => choice.delta.content ?? '')).join('');
    expect(text).toBe('alpha beta gamma');
    expect(chunks.filter((c) => c.choices.some((choice) => choice.delta.content))).toHaveLength(3);
    expect(chunks.at(-1)?.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 });
  });

  it('refuses stream_options on api-versions before 2024-09-01 and beside data_sources, as Azure does', async () => {
    const request = (apiVersion: string, extra: Record<string, unknown> = {}) =>
      new AzureOpenAI({ endpoint: fake.url, apiKey: 'azure-key', apiVersion, deployment: 'my-gpt4o', maxRetries: 0 }).chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'Hi' }],
        stream: true,
        stream_options: { include_usage: true },
        ...extra,
      });
    await expect(request('2024-06-01')).rejects.toMatchObject({ status: 400, code: 'unknown_parameter', param: 'stream_options' });
    await expect(request('2024-08-01-preview')).rejects.toBeInstanceOf(BadRequestError);
    await expect(request(API_VERSION, { data_sources: [{ type: 'azure_search', parameters: {} }] })).rejects.toBeInstanceOf(BadRequestError);
    const accepted = await request('2024-09-01-preview');
    for await (const chunk of accepted) void chunk;
    const onYourData = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'Hi' }], stream: true as const, data_sources: [] };
    for await (const chunk of await client.chat.completions.create(onYourData)) void chunk;
    expect(fake.received.map((r) => r.query['api-version'])).toEqual(['2024-06-01', '2024-08-01-preview', API_VERSION, '2024-09-01-preview', API_VERSION]);
  });

  it('answers 404 in Azure format without api-version, like Azure', async () => {
    const response = await fetch(`${fake.url}/openai/deployments/my-gpt4o/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'api-key': 'azure-key' },
      body: JSON.stringify({ messages: [] }),
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { code: '404', message: 'Resource not found' } });
  });

  it('serves embeddings on the deployment path', async () => {
    const result = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });
    expect(result.data[0].embedding).toHaveLength(8);
    expect(fake.received[0].path).toBe('/openai/deployments/my-gpt4o/embeddings');
  });

  it('ends a non-usage stream with [DONE] and no usage field', async () => {
    const response = await fetch(`${fake.url}/openai/deployments/d/chat/completions?api-version=${API_VERSION}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [], stream: true }),
    });
    const events = parseSse(await response.text());
    expect(events.at(-1)?.data).toBe('[DONE]');
    expect(events.slice(0, -1).some((e) => 'usage' in (JSON.parse(e.data) as object))).toBe(false);
  });

  it('makes the SDK raise its error classes in Azure error format', async () => {
    fake.behaviour.status = 429;
    const error: unknown = await client.chat.completions.create({ model: 'gpt-4o', messages: [] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({ status: 429, code: '429' });
  });

  it('checks the api-key header when asked to', async () => {
    const strict = await startFakeAzureOpenAI({ requireApiKey: 'right' });
    try {
      const wrong = new AzureOpenAI({ endpoint: strict.url, apiKey: 'wrong', apiVersion: API_VERSION, deployment: 'd', maxRetries: 0 });
      await expect(wrong.chat.completions.create({ model: 'x', messages: [] })).rejects.toMatchObject({ status: 401, code: '401' });
    } finally {
      await strict.close();
    }
  });

  it('compresses as Azure answers fetch-based clients: gzip JSON and streams, flushed per chunk', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'gpt-4o', messages: [] }).withResponse();
    expect(response.headers.get('content-encoding')).toBe('gzip');
    expect(data.choices[0].message.content).toBe('Hello from the fake');
    expect(fake.received[0].headers['accept-encoding']).toBe('gzip, deflate');

    const url = `${fake.url}/openai/deployments/d/chat/completions?api-version=${API_VERSION}`;
    const headers = { 'content-type': 'application/json', 'accept-encoding': 'gzip, deflate' };
    const json = await rawRequest(url, { headers, body: JSON.stringify({ messages: [] }) });
    expect(json.headers).toMatchObject({ 'content-encoding': 'gzip', 'content-length': String(json.body.length) });
    expect(JSON.parse(decodedText(json))).toHaveProperty('prompt_filter_results');

    fake.behaviour.cutStreamAfterChunks = 2; // the opening chunk and the role chunk
    const cut = await rawRequest(url, { headers, body: JSON.stringify({ messages: [], stream: true }) });
    expect(cut.headers['content-encoding']).toBe('gzip');
    expect(cut.complete).toBe(false);
    const chunks = parseSse(decodedText(cut)).map((e) => JSON.parse(e.data) as { choices: { delta: object }[] });
    expect(chunks.map((c) => c.choices.map((choice) => choice.delta))).toEqual([[], [{ role: 'assistant', content: '', refusal: null }]]);
  });

  it('reports cached and reasoning tokens as OpenAI does, JSON and streamed', async () => {
    fake.behaviour.usage = { prompt: 1200, completion: 90, cachedRead: 1024, cachedWrite: 64, reasoning: 40 };
    const expected = {
      prompt_tokens: 1200,
      completion_tokens: 90,
      total_tokens: 1290,
      prompt_tokens_details: { cached_tokens: 1024 },
      completion_tokens_details: { reasoning_tokens: 40 },
    };
    const completion = await client.chat.completions.create({ model: 'o4-mini', messages: [] });
    expect(completion.usage).toMatchObject(expected);
    let usage: unknown;
    for await (const chunk of await client.chat.completions.create({ model: 'o4-mini', messages: [], stream: true, stream_options: { include_usage: true } })) {
      usage = chunk.usage ?? usage;
    }
    expect(usage).toMatchObject(expected);
  });
});

describe('fake Azure OpenAI upstream, v1 API called with the OpenAI client', () => {
  let fake: FakeServer;
  const client = (defaultQuery?: Record<string, string>) =>
    new OpenAI({ baseURL: `${fake.url}/openai/v1`, apiKey: 'azure-key', maxRetries: 0, defaultHeaders: { 'api-key': 'azure-key' }, ...(defaultQuery === undefined ? {} : { defaultQuery }) });

  beforeAll(async () => {
    fake = await startFakeAzureOpenAI({ requireApiKey: 'azure-key' });
  });
  afterAll(() => fake.close());
  beforeEach(() => fake.reset());

  it('answers chat completions and embeddings without any api-version, the deployment named by model', async () => {
    const completion = await client().chat.completions.create({ model: 'my-gpt4o', messages: [{ role: 'user', content: 'Hi' }] });
    expect(completion.choices[0].message.content).toBe('Hello from the fake');
    expect(completion.model).toBe('my-gpt4o');
    const embedding = await client().embeddings.create({ model: 'my-embedding', input: 'hello' });
    expect(embedding.data[0].embedding).toHaveLength(8);
    expect(fake.received.map((r) => [r.path, r.query])).toEqual([
      ['/openai/v1/chat/completions', {}],
      ['/openai/v1/embeddings', {}],
    ]);
  });

  it('accepts api-version v1 and preview, and streams as on deployment paths', async () => {
    for (const version of ['v1', 'preview']) {
      const stream = await client({ 'api-version': version }).chat.completions.create({ model: 'd', messages: [], stream: true, stream_options: { include_usage: true } });
      const chunks = [];
      for await (const chunk of stream) chunks.push(chunk);
      expect(chunks[0].choices).toEqual([]);
      expect(chunks.at(-1)?.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 7 });
    }
  });

  it('answers the Responses API as OpenAI does, JSON and streamed, with cached and reasoning tokens', async () => {
    fake.behaviour.usage = { prompt: 1200, completion: 90, cachedRead: 1024, reasoning: 40 };
    const expected = { input_tokens: 1200, input_tokens_details: { cached_tokens: 1024 }, output_tokens: 90, output_tokens_details: { reasoning_tokens: 40 }, total_tokens: 1290 };
    const response = await client().responses.create({ model: 'my-gpt5', input: 'Hi' });
    expect(response.output_text).toBe('Hello from the fake');
    expect(response.model).toBe('my-gpt5');
    expect(response.usage).toMatchObject(expected);
    const final = await client().responses.stream({ model: 'my-gpt5', input: 'Hi' }).finalResponse();
    expect(final.output_text).toBe('Hello from the fake');
    expect(final.usage).toMatchObject(expected);
    expect(fake.received.map((r) => r.url)).toEqual(['/openai/v1/responses', '/openai/v1/responses']);
  });

  it('refuses a dated api-version with a 400, as Azure does', async () => {
    const error: unknown = await client({ 'api-version': '2024-10-21' }).chat.completions.create({ model: 'd', messages: [] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error).toMatchObject({ status: 400, code: 'BadRequest', message: '400 API version not supported' });
  });

  it('checks the api-key header on v1 paths too', async () => {
    const response = await fetch(`${fake.url}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'api-key': 'wrong' }, body: '{"model":"d","messages":[]}' });
    expect(response.status).toBe(401);
  });
});
