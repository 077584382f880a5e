// HTTP content codings as the providers' edges apply them: which coding a response gets for a
// request's Accept-Encoding, one-shot encoding of JSON bodies, frame-by-frame encoding of streams
// (each frame flushed, so a client decodes every event as it arrives), decoding of request bodies,
// and a gzip decompression bomb built without ever holding its inflated size.
import {
  brotliCompressSync,
  brotliDecompressSync,
  constants,
  crc32,
  createBrotliCompress,
  createDeflate,
  createGzip,
  deflateRawSync,
  deflateSync,
  gunzipSync,
  gzipSync,
  inflateSync,
} from 'node:zlib';

/** A content coding the fakes can apply; `identity` (no coding) is the empty list. */
export type ContentCoding = 'gzip' | 'br' | 'deflate' | 'zstd';

/**
 * What a fake does about response compression (`FakeBehaviour.compression`):
 * - `auto` (default): as OpenAI, Anthropic, Mistral and Azure do — gzip when the request's
 *   Accept-Encoding offers it, else br, else deflate, else identity (`q=0` refuses a coding);
 * - `off`: always identity;
 * - `gzip` | `br` | `deflate`: that coding whatever the request offered;
 * - `gzip, br`: gzip, then br over it (`content-encoding: gzip, br`; a client undoes br first).
 */
export type FakeCompression = 'auto' | 'off' | 'gzip' | 'br' | 'deflate' | 'gzip, br';

/** The parts of `FakeBehaviour` that choose a response's codings. */
export interface CodingChoice {
  compression?: FakeCompression;
  zstd?: boolean;
}

/** The codings a client accepts: explicit names with q > 0, and whether `*` (q > 0) admits the rest. */
function acceptedCodings(acceptEncoding: string): { named: Map<string, number>; wildcard: number | undefined } {
  const named = new Map<string, number>();
  let wildcard: number | undefined;
  for (const element of acceptEncoding.split(',')) {
    const [name, ...parameters] = element.split(';').map((part) => part.trim().toLowerCase());
    if (!name) continue;
    let q = 1;
    for (const parameter of parameters) {
      const match = /^q\s*=\s*([0-9.]+)$/.exec(parameter);
      if (match) q = Number(match[1]);
    }
    if (name === '*') wildcard = q;
    else named.set(name === 'x-gzip' ? 'gzip' : name, q);
  }
  return { named, wildcard };
}

function offers(acceptEncoding: string, coding: string): boolean {
  const { named, wildcard } = acceptedCodings(acceptEncoding);
  const q = named.get(coding);
  if (q !== undefined) return q > 0;
  return wildcard !== undefined && wildcard > 0;
}

/** The fakes prefer gzip, as the providers' edges answer gzip even to `gzip, deflate, br`. */
const PREFERENCE: readonly ContentCoding[] = ['gzip', 'br', 'deflate'];

/**
 * The codings (in the order applied) for a response to a request with this Accept-Encoding.
 * zstd, when `choice.zstd` is set, is chosen only if the client names it (a `*` does not count).
 */
export function responseCodings(acceptEncoding: string | undefined, choice: CodingChoice = {}): ContentCoding[] {
  const compression = choice.compression ?? 'auto';
  if (compression === 'off') return [];
  if (compression !== 'auto') return compression.split(', ') as ContentCoding[];
  if (acceptEncoding === undefined) return [];
  if (choice.zstd && (acceptedCodings(acceptEncoding).named.get('zstd') ?? 0) > 0) return ['zstd'];
  const chosen = PREFERENCE.find((coding) => offers(acceptEncoding, coding));
  return chosen === undefined ? [] : [chosen];
}

/** A complete body with the codings applied in order. */
export function encodeBody(body: Buffer, codings: readonly ContentCoding[]): Buffer {
  let encoded = body;
  for (const coding of codings) {
    if (coding === 'gzip') encoded = gzipSync(encoded);
    else if (coding === 'deflate') encoded = deflateSync(encoded);
    else if (coding === 'br') encoded = brotliCompressSync(encoded, brotliOptions(encoded.length));
    else encoded = Buffer.concat([ZSTD_FRAME_HEADER, ...zstdRawBlocks(encoded), ZSTD_LAST_EMPTY_BLOCK]);
  }
  return encoded;
}

function brotliOptions(sizeHint?: number): { params: Record<number, number> } {
  return {
    params: {
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_QUALITY]: 5,
      ...(sizeHint === undefined ? {} : { [constants.BROTLI_PARAM_SIZE_HINT]: sizeHint }),
    },
  };
}

