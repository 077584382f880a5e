import { once } from 'node:events';
import * as zlib from 'node:zlib';
import { openAIChatStream } from '../../../test/fakes/openai';
import { defaultBehaviour, sse } from '../../../test/fakes/recorder';
import { observe, piecesOf, plainObservation, providerFixture } from '../../../test/support/data-plane/observer-harness';
import { openAiUsageAccounting } from '../providers/openai/openai-usage';
import type { ObservedUsage, PreparedRequest, ResponseObserver } from '../providers/usage-accounting';
import { randomBytes } from 'node:crypto';
import { DecodingObserver, SYNC_DECODE_MAX_ENCODED } from './decoding-observer';

type Coding = 'gzip' | 'deflate' | 'deflate-raw' | 'br';

/** A compressor that flushes: what a provider's edge does after every event of a stream. */
function compressor(coding: Coding): { stream: zlib.Zlib & NodeJS.ReadWriteStream; flushKind: number } {
  switch (coding) {
    case 'br':
      return { stream: zlib.createBrotliCompress(), flushKind: zlib.constants.BROTLI_OPERATION_FLUSH };
    case 'deflate':
      return { stream: zlib.createDeflate(), flushKind: zlib.constants.Z_SYNC_FLUSH };
    case 'deflate-raw':
      return { stream: zlib.createDeflateRaw(), flushKind: zlib.constants.Z_SYNC_FLUSH };
    default:
      return { stream: zlib.createGzip(), flushKind: zlib.constants.Z_SYNC_FLUSH };
  }
}

/** `pieces` compressed in one stream, flushed after each piece (an SSE stream flushed per event). */
async function compressFlushed(pieces: readonly Buffer[], coding: Coding): Promise<Buffer[]> {
  const { stream, flushKind } = compressor(coding);
  const out: Buffer[] = [];
  let current: Buffer[] = [];
  stream.on('data', (data: Buffer) => current.push(data));
  for (const piece of pieces) {
    stream.write(piece);
    await new Promise<void>((resolve) => stream.flush(flushKind, () => resolve()));
    out.push(Buffer.concat(current));
    current = [];
  }
  stream.end();
  await once(stream, 'end');
  out.push(Buffer.concat(current));
  return out;
}

/** Applies the codings in order (the first is applied first), each layer flushed per piece. */
async function encode(pieces: readonly Buffer[], codings: readonly Coding[]): Promise<Buffer> {
  let layer: Buffer[] = [...pieces];
  for (const coding of codings) layer = await compressFlushed(layer, coding);
  return Buffer.concat(layer);
}

/** The Content-Encoding names of the codings (raw deflate is labelled deflate, as some servers do). */
function header(codings: readonly Coding[]): string[] {
  return codings.map((coding) => (coding === 'deflate-raw' ? 'deflate' : coding));
}

/** Writes the pieces and flushes (unless cut), then waits for the decoder as the proxy does. */
async function observeDecoded(observer: DecodingObserver, pieces: readonly Buffer[], ended = true): Promise<{ forwarded: Buffer; result: ObservedUsage }> {
  const out: Buffer[] = [];
  for (const piece of pieces) out.push(observer.write(piece));
  if (ended) out.push(observer.flush());
  await observer.drained();
  return { forwarded: Buffer.concat(out), result: plainObservation(observer.result()) };
}

const prepareOpenAi = (body: object): PreparedRequest => openAiUsageAccounting.prepareRequest('/v1/chat/completions', Buffer.from(JSON.stringify(body)), 'application/json');
const unstreamed = prepareOpenAi({ model: 'gpt-4o-mini', messages: [] });
// The client asked for usage itself: nothing is stripped (the proxy never strips from a compressed stream).
const streamed = prepareOpenAi({ model: 'gpt-4o-mini', messages: [], stream: true, stream_options: { include_usage: true } });
const jsonObserver = (): ResponseObserver => openAiUsageAccounting.observeResponse(unstreamed, 200, 'application/json');
const sseObserver = (): ResponseObserver => openAiUsageAccounting.observeResponse(streamed, 200, 'text/event-stream');

const JSON_BODY = providerFixture('openai', 'chat-completion.json');

/** Text that does not compress (base64 of random bytes), so its encoded size is about its size. */
function randomText(length: number): string {
  return randomBytes(Math.ceil((length * 3) / 4)).toString('base64').slice(0, length);
}
const SSE_EVENTS = openAIChatStream({ ...defaultBehaviour(), content: 'Grüße aus Köln 🎉 und 日本語', usage: { prompt: 812, completion: 40, cachedRead: 768, reasoning: 12 } }, 'gpt-4o-mini-2024-07-18', true).map(
  (chunk) => Buffer.from(sse(chunk)),
);
const SSE_BODY = Buffer.concat(SSE_EVENTS);

const CODINGS: ReadonlyArray<readonly Coding[]> = [['gzip'], ['deflate'], ['deflate-raw'], ['br'], ['gzip', 'br'], ['deflate', 'gzip']];

