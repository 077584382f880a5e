// Stream cut-off, provider-neutral part: relays a streamed response event by event while counting the
// completion text it carries, and ends it in the provider's format (its CutoffStreamReader) before the
// first event that would take the completion past the allowance. Counting follows ADR 003: the text's
// UTF-8 byte length is an upper bound of its tokens (every token covers at least one byte, estimates
// included), so far from the allowance nothing is tokenized; only an event the bound cannot admit is
// held while the token worker counts the text relayed since the last count, plus that event. The sum
// of those counts bounds what the client received from above (within a token per count), so the cut
// never comes late; the closing events report an exact count of the whole text relayed.
import type { CutoffStreamReader, CutoffTokens } from '../providers/stream-cutoff';
import { UsageTally } from '../providers/shared/usage-tally';

/** How the cutter reaches the response it relays; implemented by the exchange. */
export interface StreamCutoffSink {
  /** Relays bytes to the client (through the response observer). */
  relay(bytes: Buffer): void;
  /** Stop reading the upstream response while an event waits for its count... */
  hold(): void;
  /** ...and read it again. */
  release(): void;
  /** The closing events were relayed: end the response (status as it is) and abort the upstream request. */
  cut(): void;
  /** Everything the upstream sent was relayed (after `end()`): end the response as usual. */
  ended(): void;
  /** The stream is relayed uncut from here on (a frame the cutter cannot split, a failed count). */
  gaveUp(reason: string): void;
}

/** Token counts, as settlement makes them (the token worker). */
export interface CutoffCounting {
  countText(text: string): Promise<number>;
  countPrompt(): Promise<number>;
}

/**
 * relaying: events are decided as they complete; counting: one event waits for its count (the upstream
 * is held, later events queue); closing: the closing events wait for their counts; uncut: relayed as
 * it comes; done: nothing more is relayed.
 */
type CutterState = 'relaying' | 'counting' | 'closing' | 'uncut' | 'done';

/** Created per response when a cut-off applies; owned by its exchange, not shared. */
export class StreamCutter {
  private state: CutterState = 'relaying';
  /** Complete events not yet decided, in order (from `next`). */
  private queue: Buffer[] = [];
  private next = 0;
  /** The event waiting for its count (state counting): taken off the queue, relayed first whatever happens. */
  private awaiting: Buffer | null = null;
  private upstreamEnded = false;
  /** Tokens of the text counted so far (a sum of counts: at least the count of the whole, give or take a token per count). */
  private counted = 0;
  /** Text relayed since the last count, and its UTF-8 bytes (a bound of its tokens). */
  private uncounted: string[] = [];
  private uncountedBytes = 0;
  /** Every text relayed, for the closing count. */
  private readonly relayed = new UsageTally();
  private readonly onFrame = (frame: Buffer): void => {
    this.queue.push(frame);
  };

  constructor(
    private readonly reader: CutoffStreamReader,
    /** Completion tokens the client may receive. */
    private readonly allowance: number,
    private readonly counting: CutoffCounting,
    private readonly sink: StreamCutoffSink,
    private readonly elapsedMs: () => number,
  ) {}

  /** True while the upstream must not be read (an event waits for a count, or the stream is closing). */
  get holding(): boolean {
    return this.state === 'counting' || this.state === 'closing';
  }

  /** True once the closing events are being written: the upstream's own end (or break) no longer matters. */
  get closing(): boolean {
    return this.state === 'closing';
  }

  /** A chunk of the upstream response body. */
  write(chunk: Buffer): void {
    if (this.state === 'uncut') {
      this.sink.relay(chunk);
      return;
    }
    if (this.state === 'done' || this.state === 'closing') return;
    if (!this.reader.framer.push(chunk, this.onFrame)) {
      this.giveUp('a stream frame could not be split');
      return;
    }
    if (this.state === 'relaying') this.decide();
  }

  /** The upstream response is complete. */
  end(): void {
    if (this.state === 'done' || this.state === 'closing') return;
    this.upstreamEnded = true;
    if (this.state === 'uncut') {
      this.finish();
      return;
    }
    // An event held although complete is decided like the others; an incomplete one is read for what
    // it is (no text) and relayed as it came.
    const rest = this.reader.framer.end(this.onFrame);
    if (rest.length > 0) this.queue.push(rest);
    if (this.state === 'relaying') this.decide();
  }

