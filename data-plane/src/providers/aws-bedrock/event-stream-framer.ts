// `application/vnd.amazon.eventstream` split into its messages (for the usage observer and the stream
// cut-off): each frame starts with its total length (4 bytes, big-endian), so frames are found
// without decoding them, across chunk boundaries.
import type { StreamFramer } from '../stream-cutoff';
import { EMPTY_BUFFER } from '../shared/usage-tally';

/** Prelude (12 bytes) + message CRC (4): the smallest frame. */
const MIN_FRAME_BYTES = 16;
/** AWS caps an event-stream message at 16 MB; a larger length means the stream is not one. */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

export class EventStreamFramer implements StreamFramer {
  /** Bytes of the incomplete frame at the end, kept as they came (concatenated once it completes). */
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** Bytes needed before the pending frame can be split off: its prelude, then the whole frame. */
  private needed = 4;

  push(chunk: Buffer, onFrame: (frame: Buffer) => void): boolean {
    if (chunk.length === 0) return true;
    let buffer = chunk;
    if (this.pendingLength > 0) {
      this.pending.push(chunk);
      this.pendingLength += chunk.length;
      if (this.pendingLength < this.needed) return true;
      buffer = Buffer.concat(this.pending, this.pendingLength);
      this.pending = [];
      this.pendingLength = 0;
    }
    let offset = 0;
    while (buffer.length - offset >= 4) {
      const frameLength = buffer.readUInt32BE(offset);
      if (frameLength < MIN_FRAME_BYTES || frameLength > MAX_FRAME_BYTES) {
        // Not a frame: kept, so end() hands the bytes over as they came.
        this.pending.push(buffer.subarray(offset));
        this.pendingLength = buffer.length - offset;
        return false;
      }
      if (buffer.length - offset < frameLength) {
        this.needed = frameLength;
        break;
      }
      onFrame(buffer.subarray(offset, offset + frameLength));
      offset += frameLength;
      this.needed = 4;
    }
    if (offset < buffer.length) {
      this.pending.push(buffer.subarray(offset));
      this.pendingLength = buffer.length - offset;
    }
    return true;
  }

  /** Bytes of an incomplete frame held at the end. */
  get heldBytes(): number {
    return this.pendingLength;
  }

  end(): Buffer {
    const rest = this.pendingLength === 0 ? EMPTY_BUFFER : Buffer.concat(this.pending, this.pendingLength);
    this.pending = [];
    this.pendingLength = 0;
    return rest;
  }
}
