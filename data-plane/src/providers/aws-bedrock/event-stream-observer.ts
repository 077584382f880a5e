// Follows an `application/vnd.amazon.eventstream` response: forwards every chunk as it comes and
// decodes the frames (4-byte total-length prelude, headers, payload, CRCs) as they complete, across
// chunk boundaries.
import { EventStreamCodec, type Message } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type { ObservedUsage, ResponseObserver } from '../usage-accounting';
import { EMPTY_BUFFER, UsageTally } from '../shared/usage-tally';

/** Reads one decoded message into the tally. Called synchronously; must not keep the message. */
export type EventStreamMessageReader = (message: Message, tally: UsageTally) => void;

/** Prelude (12 bytes) + message CRC (4): the smallest frame. */
const MIN_FRAME_BYTES = 16;
/** AWS caps an event-stream message at 16 MB; a larger length means the stream is not one. */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

const codec = new EventStreamCodec(toUtf8, fromUtf8);

export class EventStreamResponseObserver implements ResponseObserver {
  private readonly tally = new UsageTally();
  /** False once the bytes stopped making frames (bad length, CRC mismatch, reader failure). */
  private following = true;
  /** Bytes of the incomplete frame at the end, kept as they came (concatenated once it completes). */
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** Bytes needed before the pending frame can be read: its prelude, then the whole frame. */
  private needed = 4;

  constructor(private readonly reader: EventStreamMessageReader) {}

  write(chunk: Buffer): Buffer {
    if (this.following && chunk.length > 0) this.consume(chunk);
    return chunk;
  }

  flush(): Buffer {
    return EMPTY_BUFFER;
  }

  result(): ObservedUsage {
    const observed = this.tally.result();
    return this.following && this.pendingLength === 0 ? observed : { ...observed, complete: false };
  }

  private consume(chunk: Buffer): void {
    let buffer = chunk;
    if (this.pendingLength > 0) {
      this.pending.push(chunk);
      this.pendingLength += chunk.length;
      if (this.pendingLength < this.needed) return;
      buffer = Buffer.concat(this.pending, this.pendingLength);
      this.pending = [];
      this.pendingLength = 0;
    }
    let offset = 0;
    while (buffer.length - offset >= 4) {
      const frameLength = buffer.readUInt32BE(offset);
      if (frameLength < MIN_FRAME_BYTES || frameLength > MAX_FRAME_BYTES) {
        this.stopFollowing();
        return;
      }
      if (buffer.length - offset < frameLength) {
        this.needed = frameLength;
        break;
      }
      try {
        this.reader(codec.decode(buffer.subarray(offset, offset + frameLength)), this.tally);
      } catch {
        this.stopFollowing(); // corrupt frame (CRC mismatch) or a reader bug: forwarding goes on
        return;
      }
      offset += frameLength;
      this.needed = 4;
    }
    if (offset < buffer.length) {
      this.pending.push(buffer.subarray(offset));
      this.pendingLength = buffer.length - offset;
    }
  }

  private stopFollowing(): void {
    this.following = false;
    this.pending = [];
    this.pendingLength = 0;
  }
}

/** A string header of a decoded message, or null. */
export function stringHeader(message: Message, name: string): string | null {
  const header = message.headers[name];
  return header !== undefined && header.type === 'string' ? header.value : null;
}
