import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import {
  CorruptContentEncodingError,
  DecodedBodyTooLargeError,
  UnsupportedContentEncodingError,
  canDecode,
  contentCodings,
  decodeBody,
  isZlibWrapped,
  observableAcceptEncoding,
} from './content-encoding';

const BODY = Buffer.from(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Grüße 👋 '.repeat(50) }] }));

describe('contentCodings', () => {
  it('lists the codings in the order they were applied, lower-cased, identity and blanks left out', () => {
    expect(contentCodings(undefined)).toEqual([]);
    expect(contentCodings('')).toEqual([]);
    expect(contentCodings('identity')).toEqual([]);
    expect(contentCodings('GZip')).toEqual(['gzip']);
    expect(contentCodings('gzip, br')).toEqual(['gzip', 'br']);
    expect(contentCodings(' Deflate ,identity,, BR ')).toEqual(['deflate', 'br']);
    expect(contentCodings(['gzip', 'br'])).toEqual(['gzip', 'br']);
  });

  it('can decode gzip, x-gzip, deflate and br only', () => {
    expect(canDecode([])).toBe(true);
    expect(canDecode(['gzip', 'x-gzip', 'deflate', 'br'])).toBe(true);
    expect(canDecode(['zstd'])).toBe(false);
    expect(canDecode(['gzip', 'compress'])).toBe(false);
  });
});

describe('observableAcceptEncoding', () => {
  it.each([
    ['gzip, deflate', 'gzip, deflate'],
    ['gzip, deflate, br', 'gzip, deflate, br'],
    ['gzip, deflate, br, zstd', 'gzip, deflate, br'],
    ['zstd', 'identity'],
    ['*', 'identity'],
    ['gzip, *', 'gzip'],
    ['br;q=1.0, gzip;q=0.8, zstd;q=0.9, *;q=0.1', 'br;q=1.0, gzip;q=0.8'],
    ['identity', 'identity'],
    ['GZIP', 'GZIP'],
  ])('%s → %s', (header, expected) => {
    expect(observableAcceptEncoding(header)).toBe(expected);
    expect(observableAcceptEncoding(header)).toBe(expected); // answered from the cache the second time
  });
});

describe('decodeBody', () => {
  it('decodes gzip, x-gzip, deflate (zlib-wrapped and raw) and br', () => {
    expect(decodeBody(gzipSync(BODY), ['gzip'], 1 << 20).equals(BODY)).toBe(true);
    expect(decodeBody(gzipSync(BODY), ['x-gzip'], 1 << 20).equals(BODY)).toBe(true);
    expect(decodeBody(deflateSync(BODY), ['deflate'], 1 << 20).equals(BODY)).toBe(true);
    expect(decodeBody(deflateRawSync(BODY), ['deflate'], 1 << 20).equals(BODY)).toBe(true);
    expect(decodeBody(brotliCompressSync(BODY), ['br'], 1 << 20).equals(BODY)).toBe(true);
  });

  it('leaves a body without codings as it is', () => {
    expect(decodeBody(BODY, [], 10)).toBe(BODY);
  });

  it('undoes stacked codings last-applied first', () => {
    // Content-Encoding: gzip, br — gzip applied first, then br: br is undone first.
    const encoded = brotliCompressSync(gzipSync(BODY));
    expect(decodeBody(encoded, contentCodings('gzip, br'), 1 << 20).equals(BODY)).toBe(true);
    expect(() => decodeBody(encoded, ['br', 'gzip'], 1 << 20)).toThrow(CorruptContentEncodingError);
    expect(decodeBody(gzipSync(deflateSync(BODY)), ['deflate', 'gzip'], 1 << 20).equals(BODY)).toBe(true);
  });

  it('refuses codings it cannot decode', () => {
    expect(() => decodeBody(BODY, ['zstd'], 1 << 20)).toThrow(UnsupportedContentEncodingError);
    expect(() => decodeBody(gzipSync(BODY), ['gzip', 'compress'], 1 << 20)).toThrow(UnsupportedContentEncodingError);
  });

  it.each([
    ['gzip', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
  ] as const)('stops %s inflating past maxBytes', (coding, compress) => {
    const bomb = compress(Buffer.alloc(1 << 20, 0x20)); // 1 MiB of spaces compresses to a few hundred bytes
    expect(bomb.length).toBeLessThan(2048);
    expect(() => decodeBody(bomb, [coding], 64 * 1024)).toThrow(DecodedBodyTooLargeError);
    expect(decodeBody(bomb, [coding], 1 << 20).length).toBe(1 << 20); // exactly at the limit: accepted
  });

  it('reports corrupt data as CorruptContentEncodingError', () => {
    const gzip = gzipSync(BODY);
    const flipped = Buffer.from(gzip);
    flipped[gzip.length - 6] ^= 0xff; // inside the CRC32 trailer
    for (const [body, coding] of [
      [BODY, 'gzip'],
      [flipped, 'gzip'],
      [gzip.subarray(0, gzip.length - 10), 'gzip'],
      [BODY, 'br'],
      [Buffer.from([0x78, 0x9c, 0xff, 0xff, 0xff]), 'deflate'],
    ] as const) {
      expect(() => decodeBody(body, [coding], 1 << 20)).toThrow(CorruptContentEncodingError);
    }
  });
});

describe('isZlibWrapped', () => {
  it('tells a zlib header from raw deflate', () => {
    for (const level of [0, 1, 6, 9]) expect(isZlibWrapped(deflateSync(BODY, { level }))).toBe(true);
    expect(isZlibWrapped(deflateRawSync(BODY))).toBe(false);
    expect(isZlibWrapped(Buffer.from([0x78]))).toBe(false);
    expect(isZlibWrapped(Buffer.alloc(0))).toBe(false);
  });
});
