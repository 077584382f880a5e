// Reads a compressed response for usage without touching what the client receives: the encoded bytes
// are forwarded as they came, and a decoded copy is fed to the provider's observer.
// - Small bodies (most JSON answers and short streams: up to SYNC_DECODE_MAX_ENCODED bytes encoded)
//   are kept and decoded in one synchronous call at the end: a zlib stream per response costs several
//   times the decoding itself.
// - Larger ones switch to node:zlib streams as the bytes pass: decoded bytes are read as they appear
//   and never held here.
// Memory stays bounded either way: decoding stops (the response is then reported incomplete and
// estimated) past MAX_DECODED_BYTES or when the decoder falls MAX_PENDING_BYTES behind — a
// decompression bomb costs CPU up to the cap, never memory.
import { type Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate, createInflateRaw, constants as zlib } from 'node:zlib';
import { DecodedBodyTooLargeError, decodeBody, isZlibWrapped } from '../proxy/content-encoding';
import type { ObservedUsage, ResponseObserver } from '../providers/usage-accounting';
import { EMPTY_BUFFER } from '../providers/shared/usage-tally';

/**
 * Most decoded bytes read from one response: embeddings answers run to tens of MB (base64, the SDKs'
 * default, about 16 MB for 2,048 inputs of 1,536 dimensions); past it the usage is estimated.
 */
export const MAX_DECODED_BYTES = 64 * 1024 * 1024;
/** Most encoded bytes waiting for the decoder. */
export const MAX_PENDING_BYTES = 8 * 1024 * 1024;
/** Encoded bodies up to this size are decoded at once at the end (what they inflate to is capped too). */
export const SYNC_DECODE_MAX_ENCODED = 64 * 1024;
/** The synchronous decode stops here (a few ms of work at most) and hands over to the streaming one. */
const SYNC_DECODE_MAX_DECODED = 4 * 1024 * 1024;

export class DecodingObserver implements ResponseObserver {
  /** Streaming decoders in decoding order (the last coding applied is undone first), once streaming. */
  private decoders: Transform[] | null = null;
  /** Encoded bytes kept for a synchronous decode (until they outgrow SYNC_DECODE_MAX_ENCODED). */
  private kept: Buffer[] = [];
  private keptLength = 0;
  private decodedBytes = 0;
  private failed = false;
  private ended = false;
  /** True once every byte written has been read (decoded, or given up on). */
  private read = false;
  /** What drained() returned while streaming decoders were still at work; settled by markDone(). */
  private done: { readonly promise: Promise<void>; readonly resolve: () => void } | null = null;

  constructor(
    private readonly inner: ResponseObserver,
    /** Content codings in the order they were applied; every one decodable (see canDecode). */
    private readonly codings: readonly string[],
    private readonly maxDecodedBytes = MAX_DECODED_BYTES,
  ) {}

  write(chunk: Buffer): Buffer {
    if (this.failed || this.ended || chunk.length === 0) return chunk;
    if (this.decoders === null) {
      this.kept.push(chunk);
      this.keptLength += chunk.length;
      if (this.keptLength > SYNC_DECODE_MAX_ENCODED) this.startStreaming();
      return chunk;
    }
    const head = this.decoders[0];
    if (head.writableLength > MAX_PENDING_BYTES) this.fail();
    else head.write(chunk);
    return chunk;
  }

  flush(): Buffer {
    this.finishInput(false);
    return EMPTY_BUFFER;
  }

  drained(): Promise<void> | null {
    // Cut short (the provider or the client left): decode what arrived (a truncated body decodes as
    // far as it goes), so a usage event that made it in is still read.
    this.finishInput(true);
    if (this.read) return null;
    if (this.done === null) {
      let resolve!: () => void;
      const promise = new Promise<void>((settle) => {
        resolve = settle;
      });
      this.done = { promise, resolve };
    }
    return this.done.promise;
  }

  result(): ObservedUsage {
    const observed = this.inner.result();
    return this.failed ? { ...observed, complete: false, unreadable: true } : observed;
  }

  private finishInput(truncated: boolean): void {
    if (this.ended) return;
    this.ended = true;
    if (this.failed) return;
    if (this.decoders !== null) {
      this.decoders[0].end();
      return;
    }
    if (this.keptLength > 0 && !this.decodeKept(truncated)) return;
    this.inner.flush();
    this.markDone();
  }

  /** Decodes the kept bytes at once; false when it handed them to the streaming decoders instead (or failed). */
  private decodeKept(truncated: boolean): boolean {
    const encoded = this.kept.length === 1 ? this.kept[0] : Buffer.concat(this.kept, this.keptLength);
    let decoded: Buffer;
    try {
      decoded = decodeBody(encoded, this.codings, Math.min(SYNC_DECODE_MAX_DECODED, this.maxDecodedBytes + 1), { truncated });
    } catch (error) {
      if (!(error instanceof DecodedBodyTooLargeError) || this.maxDecodedBytes <= SYNC_DECODE_MAX_DECODED) {
        this.fail();
        return false;
      }
      // Inflates past what is decoded at once: stream it, under the decoded-bytes cap.
      this.startStreaming();
      this.decoders?.[0].end();
      return false;
    }
    this.kept = [];
    this.keptLength = 0;
    if (decoded.length > this.maxDecodedBytes) {
      this.fail();
      return false;
    }
    this.decodedBytes = decoded.length;
    this.inner.write(decoded);
    return true;
  }

  /** From the kept bytes on, decodes as the bytes pass. */
  private startStreaming(): void {
    const kept = this.kept.length === 1 ? this.kept[0] : Buffer.concat(this.kept, this.keptLength);
    this.kept = [];
    this.keptLength = 0;
    this.decoders = this.build(kept);
    this.decoders[0].write(kept);
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

  private markDone(): void {
    this.read = true;
    this.done?.resolve();
  }

  /** Stops reading this response: reported incomplete, decoders released. */
  private fail(): void {
    if (this.failed) return;
    this.failed = true;
    this.kept = [];
    this.keptLength = 0;
    if (this.decoders !== null) for (const decoder of this.decoders) decoder.destroy();
    this.markDone();
  }
}
