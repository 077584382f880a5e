import { connect } from 'node:net';
import { constants, createBrotliDecompress, createGunzip, createInflate, gunzipSync, gzipSync } from 'node:zlib';
import type { Transform } from 'node:stream';
import { BedrockRuntimeClient, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Anthropic } from '@anthropic-ai/sdk';
import { APIConnectionError, OpenAI } from 'openai';
import {
  type FakeCompression,
  type FakeServer,
  SSE_HEADERS,
  decodeBody,
  decodeRawZstdFrame,
  decodedText,
  defaultBehaviour,
  openRawRequest,
  rawRequest,
  sendStream,
  splitWords,
  sse,
  startFake,
  startFakeAnthropic,
  startFakeBedrock,
  startFakeOpenAI,
} from './index';
import { parseSse } from './wire';

const FETCH_ACCEPT_ENCODING = 'gzip, deflate'; // what Node's fetch, and so the fetch-based SDKs, send

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

  describe('compression', () => {
    const chatBody = (extra: object = {}): string => JSON.stringify({ model: 'gpt-4o-mini', messages: [], ...extra });
    const post = (path: string, headers: Record<string, string>, body = chatBody()): ReturnType<typeof rawRequest> =>
      rawRequest(`${fake.url}${path}`, { headers: { 'content-type': 'application/json', ...headers }, body });

    it('answers JSON gzip-compressed to a fetch client, with content-length and vary, and plain without Accept-Encoding', async () => {
      const compressed = await post('/v1/chat/completions', { 'accept-encoding': FETCH_ACCEPT_ENCODING });
      expect(compressed.headers['content-encoding']).toBe('gzip');
      expect(compressed.headers.vary).toBe('accept-encoding');
      expect(Number(compressed.headers['content-length'])).toBe(compressed.body.length);
      expect(JSON.parse(gunzipSync(compressed.body).toString())).toMatchObject({ object: 'chat.completion', usage: { prompt_tokens: 11 } });

      const plain = await post('/v1/chat/completions', {});
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect(plain.headers.vary).toBe('accept-encoding');
      expect(JSON.parse(plain.body.toString())).toMatchObject({ object: 'chat.completion' });
    });

    it('compresses error bodies as well', async () => {
      fake.behaviour.status = 429;
      const response = await post('/v1/chat/completions', { 'accept-encoding': 'br' });
      expect(response.status).toBe(429);
      expect(response.headers['content-encoding']).toBe('br');
      expect(JSON.parse(decodedText(response))).toMatchObject({ error: { code: 'rate_limit_exceeded' } });
    });

    it('the SDK gets gzip by default and parses it', async () => {
      const { data, response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [] }).withResponse();
      expect(response.headers.get('content-encoding')).toBe('gzip');
      expect(data.choices[0].message.content).toBe('Hello from the fake');
      expect(fake.received[0].headers['accept-encoding']).toBe(FETCH_ACCEPT_ENCODING);
    });

    it.each<[FakeCompression, string | undefined]>([
      ['off', undefined],
      ['br', 'br'],
      ['deflate', 'deflate'],
      ['gzip, br', 'gzip, br'],
    ])('compression %j answers %j whatever the client offered; fetch and the SDK still decode it', async (compression, header) => {
      fake.behaviour.compression = compression;
      const raw = await post('/v1/chat/completions', {});
      expect(raw.headers['content-encoding']).toBe(header);
      expect(JSON.parse(decodedText(raw))).toMatchObject({ object: 'chat.completion' });
      const { data, response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [] }).withResponse();
      expect(response.headers.get('content-encoding')).toBe(header ?? null);
      expect(data.choices[0].message.content).toBe('Hello from the fake');
    });

    it('compresses streams without content-length, in more writes than frames, and the SDK reads them', async () => {
      fake.behaviour.content = 'one two three four five six seven eight nine ten';
      const raw = await post('/v1/chat/completions', { 'accept-encoding': FETCH_ACCEPT_ENCODING }, chatBody({ stream: true }));
      expect(raw.headers['content-encoding']).toBe('gzip');
      expect(raw.headers['content-length']).toBeUndefined();
      const events = parseSse(decodedText(raw));
      expect(events.map((e) => e.data).slice(1, 11).map((d) => (JSON.parse(d) as { choices: { delta: { content: string } }[] }).choices[0].delta.content).join('')).toBe(
        fake.behaviour.content,
      );
      expect(events.at(-1)?.data).toBe('[DONE]');

      const stream = await client.chat.completions.create({ model: 'm', messages: [], stream: true });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      expect(text).toBe(fake.behaviour.content);
    });

    it('writes some frames in two pieces: more HTTP chunks than frames', async () => {
      // The body's chunked framing shows every write the fake made, whatever TCP did with them.
      fake.behaviour.content = 'one two three four five six seven eight nine ten';
      const frames = 1 + 10 + 1 + 1; // role, words, finish, [DONE]
      const body = chatBody({ stream: true });
      const wire = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(new URL(fake.url).port), '127.0.0.1');
        const chunks: Buffer[] = [];
        socket.on('data', (chunk) => {
          chunks.push(chunk);
          const received = Buffer.concat(chunks).toString('latin1');
          if (!received.endsWith('\r\n0\r\n\r\n')) return; // the last chunk
          socket.destroy();
          resolve(received);
        });
        socket.on('error', reject);
        socket.write(
          `POST /v1/chat/completions HTTP/1.1\r\nhost: fake\r\naccept-encoding: gzip\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
      });
      let rest = wire.slice(wire.indexOf('\r\n\r\n') + 4);
      let writes = 0;
      for (;;) {
        const size = parseInt(rest.slice(0, rest.indexOf('\r\n')), 16);
        if (!(size > 0)) break;
        writes += 1;
        rest = rest.slice(rest.indexOf('\r\n') + 2 + size + 2);
      }
      // One write per frame, a second for some of them, one for the gzip trailer.
      expect(writes).toBeGreaterThan(frames + 1);
      expect(writes).toBeLessThan(2 * frames + 1);
    });

    it.each<[FakeCompression, () => Transform[]]>([
      ['gzip', () => [createGunzip()]],
      ['deflate', () => [createInflate()]],
      ['br', () => [createBrotliDecompress()]],
      ['gzip, br', () => [createBrotliDecompress(), createGunzip()]],
    ])('flushes every %j frame: the client decodes the first event before the fake has the second', async (compression, decoders) => {
      // The second frame is produced only once the client has decoded the first: without a flush
      // per frame the first would sit in the compressor and the stream would never go on.
      let clientSawFirst!: () => void;
      const firstSeen = new Promise<void>((resolve) => (clientSawFirst = resolve));
      const lazy = await startFake(async (exchange) => {
        exchange.behaviour.compression = compression;
        await sendStream(
          exchange,
          (async function* () {
            yield sse({ n: 1 }, 'first');
            await firstSeen;
            yield sse({ n: 2 }, 'second');
          })(),
          SSE_HEADERS,
        );
      });
      try {
        const response = await openRawRequest(lazy.url, { headers: { 'accept-encoding': 'gzip, deflate, br' } });
        expect(response.headers['content-encoding']).toBe(compression);
        const chain = decoders();
        let decoded = '';
        const ended = new Promise<void>((resolve, reject) => {
          chain.at(-1)?.on('data', (chunk: Buffer) => {
            decoded += chunk.toString();
            if (decoded.includes('"n":1}\n\n')) clientSawFirst();
          });
          chain.at(-1)?.once('end', resolve);
          for (const decoder of chain) decoder.once('error', reject);
        });
        chain.reduce<NodeJS.ReadableStream>((source, decoder) => source.pipe(decoder), response);
        await ended;
        expect(parseSse(decoded)).toEqual([
          { event: 'first', data: '{"n":1}' },
          { event: 'second', data: '{"n":2}' },
        ]);
      } finally {
        await lazy.close();
      }
    }, 15_000);

    it('keeps cutting and pacing compressed streams: the frames before the cut decode whole', async () => {
      fake.behaviour.content = 'one two three four five';
      fake.behaviour.cutStreamAfterChunks = 3;
      fake.behaviour.chunkDelayMs = 5;
      const raw = await post('/v1/chat/completions', { 'accept-encoding': FETCH_ACCEPT_ENCODING }, chatBody({ stream: true }));
      expect(raw.complete).toBe(false);
      const events = parseSse(decodedText(raw));
      expect(events.map((e) => (JSON.parse(e.data) as { choices: { delta: { content?: string } }[] }).choices[0].delta.content)).toEqual(['', 'one', ' two']);
    });

    it('decodes compressed request bodies: json and decodedBody, rawBody as sent', async () => {
      const body = chatBody({ model: 'gpt-4o-gzipped' });
      const response = await rawRequest(`${fake.url}/v1/chat/completions`, {
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body: gzipSync(body),
      });
      expect(JSON.parse(decodedText(response))).toMatchObject({ model: 'gpt-4o-gzipped' });
      const [request] = fake.received;
      expect(request.rawBody).toEqual(gzipSync(body));
      expect(request.decodedBody?.toString()).toBe(body);
      expect(request.json).toMatchObject({ model: 'gpt-4o-gzipped' });

      await post('/v1/chat/completions', {});
      expect(fake.received[1].decodedBody).toBeUndefined();
      expect(fake.received[1].json).toMatchObject({ model: 'gpt-4o-mini' });
    });

    it('answers zstd, undecodable by Node 20, only to a client that offers it', async () => {
      fake.behaviour.zstd = true;
      const zstd = await post('/v1/chat/completions', { 'accept-encoding': 'gzip, deflate, br, zstd' });
      expect(zstd.headers['content-encoding']).toBe('zstd');
      expect(JSON.parse(decodeRawZstdFrame(zstd.body).toString())).toMatchObject({ object: 'chat.completion' });
      expect(() => decodeBody(zstd.body, 'zstd')).toThrow();

      const stream = await post('/v1/chat/completions', { 'accept-encoding': 'zstd' }, chatBody({ stream: true }));
      expect(stream.headers['content-encoding']).toBe('zstd');
      expect(parseSse(decodeRawZstdFrame(stream.body).toString()).at(-1)?.data).toBe('[DONE]');

      expect((await post('/v1/chat/completions', { 'accept-encoding': FETCH_ACCEPT_ENCODING })).headers['content-encoding']).toBe('gzip');
      fake.behaviour.zstd = false;
      expect((await post('/v1/chat/completions', { 'accept-encoding': 'zstd, gzip' })).headers['content-encoding']).toBe('gzip');
    });

    it('serves a 1 GiB decompression bomb in about 1 MB, which inflates far past its size', async () => {
      const size = 1024 ** 3;
      fake.behaviour.decompressionBomb = size;
      const response = await openRawRequest(`${fake.url}/v1/chat/completions`, {
        headers: { 'content-type': 'application/json', 'accept-encoding': FETCH_ACCEPT_ENCODING },
        body: chatBody(),
      });
      expect(response.headers['content-encoding']).toBe('gzip');
      const compressedLength = Number(response.headers['content-length']);
      expect(compressedLength).toBeLessThan(size / 500); // deflate's limit is about 1030:1

      // Inflate only the first 64 KB of it, counting what comes out; then hang up.
      const gunzip = createGunzip({ finishFlush: constants.Z_SYNC_FLUSH });
      let inflated = 0;
      let start = '';
      gunzip.on('data', (chunk: Buffer) => {
        if (start.length < 64) start += chunk.toString('latin1', 0, 64);
        inflated += chunk.length;
      });
      let read = 0;
      for await (const chunk of response) {
        const piece = (chunk as Buffer).subarray(0, 64 * 1024 - read);
        read += piece.length;
        gunzip.write(piece);
        if (read >= 64 * 1024) break; // destroys the response
      }
      await new Promise<void>((resolve) => gunzip.end(resolve));
      expect(read).toBe(64 * 1024);
      expect(inflated).toBeGreaterThan(32 * 1024 * 1024);
      expect(start).toMatch(/^\{"id":"chatcmpl-/);
    });

    it('a 10 MB bomb inflates to exactly 10 MB of valid JSON, usage last, that the SDK parses', async () => {
      const size = 10 * 1024 * 1024;
      fake.behaviour.decompressionBomb = size;
      fake.behaviour.usage = { prompt: 123, completion: 45 };
      const raw = await post('/v1/chat/completions', { 'accept-encoding': 'identity' });
      expect(raw.headers['content-encoding']).toBe('gzip'); // a bomb is gzip whatever was asked
      expect(raw.body.length).toBeLessThan(16 * 1024);
      const text = decodeBody(raw.body, 'gzip', { maxOutputLength: size }).toString();
      expect(text).toHaveLength(size);
      const usage = '"usage":{"prompt_tokens":123,"completion_tokens":45,"total_tokens":168,';
      expect(text.lastIndexOf(usage)).toBeGreaterThan(size - 400);
      expect(text).toContain(`,${' '.repeat(1000)}`);
      expect(JSON.parse(text)).toMatchObject({ object: 'chat.completion', choices: [{ message: { content: 'Hello from the fake' } }], usage: { total_tokens: 168 } });

      const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [] });
      expect(completion.usage).toMatchObject({ prompt_tokens: 123, completion_tokens: 45 });

      fake.behaviour.status = 429; // errors are not bombs
      const error = await post('/v1/chat/completions', { 'accept-encoding': FETCH_ACCEPT_ENCODING });
      expect(error.body.length).toBeLessThan(1024);
      expect(JSON.parse(decodedText(error))).toMatchObject({ error: { code: 'rate_limit_exceeded' } });
    });
  });
});
