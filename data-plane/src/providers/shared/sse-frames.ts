// `text/event-stream` read event by event for the stream cut-off: the bytes split into complete events
// (each with the blank line that ends it, exactly as sent), and one complete event's fields.
import type { StreamFramer } from '../stream-cutoff';
import { MAX_SSE_EVENT_BYTES } from './sse-response-observer';
import { EMPTY_BUFFER } from './usage-tally';

const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits SSE bytes at blank lines (two line terminators in a row, each CRLF, LF or CR, as the SSE
 * spec reads them). An event whose last terminator is a CR at the end of a chunk is held until the
 * next byte is seen, so an LF completing that CRLF stays with its event.
 */
export class SseFramer implements StreamFramer {
  private held: Buffer[] = [];
  private heldLength = 0;
  /** The line being scanned has no character yet (a terminator now ends the event). */
  private lineEmpty = true;
  /** The previous chunk ended with a CR; `heldEnded`: that CR ended the held event. */
  private afterCr = false;
  private heldEnded = false;

  push(chunk: Buffer, onFrame: (frame: Buffer) => void): boolean {
    if (chunk.length === 0) return true;
    let start = 0; // where the bytes of the event being scanned start in this chunk
    let i = 0;
    if (this.afterCr) {
      this.afterCr = false;
      if (chunk[0] === LF) i = 1; // the LF of a CRLF split across chunks
      if (this.heldEnded) {
        this.heldEnded = false;
        onFrame(this.takeHeld(chunk.subarray(0, i)));
        start = i;
      }
    }
    while (i < chunk.length) {
      const byte = chunk[i];
      if (byte !== LF && byte !== CR) {
        this.lineEmpty = false;
        i += 1;
        continue;
      }
      let end = i + 1;
      if (byte === CR) {
        if (end === chunk.length) this.afterCr = true;
        else if (chunk[end] === LF) end += 1;
      }
      if (this.lineEmpty) {
        if (this.afterCr) {
          // Complete but for a possible LF in the next chunk.
          this.hold(chunk.subarray(start, end));
          this.heldEnded = true;
          return this.heldLength <= MAX_SSE_EVENT_BYTES;
        }
        onFrame(this.takeHeld(chunk.subarray(start, end)));
        start = end;
      }
      this.lineEmpty = true;
      i = end;
    }
    if (start < chunk.length) this.hold(chunk.subarray(start));
    return this.heldLength <= MAX_SSE_EVENT_BYTES;
  }

  end(onFrame: (frame: Buffer) => void): Buffer {
    if (this.heldEnded) onFrame(this.takeHeld(EMPTY_BUFFER));
    this.heldEnded = false;
    this.afterCr = false;
    return this.takeHeld(EMPTY_BUFFER);
  }

  private hold(bytes: Buffer): void {
    this.held.push(bytes);
    this.heldLength += bytes.length;
  }

  /** The held bytes followed by `tail`, as one buffer; nothing is held afterwards. */
  private takeHeld(tail: Buffer): Buffer {
    if (this.heldLength === 0) return tail;
    this.hold(tail);
    const whole = this.held.length === 1 ? this.held[0] : Buffer.concat(this.held, this.heldLength);
    this.held = [];
    this.heldLength = 0;
    return whole;
  }
}

/** The fields of one SSE event that readers use; `data` lines joined by LF, as EventSource does. */
export interface SseFields {
  readonly event: string | undefined;
  readonly data: string;
}

/** Reads one complete event (as SseFramer gives it); null for a block without data (comments, a stray blank line). */
export function sseFields(frame: Buffer): SseFields | null {
  let event: string | undefined;
  let data: string | null = null;
  for (const line of frame.toString('utf8').split(/\r\n|\r|\n/)) {
    if (line === '' || line.charCodeAt(0) === 58 /* ':' comment */) continue;
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32 /* ' ' */) value = value.slice(1);
    if (name === 'event') event = value;
    else if (name === 'data') data = data === null ? value : `${data}\n${value}`;
  }
  return data === null ? null : { event, data };
}

/** One SSE event as the providers write it: `event:` when named, one `data:` line, a blank line. */
export function sseEvent(data: unknown, event?: string): string {
  const payload = typeof data === 'string' ? data : JSON.stringify(data);
  return event === undefined ? `data: ${payload}\n\n` : `event: ${event}\ndata: ${payload}\n\n`;
}
