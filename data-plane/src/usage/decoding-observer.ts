// Reads a compressed response for usage without touching what the client receives: the encoded bytes
// are forwarded as they came, and a decoded copy is fed to the provider's observer as zlib produces
// it. Memory stays bounded: decoded bytes are read as they appear and never held here, and decoding
// stops (the response is then reported incomplete and estimated) past MAX_DECODED_BYTES or when the
// decoder falls MAX_PENDING_BYTES behind — a decompression bomb costs CPU up to the cap, never memory.
import { type Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate, createInflateRaw, constants as zlib } from 'node:zlib';
import { isZlibWrapped } from '../proxy/content-encoding';
import type { ObservedUsage, ResponseObserver } from '../providers/usage-accounting';
import { EMPTY_BUFFER } from '../providers/shared/usage-tally';

/**
 * Most decoded bytes read from one response: embeddings answers run to tens of MB (base64, the SDKs'
 * default, about 16 MB for 2,048 inputs of 1,536 dimensions); past it the usage is estimated.
 */
export const MAX_DECODED_BYTES = 64 * 1024 * 1024;
/** Most encoded bytes waiting for the decoder. */
export const MAX_PENDING_BYTES = 8 * 1024 * 1024;

export class DecodingObserver implements ResponseObserver {
  /** Decoders in decoding order (the last coding applied is undone first); built at the first chunk. */
  private decoders: Transform[] | null = null;
  private decodedBytes = 0;
  /** A deflate body's first byte, held until the second tells its framing. */
  private firstBytes: Buffer | null = null;
  private failed = false;
  private ended = false;
  private readonly done: Promise<void>;
  private markDone!: () => void;

  constructor(
    private readonly inner: ResponseObserver,
    /** Content codings in the order they were applied; every one decodable (see canDecode). */
    private readonly codings: readonly string[],
    private readonly maxDecodedBytes = MAX_DECODED_BYTES,
  ) {
    this.done = new Promise((resolve) => {
      this.markDone = resolve;
    });
  }

  write(chunk: Buffer): Buffer {
    if (this.failed || this.ended || chunk.length === 0) return chunk;
    let input = chunk;
    if (this.decoders === null) {
      // A deflate body is told zlib-wrapped or raw by its first two bytes: wait for them.
      input = this.firstBytes === null ? chunk : Buffer.concat([this.firstBytes, chunk]);
      if (input.length < 2 && this.codings[this.codings.length - 1] === 'deflate') {
        this.firstBytes = input;
        return chunk;
      }
      this.firstBytes = null;
      this.decoders = this.build(input);
    }
    const head = this.decoders[0];
    if (head.writableLength > MAX_PENDING_BYTES) this.fail();
    else head.write(input);
    return chunk;
  }

  flush(): Buffer {
    if (this.ended) return EMPTY_BUFFER;
    this.ended = true;
    if (this.failed) return EMPTY_BUFFER;
    if (this.decoders === null && this.firstBytes !== null) this.decoders = this.build(this.firstBytes);
    if (this.decoders === null) {
      // An empty body: nothing to decode.
      this.inner.flush();
      this.markDone();
    } else {
      this.decoders[0].end();
    }
    return EMPTY_BUFFER;
  }

  drained(): Promise<void> {
    if (this.failed) return Promise.resolve();
    // Cut short (the provider or the client left): decode what arrived (the decoders flush a
    // truncated body as far as it goes), so a usage event that made it in is still read.
    if (!this.ended) this.flush();
    return this.done;
  }

  result(): ObservedUsage {
    const observed = this.inner.result();
    return this.failed ? { ...observed, complete: false } : observed;
  }

  private build(first: Buffer): Transform[] {
    const decoders: Transform[] = [];
    for (let i = this.codings.length - 1; i >= 0; i -= 1) {
      const coding = this.codings[i];
      // Flush modes as fetch uses them: a stream cut at a flush point still yields what it carried.
      if (coding === 'br') decoders.push(createBrotliDecompress({ flush: zlib.BROTLI_OPERATION_FLUSH, finishFlush: zlib.BROTLI_OPERATION_FLUSH }));
      else if (coding === 'deflate') {
        const raw = i === this.codings.length - 1 && !isZlibWrapped(first);
        decoders.push(raw ? createInflateRaw({ flush: zlib.Z_SYNC_FLUSH, finishFlush: zlib.Z_SYNC_FLUSH }) : createInflate({ flush: zlib.Z_SYNC_FLUSH, finishFlush: zlib.Z_SYNC_FLUSH }));
      } else decoders.push(createGunzip({ flush: zlib.Z_SYNC_FLUSH, finishFlush: zlib.Z_SYNC_FLUSH }));
    }
    for (let i = 0; i < decoders.length; i += 1) {
      const decoder = decoders[i];
      decoder.on('error', () => this.fail());
      if (i + 1 < decoders.length) decoder.pipe(decoders[i + 1]);
    }
    const last = decoders[decoders.length - 1];
    last.on('data', (decoded: Buffer) => {
      if (this.failed) return;
      this.decodedBytes += decoded.length;
      if (this.decodedBytes > this.maxDecodedBytes) {
        this.fail();
        return;
      }
      this.inner.write(decoded);
    });
    last.on('end', () => {
      if (!this.failed) this.inner.flush();
      this.markDone();
    });
    return decoders;
  }

  /** Stops reading this response: reported incomplete, decoders released. */
  private fail(): void {
    if (this.failed) return;
    this.failed = true;
    this.stop();
  }

  private stop(): void {
    if (this.decoders !== null) for (const decoder of this.decoders) decoder.destroy();
    this.markDone();
  }
}