describe('DecodingObserver', () => {
  const plainJson = observe(jsonObserver(), [JSON_BODY]).result;
  const plainSse = observe(sseObserver(), [SSE_BODY]).result;

  it('reads the plain bodies the tests below compress (the reference results)', () => {
    expect(plainJson).toEqual({ usage: { promptTokens: 19, completionTokens: 10 }, responseModel: 'gpt-4o-mini-2024-07-18', completionText: 'Hello! How can I assist you today?', complete: true });
    expect(plainSse).toEqual({
      usage: { promptTokens: 812, completionTokens: 40, cachedReadTokens: 768, reasoningTokens: 12 },
      responseModel: 'gpt-4o-mini-2024-07-18',
      completionText: 'Grüße aus Köln 🎉 und 日本語',
      complete: true,
    });
  });

  it.each(CODINGS.map((codings) => [codings.join(', '), codings] as const))('%s: a JSON body split at every offset reads as the plain one, forwarded as encoded', async (_name, codings) => {
    const encoded = await encode([JSON_BODY], codings);
    for (let cut = 1; cut < encoded.length; cut += 1) {
      const { forwarded, result } = await observeDecoded(new DecodingObserver(jsonObserver(), header(codings)), piecesOf(encoded, [cut]));
      expect(forwarded.equals(encoded)).toBe(true);
      expect(result).toEqual(plainJson);
    }
  });

  it.each(CODINGS.map((codings) => [codings.join(', '), codings] as const))('%s: an SSE stream flushed per event, split at many offsets, reads as the plain one', async (_name, codings) => {
    const encoded = await encode(SSE_EVENTS, codings);
    for (let cut = 1; cut < encoded.length; cut += 7) {
      const { forwarded, result } = await observeDecoded(new DecodingObserver(sseObserver(), header(codings)), piecesOf(encoded, [cut, cut + 3, cut + 50]));
      expect(forwarded.equals(encoded)).toBe(true);
      expect(result).toEqual(plainSse);
    }
    // Byte by byte, the most hostile chunking.
    const bytewise = await observeDecoded(new DecodingObserver(sseObserver(), header(codings)), piecesOf(encoded, Array.from({ length: encoded.length }, (_, i) => i + 1)));
    expect(bytewise.forwarded.equals(encoded)).toBe(true);
    expect(bytewise.result).toEqual(plainSse);
  });

  it('deflate: a zlib-wrapped body whose first chunk is a single byte is still read as zlib-wrapped', async () => {
    const encoded = await encode([JSON_BODY], ['deflate']);
    const { result } = await observeDecoded(new DecodingObserver(jsonObserver(), ['deflate']), piecesOf(encoded, [1]));
    expect(result).toEqual(plainJson);
  });

  it('decodes a small body at once when it ends, a large one as it streams: the result is final once drained() resolves', async () => {
    const small = await encode([JSON_BODY], ['gzip']);
    const observer = new DecodingObserver(jsonObserver(), ['gzip']);
    expect(observer.write(small)).toBe(small);
    // Kept, not decoded yet: nothing has reached the JSON observer.
    expect(observer.result().usage).toBeNull();
    expect(observer.flush().length).toBe(0);
    await observer.drained();
    expect(plainObservation(observer.result())).toEqual(plainJson);

    // Past SYNC_DECODE_MAX_ENCODED the bytes are decoded by zlib streams, which never answer synchronously.
    const large = zlib.gzipSync(Buffer.from(JSON.stringify({ model: 'm', data: [{ embedding: randomText(SYNC_DECODE_MAX_ENCODED * 2) }], usage: { prompt_tokens: 7, total_tokens: 7 } })));
    expect(large.length).toBeGreaterThan(SYNC_DECODE_MAX_ENCODED);
    const streaming = new DecodingObserver(jsonObserver(), ['gzip']);
    streaming.write(large);
    streaming.flush();
    expect(streaming.result().usage).toBeNull();
    await streaming.drained();
    expect(streaming.result().usage).toEqual({ promptTokens: 7, completionTokens: 0 });
  });

  it('reports a corrupt body as incomplete without throwing, forwarding it unchanged', async () => {
    const encoded = await encode([JSON_BODY], ['gzip']);
    const corrupt = Buffer.from(encoded);
    for (let i = 20; i < 40; i += 1) corrupt[i] ^= 0x5a;
    for (const [body, codings] of [
      [corrupt, ['gzip']],
      [JSON_BODY, ['gzip']], // not compressed at all
      [JSON_BODY, ['br']],
      [Buffer.concat([encoded.subarray(0, 30), Buffer.from('garbage that is not deflate data at all')]), ['gzip']],
    ] as const) {
      const { forwarded, result } = await observeDecoded(new DecodingObserver(jsonObserver(), codings), piecesOf(body, [10, 25]));
      expect(forwarded.equals(body)).toBe(true);
      expect(result.usage).toBeNull();
      expect(result.complete).toBe(false);
    }
  });

  it('stops a decompression bomb at the decoded-bytes cap: incomplete, the inner observer never sees more than the cap', async () => {
    const maxDecodedBytes = 256 * 1024;
    const bomb = zlib.gzipSync(Buffer.alloc(16 * 1024 * 1024, 0x20)); // 16 MiB of spaces in ~16 KiB
    expect(bomb.length).toBeLessThan(64 * 1024);
    let seen = 0;
    const inner = sseObserver();
    const counting: ResponseObserver = {
      write: (chunk) => {
        seen += chunk.length;
        return inner.write(chunk);
      },
      flush: () => inner.flush(),
      result: () => inner.result(),
    };
    const observer = new DecodingObserver(counting, ['gzip'], maxDecodedBytes);
    const { forwarded, result } = await observeDecoded(observer, piecesOf(bomb, [1000, 5000]));
    expect(forwarded.equals(bomb)).toBe(true);
    expect(result).toEqual({ usage: null, completionText: '', complete: false, unreadable: true });
    expect(seen).toBeLessThanOrEqual(maxDecodedBytes);
    // Writes after the cap are forwarded and ignored.
    const late = Buffer.from('more');
    expect(observer.write(late)).toBe(late);
  });

  it('stops reading when the decoder falls too far behind (more than MAX_PENDING_BYTES waiting)', async () => {
    // A valid gzip body, stored (level 0) so its 12 MB stay 12 MB, with the usage at its end.
    const body = Buffer.from(JSON.stringify({ model: 'm', data: [{ embedding: 'x'.repeat(12 * 1024 * 1024) }], usage: { prompt_tokens: 5, total_tokens: 5 } }));
    const encoded = zlib.gzipSync(body, { level: 0 });
    const whole = await observeDecoded(new DecodingObserver(jsonObserver(), ['gzip']), [encoded]);
    expect(whole.result.usage).toEqual({ promptTokens: 5, completionTokens: 0 });
    // The first 9 MB are still queued (zlib works asynchronously) when the next chunk arrives.
    const behind = await observeDecoded(new DecodingObserver(jsonObserver(), ['gzip']), piecesOf(encoded, [9 * 1024 * 1024]));
    expect(behind.forwarded.equals(encoded)).toBe(true);
    expect(behind.result).toMatchObject({ usage: null, complete: false });
  });

  it('on a stream cut before its end (no flush), drained() reads what arrived', async () => {
    const encoded = await encode(SSE_EVENTS, ['gzip', 'br']);
    const half = encoded.subarray(0, encoded.length >> 1);
    const observer = new DecodingObserver(sseObserver(), ['gzip', 'br']);
    const { forwarded, result } = await observeDecoded(observer, [half], false);
    expect(forwarded.equals(half)).toBe(true);
    expect(result.usage).toBeNull();
    expect(result.complete).toBe(false);
    // What the first half carried was decoded: a prefix of the plain stream's text.
    expect(result.completionText.length).toBeGreaterThan(0);
    expect(plainSse.completionText.startsWith(result.completionText)).toBe(true);
    // The client leaving may still be followed by chunks already in flight: forwarded, never read.
    const rest = encoded.subarray(half.length);
    expect(observer.write(rest)).toBe(rest);
  });

  it('a large stream cut short releases its streaming decoders once drained', async () => {
    const events = Array.from({ length: 40 }, () => Buffer.from(sse({ choices: [{ index: 0, delta: { content: randomText(4096) } }] })));
    const encoded = await encode(events, ['gzip', 'br']);
    const cut = encoded.subarray(0, SYNC_DECODE_MAX_ENCODED + 4096);
    const observer = new DecodingObserver(sseObserver(), ['gzip', 'br']);
    const { result } = await observeDecoded(observer, piecesOf(cut, [1000, SYNC_DECODE_MAX_ENCODED + 10]), false);
    expect(result.complete).toBe(false);
    expect(result.completionText.length).toBeGreaterThan(0);
    // White-box: zlib's functions cannot be spied on, so the release is read from the observer's decoders.
    const decoders = (observer as unknown as { decoders: Array<{ destroyed: boolean }> | null }).decoders;
    expect(decoders).toHaveLength(2);
    expect(decoders?.every((decoder) => decoder.destroyed)).toBe(true);
  });

  it('a usage event that arrived just before the stream was cut is still read', async () => {
    const encoded = await encode(SSE_EVENTS, ['gzip']);
    // Everything but the gzip trailer (CRC and length): the events are all there, the body is cut.
    const cut = encoded.subarray(0, encoded.length - 8);
    const { result } = await observeDecoded(new DecodingObserver(sseObserver(), ['gzip']), [cut], false);
    expect(result.usage).toEqual(plainSse.usage);
  });

  it('reads an empty body without decoding anything', async () => {
    const observer = new DecodingObserver(jsonObserver(), ['gzip']);
    const { forwarded, result } = await observeDecoded(observer, []);
    expect(forwarded.length).toBe(0);
    expect(result).toEqual({ usage: null, completionText: '', complete: false }); // an empty JSON body does not parse
  });
});