  /** The exchange ended otherwise (client gone, upstream broken, timeout): stop, relay nothing more. */
  abandon(): void {
    this.state = 'done';
    this.queue = [];
    this.awaiting = null;
  }

  /** Relays the queued events the byte bound admits, until one needs counting (or the queue is empty). */
  private decide(): void {
    const batch: Buffer[] = [];
    while (this.next < this.queue.length) {
      const frame = this.queue[this.next];
      const text = this.reader.read(frame);
      if (text !== '') {
        const bytes = Buffer.byteLength(text, 'utf8');
        if (this.counted + this.uncountedBytes + bytes > this.allowance) {
          this.next += 1;
          this.relayAll(batch);
          this.count(frame, text);
          return;
        }
        this.uncounted.push(text);
        this.uncountedBytes += bytes;
        this.relayed.addText(text);
      }
      this.reader.accept();
      batch.push(frame);
      this.next += 1;
    }
    this.queue = [];
    this.next = 0;
    this.relayAll(batch);
    if (this.upstreamEnded) this.finish();
  }

  /** Holds `frame` (and the upstream) while the text since the last count, plus its own, is counted. */
  private count(frame: Buffer, text: string): void {
    this.state = 'counting';
    this.awaiting = frame;
    this.sink.hold();
    this.uncounted.push(text);
    const segment = this.uncounted.join('');
    this.uncounted = [];
    this.uncountedBytes = 0;
    this.counting.countText(segment).then(
      (tokens) => this.onCounted(frame, text, tokens),
      (error: unknown) => {
        if (this.state === 'counting') this.giveUp(`counting the streamed text failed: ${error instanceof Error ? error.message : String(error)}`);
      },
    );
  }

  private onCounted(frame: Buffer, text: string, tokens: number): void {
    if (this.state !== 'counting') return;
    this.awaiting = null;
    if (this.counted + tokens > this.allowance) {
      this.close(this.counted + tokens);
      return;
    }
    this.counted += tokens;
    this.relayed.addText(text);
    this.reader.accept();
    this.sink.relay(frame);
    this.state = 'relaying';
    this.decide();
    // Released last: undici may deliver the next chunk (or the end) from inside resume().
    if (this.state === 'relaying') this.sink.release();
  }

  /**
   * The next event would exceed the allowance: write the closing events once their counts are in.
   * `bound`: tokens counted including that event, reported should the closing count fail.
   */
  private close(bound: number): void {
    this.state = 'closing';
    this.queue = [];
    this.next = 0;
    const text = this.relayed.result().completionText;
    // A count that fails falls back to the bound (completion) or leaves the usage out (prompt).
    const completion = text === '' ? Promise.resolve(0) : this.counting.countText(text).catch(() => bound);
    const prompt = this.reader.needsPromptTokens ? this.counting.countPrompt().catch(() => null) : Promise.resolve(null);
    void Promise.all([completion, prompt]).then(([completionTokens, promptTokens]) => {
      if (this.state !== 'closing') return;
      this.state = 'done';
      const tokens: CutoffTokens = { completionTokens, promptTokens };
      this.sink.relay(this.reader.closing(tokens, this.elapsedMs()));
      this.sink.cut();
    });
  }

  /** Relays the rest as it comes, uncut. */
  private giveUp(reason: string): void {
    const waiting = this.queue.slice(this.next);
    if (this.awaiting !== null) waiting.unshift(this.awaiting);
    this.awaiting = null;
    this.queue = [];
    this.next = 0;
    const wasHolding = this.holding;
    this.state = 'uncut';
    const rest = this.reader.framer.end((frame) => waiting.push(frame));
    if (rest.length > 0) waiting.push(rest);
    this.relayAll(waiting);
    this.sink.gaveUp(reason);
    if (this.upstreamEnded) this.finish();
    else if (wasHolding) this.sink.release();
  }

  private finish(): void {
    this.state = 'done';
    this.sink.ended();
  }

  private relayAll(frames: readonly Buffer[]): void {
    if (frames.length === 0) return;
    this.sink.relay(frames.length === 1 ? frames[0] : Buffer.concat(frames));
  }
}
