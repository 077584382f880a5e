import { brotliDecompressSync, createGunzip, gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import { type ContentCoding, StreamEncoder, decodeBody, decodeRawZstdFrame, encodeBody, gzipBomb, responseCodings } from './index';

describe('content codings of the fakes', () => {
  it('chooses gzip first, then br, then deflate, honouring q=0 and *', () => {
    expect(responseCodings('gzip, deflate')).toEqual(['gzip']);
    expect(responseCodings('gzip, deflate, br')).toEqual(['gzip']);
    expect(responseCodings('br, deflate, gzip')).toEqual(['gzip']);
    expect(responseCodings('deflate, br')).toEqual(['br']);
    expect(responseCodings('deflate')).toEqual(['deflate']);
    expect(responseCodings('gzip;q=0, deflate;q=0.5')).toEqual(['deflate']);
    expect(responseCodings('GZIP ; Q=0 , br;q=1.0')).toEqual(['br']);
    expect(responseCodings('gzip;q=0, br;q=0, deflate;q=0')).toEqual([]);
    expect(responseCodings('*')).toEqual(['gzip']);
    expect(responseCodings('*, gzip;q=0')).toEqual(['br']);
    expect(responseCodings('*;q=0, deflate')).toEqual(['deflate']);
    expect(responseCodings('identity')).toEqual([]);
    expect(responseCodings('')).toEqual([]);
    expect(responseCodings(undefined)).toEqual([]); // the AWS SDK sends none
  });

  it('answers zstd only when asked to and the client names it', () => {
    expect(responseCodings('gzip, deflate, br, zstd')).toEqual(['gzip']);
    expect(responseCodings('gzip, deflate, br, zstd', { zstd: true })).toEqual(['zstd']);
    expect(responseCodings('gzip, zstd;q=0', { zstd: true })).toEqual(['gzip']);
    expect(responseCodings('*', { zstd: true })).toEqual(['gzip']);
    expect(responseCodings('gzip, deflate', { zstd: true })).toEqual(['gzip']);
  });

  it('applies forced codings whatever the client offered, and none when off', () => {
    expect(responseCodings(undefined, { compression: 'br' })).toEqual(['br']);
    expect(responseCodings('identity', { compression: 'deflate' })).toEqual(['deflate']);
    expect(responseCodings('gzip', { compression: 'gzip, br' })).toEqual(['gzip', 'br']);
    expect(responseCodings('gzip, deflate', { compression: 'off' })).toEqual([]);
    expect(responseCodings('gzip, deflate, zstd', { compression: 'off', zstd: true })).toEqual([]);
  });

  it('encodes whole bodies so that Node decodes them, stacked codings undone right to left', () => {
    const body = Buffer.from(JSON.stringify({ text: 'Grüße '.repeat(100) }));
    expect(gunzipSync(encodeBody(body, ['gzip']))).toEqual(body);
    expect(inflateSync(encodeBody(body, ['deflate']))).toEqual(body);
    expect(brotliDecompressSync(encodeBody(body, ['br']))).toEqual(body);
    const stacked = encodeBody(body, ['gzip', 'br']);
    expect(gunzipSync(brotliDecompressSync(stacked))).toEqual(body);
    expect(decodeBody(stacked, 'gzip, br')).toEqual(body);
    expect(decodeBody(encodeBody(body, ['deflate']), 'Deflate')).toEqual(body);
    expect(decodeBody(body, 'identity')).toEqual(body);
    expect(() => decodeBody(body, 'gzip')).toThrow();
    const gzip = encodeBody(body, ['gzip']);
    const cut = gzip.subarray(0, gzip.length - 12);
    expect(() => decodeBody(cut, 'gzip')).toThrow();
    expect(body.toString().startsWith(decodeBody(cut, 'gzip', { truncated: true }).toString())).toBe(true);
  });

  it('frames zstd as raw blocks that a zstd decoder reads and Node 20 cannot', () => {
    const body = Buffer.from(`{"padding":"${' '.repeat(300_000)}"}`); // more than two 128 KiB blocks
    const frame = encodeBody(body, ['zstd']);
    expect(decodeRawZstdFrame(frame).equals(body)).toBe(true);
    expect(() => decodeBody(frame, 'zstd')).toThrow(/unsupported content coding zstd/);
    expect(() => decodeRawZstdFrame(frame.subarray(0, frame.length - 1))).toThrow();
  });

  it.each<[ContentCoding[], (coded: Buffer) => Buffer]>([
    [['gzip'], (coded) => gunzipSync(coded)],
    [['deflate'], (coded) => inflateSync(coded)],
    [['br'], (coded) => brotliDecompressSync(coded)],
    [['gzip', 'br'], (coded) => gunzipSync(brotliDecompressSync(coded))],
    [['zstd'], (coded) => decodeRawZstdFrame(coded)],
  ])('encodes a stream frame by frame with %j: the frames and the end make the whole body', async (codings, decode) => {
    const frames = ['data: {"n":1}\n\n', `data: {"n":2,"big":"${'x'.repeat(200_000)}"}\n\n`, 'data: [DONE]\n\n'];
    const encoder = new StreamEncoder(codings);
    const coded: Buffer[] = [];
    for (const frame of frames) coded.push(await encoder.frame(Buffer.from(frame)));
    coded.push(await encoder.end());
    encoder.close();
    expect(decode(Buffer.concat(coded)).toString()).toBe(frames.join(''));
  });

  it('flushes gzip per frame: each frame decodes from the bytes sent so far', async () => {
    const encoder = new StreamEncoder(['gzip']);
    const gunzip = createGunzip();
    let decoded = '';
    gunzip.on('data', (chunk: Buffer) => (decoded += chunk.toString()));
    for (const frame of ['event: a\ndata: {}\n\n', 'event: b\ndata: {}\n\n']) {
      const coded = await encoder.frame(Buffer.from(frame));
      await new Promise<void>((resolve) => gunzip.write(coded, () => resolve()));
      await new Promise((resolve) => setImmediate(resolve));
      expect(decoded.endsWith(frame)).toBe(true);
    }
    encoder.close();
    gunzip.destroy();
  });

  it('builds a gzip bomb that inflates to exactly the asked size, prefix first and suffix last', () => {
    const bomb = gzipBomb('{"id":"x",', '"usage":{"total":3}}', 3 * 1024 * 1024 + 123);
    expect(bomb.length).toBeLessThan(4 * 1024);
    const inflated = gunzipSync(bomb); // also checks the CRC and length of the trailer
    expect(inflated.length).toBe(3 * 1024 * 1024 + 123);
    expect(JSON.parse(inflated.toString())).toEqual({ id: 'x', usage: { total: 3 } });
    expect(inflated.toString().endsWith(' "usage":{"total":3}}')).toBe(true);

    expect(gunzipSync(gzipBomb('{"a":1', '}', 0)).toString()).toBe('{"a":1}'); // no room for padding
  });

  it('compresses a bomb about as well as gzip itself does', () => {
    const size = 64 * 1024 * 1024;
    const bomb = gzipBomb('{', '}', size);
    const reference = gzipSync(Buffer.alloc(4 * 1024 * 1024, 0x20), { level: 9 }).length * 16;
    expect(bomb.length).toBeLessThan(reference * 1.1);
    expect(bomb.length).toBeLessThan(size / 1000);
  });
});
