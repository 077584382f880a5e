// What an observer has learned so far; one per response, mutated only by that response's observer.
import type { ObservedUsage, ResponseObserver, TokenUsage } from '../usage-accounting';

/** Text pieces joined into one flat string at a time (see UsageTally.addText). */
const TEXT_BLOCK = 64;

export class UsageTally {
  /** Final usage only (see ObservedUsage.usage). */
  usage: TokenUsage | null = null;
  /** Prompt tokens reported ahead of the final usage. */
  reportedPromptTokens: number | null = null;
  /** The cache reads and writes inside reportedPromptTokens, when reported with it. */
  reportedPromptCache: { cachedRead: number; cachedWrite: number } | null = null;
  complete = false;
  /** The status the provider's in-stream error maps to (see ObservedUsage.streamError). */
  private streamError: number | null = null;
  /** The model the response named, when it named one. */
  responseModel: string | null = null;
  /** The id of the job charged once that this response belongs to (see ObservedUsage.jobId). */
  jobId: string | null = null;
  /**
   * The completion text so far, kept in case the usage never comes (then it is counted). A stream
   * adds a few characters per event: appended one by one, V8 would keep a rope node (~32 bytes) and a
   * string header per event for the stream's whole life. The pieces are joined every TEXT_BLOCK
   * events into one flat string (about a byte per character), so a long-lived stream holds its text,
   * not its history of events.
   */
  private readonly blocks: string[] = [];
  private pieces: string[] = [];

  addText(text: string): void {
    if (text === '') return;
    this.pieces.push(text);
    if (this.pieces.length === TEXT_BLOCK) {
      this.blocks.push(this.pieces.join(''));
      this.pieces = [];
    }
  }

  /** The completion text so far. */
  private get text(): string {
    return this.blocks.join('') + this.pieces.join('');
  }

  result(): ObservedUsage {
    const observed: { -readonly [K in keyof ObservedUsage]: ObservedUsage[K] } = { usage: this.usage, completionText: this.text, complete: this.complete };
    if (this.usage === null && this.reportedPromptTokens !== null) {
      observed.reportedPromptTokens = this.reportedPromptTokens;
      if (this.reportedPromptCache !== null) observed.reportedPromptCache = this.reportedPromptCache;
    }
    if (this.responseModel !== null) observed.responseModel = this.responseModel;
    if (this.jobId !== null) observed.jobId = this.jobId;
    if (this.streamError !== null) observed.streamError = this.streamError;
    return observed;
  }

  /** The stream carried the provider's error, answered with `status` when the provider still can (the first one wins). */
  noteStreamError(status: number): void {
    this.streamError ??= status;
  }

  /** Records the model a response names (the first one seen wins: later chunks repeat it). */
  noteModel(model: unknown): void {
    if (this.responseModel === null && typeof model === 'string' && model !== '' && model.length <= 256) this.responseModel = model;
  }
}

export const EMPTY_BUFFER: Buffer = Buffer.alloc(0);

/**
 * Forwards every chunk untouched and reports a result known from the start: nothing for non-2xx
 * responses and bodies that carry no usage, or usage taken from response headers.
 */
export class PassThroughObserver implements ResponseObserver {
  constructor(private readonly observed: ObservedUsage) {}

  write(chunk: Buffer): Buffer {
    return chunk;
  }

  flush(): Buffer {
    return EMPTY_BUFFER;
  }

  result(): ObservedUsage {
    return this.observed;
  }
}

/** The result for a response that cannot carry usage (an error status, a binary body). */
export const NOTHING_TO_COUNT: ObservedUsage = Object.freeze({ usage: null, completionText: '', complete: true });
