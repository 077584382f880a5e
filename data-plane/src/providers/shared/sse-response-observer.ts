// Follows a `text/event-stream` response: events are parsed incrementally (eventsource-parser) as the
// bytes pass; in stripping mode one kind of event can be cut out of the bytes forwarded to the client.
import { StringDecoder } from 'node:string_decoder';
import { type EventSourceMessage, type EventSourceParser, createParser } from 'eventsource-parser';
import type { ObservedUsage, ResponseObserver } from '../usage-accounting';
import { EMPTY_BUFFER, UsageTally } from './usage-tally';

/**
 * Reads one event into the tally. Returns true when the event must be hidden from the client (only
 * honoured in stripping mode: the usage-only chunk the proxy asked for on the client's behalf).
 * Called synchronously while the observer is fed; must not keep the event.
 */
export type SseEventReader = (event: EventSourceMessage, tally: UsageTally) => boolean;

/**
 * Largest event (or, in stripping mode, held-back incomplete event) followed. A larger one stops the
 * accounting for this response (forwarded unchanged, reported incomplete) instead of growing memory.
 */
export const MAX_SSE_EVENT_BYTES = 8 * 1024 * 1024;

const LF = 0x0a;
const CR = 0x0d;

/**
 * Forwarding contract: without stripping, write() returns each chunk as it came. With stripping, it
 * returns the complete events of the bytes so far minus the hidden ones, byte-for-byte as the
 * upstream sent them, and holds back only the incomplete trailing event (returned by flush()).
 */
export class SseResponseObserver implements ResponseObserver {
  private readonly tally = new UsageTally();
  private readonly parser: EventSourceParser;
  private readonly decoder = new StringDecoder('utf8');
  /** False once the stream could not be followed (oversized event, reader failure). */
  private following = true;
  private stripping: boolean;
  /** Set by the reader while a block is being fed (stripping mode). */
  private hideCurrent = false;
  /** Not stripping: the last byte fed was CR (the parser waits to see whether LF follows). */
  private lastByteWasCr = false;

  // Stripping mode: the bytes of the incomplete trailing event, and the line scanner's state.
  private held: Buffer[] = [];
  private heldLength = 0;
  /** The line being scanned has no character yet (so a line terminator now ends an event). */
  private lineEmpty = true;
  /** The previous chunk ended with CR: an LF opening the next chunk belongs to that terminator. */
  private afterCr = false;
  /** ...and that CR ended an event: its LF goes wherever that event went ('keep' or 'drop'). */
  private danglingLf: 'none' | 'keep' | 'drop' = 'none';

  constructor(
    private readonly reader: SseEventReader,
    strip: boolean,
  ) {
    this.stripping = strip;
    this.parser = createParser({
      onEvent: (event) => {
        if (this.reader(event, this.tally)) this.hideCurrent = true;
      },
      onError: (error) => {
        if (error.type === 'max-buffer-size-exceeded') this.following = false;
      },
      maxBufferSize: MAX_SSE_EVENT_BYTES,
    });
  }

  write(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    if (!this.stripping) {
      if (this.following) this.feed(this.decoder.write(chunk));
      this.lastByteWasCr = chunk[chunk.length - 1] === CR;
      return chunk;
    }
    return this.writeStripping(chunk);
  }

  flush(): Buffer {
    if (this.stripping) {
      // An event cut short (no blank line after it) is never dispatched: forward its bytes as they are.
      const held = this.held.length === 1 ? this.held[0] : Buffer.concat(this.held, this.heldLength);
      this.held = [];
      this.heldLength = 0;
      return held;
    }
    if (this.following) {
      this.feed(this.decoder.end());
      // A final CR waits in the parser for a possible LF; there is none.
      if (this.lastByteWasCr) this.feed('\n');
      this.lastByteWasCr = false;
    }
    return EMPTY_BUFFER;
  }

  result(): ObservedUsage {
    const observed = this.tally.result();
    return this.following ? observed : { ...observed, complete: false, unreadable: true };
  }

