import { randomBytes } from 'node:crypto';
import { constants as zlib, deflateRawSync, deflateSync, gunzipSync, gzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import { InflateCorruptError, type InflateFormat, InflateTooLargeError, inflateWhole, reusesHandles } from './reusable-inflater';

const FORMATS: ReadonlyArray<readonly [InflateFormat, (data: Buffer) => Buffer, (data: Buffer, options: object) => Buffer]> = [
  ['gzip', gzipSync, gunzipSync],
  ['deflate', deflateSync, inflateSync],
  ['deflate-raw', deflateRawSync, inflateRawSync],
];

/** Text that compresses as JSON answers do, of the given length. */
function text(length: number): Buffer {
  const words = ['{"usage":', '"prompt_tokens":', '12', 'Hello', ' there', '!', '\n', 'data: ', '"model":"gpt-4o"', '}'];
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < length; i += 1) {
    const word = words[(i * 7 + (i >> 3)) % words.length];
    parts.push(word);
    size += word.length;
  }
  return Buffer.from(parts.join('').slice(0, length));
}

/** What node:zlib's own one-shot function answers: the bytes, or the kind of error. */
function reference(decode: (data: Buffer, options: object) => Buffer, input: Buffer, maxBytes: number, finishFlush: number): Buffer | 'too large' | 'corrupt' {
  try {
    return decode(input, { maxOutputLength: maxBytes, finishFlush });
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ? 'too large' : 'corrupt';
  }
}

function ours(format: InflateFormat, input: Buffer, maxBytes: number, finishFlush: number): Buffer | 'too large' | 'corrupt' {
  try {
    return inflateWhole(format, input, maxBytes, finishFlush);
  } catch (error) {
    if (error instanceof InflateTooLargeError) return 'too large';
    if (error instanceof InflateCorruptError) return 'corrupt';
    throw error;
  }
}

it('runs on kept handles on this Node (not on the fallback to gunzipSync and co.)', () => {
  expect(reusesHandles()).toBe(true);
});

describe.each(FORMATS)('inflateWhole(%s)', (format, compress, decode) => {
  it('answers what node:zlib answers, body after body on the same handle: sizes around its output buffer, random data, corrupt and cut bodies', () => {
    const bodies: Buffer[] = [];
    for (const length of [0, 1, 300, 16 * 1024, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 200_000]) bodies.push(compress(text(length)));
    bodies.push(compress(randomBytes(100_000))); // incompressible: the output fills the buffer many times
    const good = compress(text(5_000));
    for (const at of [0, 3, 11, good.length >> 1, good.length - 6, good.length - 1]) {
      const flipped = Buffer.from(good);
      flipped[at] ^= 0x5a;
      bodies.push(flipped);
    }
    for (const cut of [1, 9, good.length >> 1, good.length - 4]) bodies.push(good.subarray(0, cut));
    bodies.push(Buffer.concat([good, Buffer.from('trailing bytes')]));
    bodies.push(randomBytes(40));
    let corrupt = 0;
    for (const finishFlush of [zlib.Z_FINISH, zlib.Z_SYNC_FLUSH]) {
      for (const body of bodies) {
        const expected = reference(decode, body, 1 << 20, finishFlush);
        const actual = ours(format, body, 1 << 20, finishFlush);
        if (expected === 'corrupt') corrupt += 1;
        if (Buffer.isBuffer(expected)) expect(Buffer.isBuffer(actual) && actual.equals(expected)).toBe(true);
        else expect(actual).toBe(expected);
      }
    }
    expect(corrupt).toBeGreaterThan(4); // the corrupt bodies did fail, and the next ones still decoded
  });

  it('stops at maxBytes: a bomb is refused, a body exactly at the cap decodes', () => {
    const bomb = compress(Buffer.alloc(8 << 20, 0x20));
    expect(bomb.length).toBeLessThan(16 * 1024);
    expect(() => inflateWhole(format, bomb, 1 << 20)).toThrow(InflateTooLargeError);
    expect(inflateWhole(format, bomb, 8 << 20).length).toBe(8 << 20);
    expect(inflateWhole(format, compress(Buffer.from('after the bomb')), 100).toString()).toBe('after the bomb');
  });
});

it('decodes a multi-member gzip body whole, as gunzipSync does', () => {
  const body = Buffer.concat([gzipSync('first member, '), gzipSync('second member')]);
  expect(inflateWhole('gzip', body, 1 << 20).toString()).toBe('first member, second member');
});

it('hands out copies: a later decode does not change an earlier answer', () => {
  const first = inflateWhole('gzip', gzipSync('one answer'), 1 << 20);
  inflateWhole('gzip', gzipSync('another answer, longer'), 1 << 20);
  expect(first.toString()).toBe('one answer');
});
