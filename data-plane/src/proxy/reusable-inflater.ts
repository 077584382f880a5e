// One-shot gzip/deflate decoding on a reused zlib handle.
//
// node:zlib's gunzipSync/inflateSync build a whole Transform stream, a 16 KB output buffer and a native
// handle (inflateInit2: a 32 KB window) on every call, and close them at the end: for the few hundred
// bytes of a compressed JSON answer that costs more than the inflating (bench/README.md, "Issue 11:
// the gzip case"). Node offers no public way to decode synchronously on a handle it keeps. This keeps
// one decoder object per format for the process and drives its native handle the way node:zlib's own
// synchronous path does (`handle.writeSync(flush, in, inOff, inLen, out, outOff, outLen)`, what is
// left of in and out read back from the stream's `_writeState`), resetting it (inflateReset, the
// documented `zlib.reset()`) before each body. The native code is the same, so multi-member gzip,
// trailing bytes and error reports behave exactly as gunzipSync/inflateSync; when the internals are
// not as expected (another Node major), those functions are used instead. Synchronous calls cannot
// interleave, so one decoder per format is enough.
import { constants as zlib, createGunzip, createInflate, createInflateRaw, gunzipSync, inflateRawSync, inflateSync, type Gunzip, type Inflate, type InflateRaw } from 'node:zlib';

export type InflateFormat = 'gzip' | 'deflate' | 'deflate-raw';

/** The output is too large for the cap given (node:zlib's ERR_BUFFER_TOO_LARGE). */
export class InflateTooLargeError extends RangeError {
  override readonly name = 'InflateTooLargeError';
}

/** The input does not decode in its format (the message is zlib's). */
export class InflateCorruptError extends Error {
  override readonly name = 'InflateCorruptError';
}

/** The parts of node:zlib's stream this relies on (lib/zlib.js: ZlibBase, processChunkSync). */
interface NativeHandle {
  writeSync(flush: number, input: Buffer, inOff: number, inLen: number, out: Buffer, outOff: number, outLen: number): void;
  reset(): void;
}
type Decoder = (Gunzip | Inflate | InflateRaw) & { _handle?: NativeHandle | null; _writeState?: Uint32Array };

/** Output is produced into this buffer and copied out (a small copy comes from Buffer's pool). */
const SCRATCH_BYTES = 64 * 1024;
let scratch: Buffer | null = null;
const decoders = new Map<InflateFormat, Decoder>();

function create(format: InflateFormat): Decoder {
  const decoder: Decoder = format === 'gzip' ? createGunzip() : format === 'deflate' ? createInflate() : createInflateRaw();
  // A zlib error destroys the stream, which then emits 'error' on the next tick: nobody else listens.
  decoder.on('error', () => undefined);
  return decoder;
}

type UsableDecoder = Decoder & { _handle: NativeHandle; _writeState: Uint32Array };

function usable(decoder: Decoder): decoder is UsableDecoder {
  return !decoder.destroyed && typeof decoder._handle?.writeSync === 'function' && typeof decoder._handle.reset === 'function' && ArrayBuffer.isView(decoder._writeState) && decoder._writeState.length >= 2;
}

function decoderFor(format: InflateFormat): UsableDecoder | null {
  let decoder = decoders.get(format);
  if (decoder === undefined || decoder.destroyed) {
    decoder = create(format);
    decoders.set(format, decoder);
  }
  return usable(decoder) ? decoder : null;
}

/** True when decoding runs on kept handles (Node's zlib internals are as this module expects). */
export function reusesHandles(): boolean {
  return decoderFor('gzip') !== null && decoderFor('deflate') !== null && decoderFor('deflate-raw') !== null;
}

/** node:zlib's own one-shot function, for a Node whose zlib internals differ. */
function fallback(format: InflateFormat, input: Buffer, maxBytes: number, finishFlush: number): Buffer {
  const options = { maxOutputLength: maxBytes, finishFlush };
  try {
    return format === 'gzip' ? gunzipSync(input, options) : format === 'deflate' ? inflateSync(input, options) : inflateRawSync(input, options);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new InflateTooLargeError(`output larger than ${maxBytes} bytes`);
    throw new InflateCorruptError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * Decodes `input` whole, as gunzipSync/inflateSync/inflateRawSync with `{ maxOutputLength: maxBytes,
 * finishFlush }` would; `finishFlush` Z_SYNC_FLUSH decodes a truncated body as far as it goes.
 */
export function inflateWhole(format: InflateFormat, input: Buffer, maxBytes: number, finishFlush: number = zlib.Z_FINISH): Buffer {
  const decoder = decoderFor(format);
  if (decoder === null) return fallback(format, input, maxBytes, finishFlush);
  const handle = decoder._handle;
  const state = decoder._writeState;
  handle.reset();
  scratch ??= Buffer.allocUnsafe(SCRATCH_BYTES);
  const out = scratch;
  let first: Buffer | null = null;
  let more: Buffer[] | null = null;
  let total = 0;
  let inOff = 0;
  let inLen = input.length;
  for (;;) {
    handle.writeSync(finishFlush, input, inOff, inLen, out, 0, out.length);
    // An error calls the handle's onerror synchronously, which destroys (and closes) the decoder.
    if (decoder.destroyed) {
      decoders.delete(format);
      throw new InflateCorruptError(`invalid ${format} data`);
    }
    const availOut = state[0];
    const availIn = state[1];
    const produced = out.length - availOut;
    if (produced > 0) {
      total += produced;
      if (total > maxBytes) throw new InflateTooLargeError(`output larger than ${maxBytes} bytes`);
      const copy = Buffer.from(out.subarray(0, produced));
      if (first === null) first = copy;
      else (more ??= [first]).push(copy);
    }
    if (availOut !== 0) break;
    // The output filled up: go on where the input stopped.
    inOff += inLen - availIn;
    inLen = availIn;
  }
  if (more !== null) return Buffer.concat(more, total);
  return first ?? Buffer.alloc(0);
}
