// Follows an `application/vnd.amazon.eventstream` response: forwards every chunk as it comes and
// decodes the frames (4-byte total-length prelude, headers, payload, CRCs) as EventStreamFramer
// completes them, across chunk boundaries.
import { EventStreamCodec, type Message } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type { ObservedUsage, ResponseObserver } from '../usage-accounting';
import { EMPTY_BUFFER, UsageTally } from '../shared/usage-tally';
import { EventStreamFramer } from './event-stream-framer';

/** Reads one decoded message into the tally. Called synchronously; must not keep the message. */
export type EventStreamMessageReader = (message: Message, tally: UsageTally) => void;

/** Encodes and decodes event-stream messages (stateless; shared). */
export const eventStreamCodec = new EventStreamCodec(toUtf8, fromUtf8);

export class EventStreamResponseObserver implements ResponseObserver {
  private readonly tally = new UsageTally();
  private readonly framer = new EventStreamFramer();
  /** False once the bytes stopped making frames (bad length, CRC mismatch, reader failure). */
  private following = true;

  constructor(private readonly reader: EventStreamMessageReader) {}

  write(chunk: Buffer): Buffer {
    if (this.following && !this.framer.push(chunk, this.onFrame)) this.stopFollowing();
    return chunk;
  }

  flush(): Buffer {
    return EMPTY_BUFFER;
  }

  result(): ObservedUsage {
    const observed = this.tally.result();
    if (!this.following) return { ...observed, complete: false, unreadable: true };
    // Bytes of a frame the stream never finished: it stopped short.
    return this.framer.heldBytes === 0 ? observed : { ...observed, complete: false };
  }

  private readonly onFrame = (frame: Buffer): void => {
    if (!this.following) return;
    try {
      this.reader(eventStreamCodec.decode(frame), this.tally);
    } catch {
      this.stopFollowing(); // corrupt frame (CRC mismatch) or a reader bug: forwarding goes on
    }
  };

  private stopFollowing(): void {
    this.following = false;
    this.framer.end();
  }
}

/** A string header of a decoded message, or null. */
export function stringHeader(message: Message, name: string): string | null {
  const header = message.headers[name];
  return header !== undefined && header.type === 'string' ? header.value : null;
}