export interface DecodeOptions {
  /** Refuse to inflate past this many bytes (default 64 MiB). */
  maxOutputLength?: number;
  /** The body may end early (a cut stream): decode what there is instead of throwing. */
  truncated?: boolean;
}

/**
 * Undoes a Content-Encoding header's codings (applied left to right, so undone right to left),
 * as Node can: gzip, deflate, br — not zstd.
 */
export function decodeBody(body: Buffer, contentEncoding: string, options: DecodeOptions = {}): Buffer {
  const maxOutputLength = options.maxOutputLength ?? 64 * 1024 * 1024;
  const zlibOptions = { maxOutputLength, ...(options.truncated ? { finishFlush: constants.Z_SYNC_FLUSH } : {}) };
  const brotliOptions = { maxOutputLength, ...(options.truncated ? { finishFlush: constants.BROTLI_OPERATION_FLUSH } : {}) };
  const codings = contentEncoding
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity');
  let decoded = body;
  for (const coding of codings.reverse()) {
    if (coding === 'gzip' || coding === 'x-gzip') decoded = gunzipSync(decoded, zlibOptions);
    else if (coding === 'deflate') decoded = inflateSync(decoded, zlibOptions);
    else if (coding === 'br') decoded = brotliDecompressSync(decoded, brotliOptions);
    else throw new Error(`unsupported content coding ${coding}`);
  }
  return decoded;
}

/** Reads a zstd frame of raw blocks, the only kind the fakes send (anything else throws). */
export function decodeRawZstdFrame(frame: Buffer): Buffer {
  if (frame.length < 6 || frame.readUInt32LE(0) !== 0xfd2fb528 || frame[4] !== 0x00) throw new Error('not a zstd frame as the fakes write them');
  const content: Buffer[] = [];
  let offset = 6;
  for (;;) {
    if (offset + 3 > frame.length) throw new Error('zstd frame ends without its last block');
    const header = frame.readUIntLE(offset, 3);
    if (((header >> 1) & 3) !== 0) throw new Error('not a raw zstd block');
    const size = header >> 3;
    content.push(frame.subarray(offset + 3, offset + 3 + size));
    offset += 3 + size;
    if (header & 1) break;
  }
  if (offset !== frame.length) throw new Error('bytes after the zstd frame');
  return Buffer.concat(content);
}

interface FrameCoder {
  /** The bytes that make `data` fully decodable by the client (the coder is flushed). */
  frame(data: Buffer): Promise<Buffer>;
  /** Codes `data` and ends the coded stream (trailer, last block). */
  end(data?: Buffer): Promise<Buffer>;
  close(): void;
}

type FlushableStream = ReturnType<typeof createGzip> | ReturnType<typeof createBrotliCompress>;

/** A zlib stream flushed after every frame: Z_SYNC_FLUSH for gzip/deflate, BROTLI_OPERATION_FLUSH for br. */
class ZlibFrameCoder implements FrameCoder {
  private readonly pending: Buffer[] = [];
  private readonly stream: FlushableStream;
  private readonly flushKind: number;

  constructor(coding: 'gzip' | 'br' | 'deflate') {
    if (coding === 'br') {
      this.stream = createBrotliCompress(brotliOptions());
      this.flushKind = constants.BROTLI_OPERATION_FLUSH;
    } else {
      this.stream = coding === 'gzip' ? createGzip() : createDeflate();
      this.flushKind = constants.Z_SYNC_FLUSH;
    }
    this.stream.on('data', (chunk: Buffer) => this.pending.push(chunk));
  }

  async frame(data: Buffer): Promise<Buffer> {
    await new Promise<void>((resolve) => {
      this.stream.write(data);
      this.stream.flush(this.flushKind, () => resolve());
    });
    // Output pushed while flushing may still wait in a nextTick to be emitted as 'data'.
    await new Promise((resolve) => setImmediate(resolve));
    return Buffer.concat(this.pending.splice(0));
  }

  async end(data?: Buffer): Promise<Buffer> {
    const ended = new Promise<void>((resolve, reject) => {
      this.stream.once('end', resolve);
      this.stream.once('error', reject);
    });
    this.stream.end(data);
    await ended;
    return Buffer.concat(this.pending.splice(0));
  }

  close(): void {
    this.stream.destroy();
  }
}

/**
 * zstd without compression: a frame of raw blocks, each event its own block(s), so any zstd
 * decoder reads it. Node 20's zlib has no zstd: a client there cannot decode it at all.
 */
class ZstdFrameCoder implements FrameCoder {
  private started = false;