  private feed(text: string): void {
    if (!this.following || text === '') return;
    try {
      this.parser.feed(text);
    } catch {
      // A reader bug or a terminated parser must never break forwarding: stop following instead.
      this.following = false;
    }
  }

  /**
   * Scans the chunk for event ends (a blank line: two line terminators, each CRLF, LF or CR, as the
   * SSE spec reads them), feeds each complete event to the parser on its own, and forwards it unless
   * the reader hid it.
   */
  private writeStripping(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let eventStart = 0; // where the event being scanned starts in this chunk (held bytes precede it)
    let forwardFrom = 0; // start of the run of chunk bytes to forward that is not yet in `out`
    let i = 0;
    if (this.afterCr) {
      this.afterCr = false;
      if (chunk[0] === LF) {
        i = 1;
        if (this.danglingLf !== 'none') {
          eventStart = 1;
          if (this.danglingLf === 'drop') forwardFrom = 1;
        }
      }
      this.danglingLf = 'none';
    }
    let nextLf = chunk.indexOf(LF, i);
    let nextCr = chunk.indexOf(CR, i);
    while (i < chunk.length) {
      if (nextLf !== -1 && nextLf < i) nextLf = chunk.indexOf(LF, i);
      if (nextCr !== -1 && nextCr < i) nextCr = chunk.indexOf(CR, i);
      const terminator = nextLf === -1 ? nextCr : nextCr === -1 ? nextLf : Math.min(nextLf, nextCr);
      if (terminator === -1) {
        this.lineEmpty = false;
        break;
      }
      if (terminator > i) this.lineEmpty = false;
      let end = terminator + 1;
      if (chunk[terminator] === CR) {
        if (end < chunk.length) {
          if (chunk[end] === LF) end += 1;
        } else {
          this.afterCr = true; // an LF opening the next chunk completes this CRLF
        }
      }
      if (this.lineEmpty) {
        const hidden = this.completeEvent(chunk, eventStart, end);
        if (hidden) {
          if (eventStart > forwardFrom) out.push(chunk.subarray(forwardFrom, eventStart));
          forwardFrom = end;
        } else if (this.heldLength > 0) {
          out.push(...this.held); // they precede every chunk byte still to forward
        }
        this.held = [];
        this.heldLength = 0;
        if (this.afterCr) this.danglingLf = hidden ? 'drop' : 'keep';
        eventStart = end;
      }
      this.lineEmpty = true;
      i = end;
    }
    if (eventStart > forwardFrom) out.push(chunk.subarray(forwardFrom, eventStart));
    if (eventStart < chunk.length) {
      this.held.push(chunk.subarray(eventStart));
      this.heldLength += chunk.length - eventStart;
      if (this.heldLength > MAX_SSE_EVENT_BYTES) return this.stopStripping(out);
    }
    if (out.length === 0) return EMPTY_BUFFER;
    return out.length === 1 ? out[0] : Buffer.concat(out);
  }

  /** Feeds one complete event (held bytes + chunk[start, end)) and says whether the reader hid it. */
  private completeEvent(chunk: Buffer, start: number, end: number): boolean {
    const text =
      this.heldLength === 0
        ? chunk.toString('utf8', start, end)
        : Buffer.concat([...this.held, chunk.subarray(start, end)], this.heldLength + end - start).toString('utf8');
    this.hideCurrent = false;
    this.feed(text);
    // An event ending in a lone CR stays pending in the parser until it sees the next character;
    // an LF completes it as a CRLF without starting another line.
    if (chunk[end - 1] === CR) this.feed('\n');
    return this.hideCurrent && this.following;
  }

  /** An event too large to hold: forward everything and go on without stripping. */
  private stopStripping(out: Buffer[]): Buffer {
    this.stripping = false;
    for (const held of this.held) {
      if (this.following) this.feed(this.decoder.write(held));
      out.push(held);
    }
    const last = this.held[this.held.length - 1];
    this.lastByteWasCr = last[last.length - 1] === CR;
    this.held = [];
    this.heldLength = 0;
    return Buffer.concat(out);
  }
}