  frame(data: Buffer): Promise<Buffer> {
    const header = this.started ? [] : [ZSTD_FRAME_HEADER];
    this.started = true;
    return Promise.resolve(Buffer.concat([...header, ...zstdRawBlocks(data)]));
  }

  async end(data: Buffer = Buffer.alloc(0)): Promise<Buffer> {
    return Buffer.concat([await this.frame(data), ZSTD_LAST_EMPTY_BLOCK]);
  }

  close(): void {}
}

// Magic number, frame header descriptor 0 (no content size, no checksum, not single-segment) and a
// window descriptor of 2^(10+7) = 128 KiB, the largest block a raw block may then carry.
const ZSTD_FRAME_HEADER = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38]);
const ZSTD_MAX_BLOCK = 128 * 1024;
// Block header (3 bytes, little-endian): last-block bit, type 0 (raw), size 0.
const ZSTD_LAST_EMPTY_BLOCK = Buffer.from([0x01, 0x00, 0x00]);

function zstdRawBlocks(data: Buffer): Buffer[] {
  const blocks: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += ZSTD_MAX_BLOCK) {
    const content = data.subarray(offset, offset + ZSTD_MAX_BLOCK);
    const header = Buffer.alloc(3);
    header.writeUIntLE(content.length << 3, 0, 3);
    blocks.push(header, content);
  }
  return blocks;
}

/** Encodes a stream frame by frame through the codings (each coder's output feeds the next). */
export class StreamEncoder {
  private readonly coders: FrameCoder[];

  constructor(codings: readonly ContentCoding[]) {
    this.coders = codings.map((coding) => (coding === 'zstd' ? new ZstdFrameCoder() : new ZlibFrameCoder(coding)));
  }

  async frame(data: Buffer): Promise<Buffer> {
    let coded = data;
    for (const coder of this.coders) coded = await coder.frame(coded);
    return coded;
  }

  async end(): Promise<Buffer> {
    let coded: Buffer | undefined;
    for (const coder of this.coders) coded = await coder.end(coded);
    return coded ?? Buffer.alloc(0);
  }

  close(): void {
    for (const coder of this.coders) coder.close();
  }
}

// --- decompression bomb -------------------------------------------------------------------------

const BOMB_CHUNK = 1024 * 1024;
let bombChunkBlocks: Buffer | undefined;

/**
 * Raw deflate blocks for 1 MiB of spaces that end on a full flush: they refer to nothing before
 * them, so the same bytes can stand for every further MiB of padding (about 1 KB each).
 */
function spacesBlocks(): Buffer {
  bombChunkBlocks ??= deflateRawSync(Buffer.alloc(BOMB_CHUNK, 0x20), { level: 9, finishFlush: constants.Z_FULL_FLUSH });
  return bombChunkBlocks;
}

/**
 * A gzip member whose inflated content is `prefix`, then spaces, then `suffix`, `inflatedSize`
 * bytes in all (no padding when prefix and suffix alone are longer). It is assembled from
 * self-contained deflate blocks — the padding's MiB blocks repeated — and the CRC is computed
 * over a reused 1 MiB buffer, so nothing of the inflated size is ever allocated; deflate's best
 * ratio (about 1030:1) makes 1 GiB weigh about 1 MB.
 */
export function gzipBomb(prefix: string, suffix: string, inflatedSize: number): Buffer {
  const head = Buffer.from(prefix);
  const tail = Buffer.from(suffix);
  const padding = Math.max(0, inflatedSize - head.length - tail.length);
  const chunks = Math.floor(padding / BOMB_CHUNK);
  const rest = Buffer.concat([Buffer.alloc(padding % BOMB_CHUNK, 0x20), tail]);

  const parts: Buffer[] = [GZIP_HEADER, deflateRawSync(head, { level: 9, finishFlush: constants.Z_FULL_FLUSH })];
  let crc = crc32(head);
  if (chunks > 0) {
    const blocks = spacesBlocks();
    const spaces = Buffer.alloc(BOMB_CHUNK, 0x20);
    for (let i = 0; i < chunks; i++) {
      parts.push(blocks);
      crc = crc32(spaces, crc);
    }
  }
  parts.push(deflateRawSync(rest, { level: 9 }));
  crc = crc32(rest, crc);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE((head.length + chunks * BOMB_CHUNK + rest.length) % 2 ** 32, 4);
  parts.push(trailer);
  return Buffer.concat(parts);
}

// ID1 ID2, CM=deflate, no flags, no mtime, XFL=2 (best compression), OS=255 (unknown).
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xff]);
