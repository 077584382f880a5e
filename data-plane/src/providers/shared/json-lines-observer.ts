// Follows a JSON Lines body (`.jsonl`: one JSON object per line, e.g. Anthropic's batch results) as it
// streams through, one line at a time: memory is bounded by the longest line, not the body.
import type { ObservedUsage, ResponseObserver } from '../usage-accounting';
import { type JsonObject, parseJsonObject } from './json-values';
import { EMPTY_BUFFER, UsageTally } from './usage-tally';

/** Longest line followed; a longer one stops the accounting (forwarded unchanged, reported unreadable). */
export const MAX_JSON_LINE_BYTES = 8 * 1024 * 1024;
const LF = 0x0a;

/** Reads one line (a JSON object; other lines are skipped) into the tally. */
export type JsonLineReader = (line: JsonObject, tally: UsageTally) => void;

/** Forwards every chunk as it came; reads complete lines; `finish` runs once the body ended whole. */
export class JsonLinesObserver implements ResponseObserver {
  private readonly tally = new UsageTally();
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private following = true;

  /** Lines without these bytes are not parsed (null: every line is). */
  private readonly needle: Buffer | null;

  /**
   * @param jobId the job the lines belong to (ObservedUsage.jobId), when they are one's results
   * @param onlyLinesWith parse only the lines that hold this text (a member name the reader needs): a
   *   large file of other lines is followed at the cost of a byte search per line
   */
  constructor(
    private readonly readLine: JsonLineReader,
    private readonly finish: (tally: UsageTally) => void,
    jobId?: string,
    onlyLinesWith?: string,
  ) {
    if (jobId !== undefined) this.tally.jobId = jobId;
    this.needle = onlyLinesWith === undefined ? null : Buffer.from(onlyLinesWith);
  }

  write(chunk: Buffer): Buffer {
    if (!this.following || chunk.length === 0) return chunk;
    let start = 0;
    for (let end = chunk.indexOf(LF); end !== -1; end = chunk.indexOf(LF, start)) {
      const piece = chunk.subarray(start, end);
      const line = this.partialBytes === 0 ? piece : Buffer.concat([...this.partial, piece], this.partialBytes + piece.length);
      this.partial = [];
      this.partialBytes = 0;
      this.read(line);
      start = end + 1;
    }
    if (start < chunk.length) this.hold(chunk.subarray(start));
    return chunk;
  }

  flush(): Buffer {
    if (!this.following) return EMPTY_BUFFER;
    // The last line may end without a newline.
    if (this.partialBytes > 0) this.read(Buffer.concat(this.partial, this.partialBytes));
    this.partial = [];
    this.partialBytes = 0;
    if (this.following) {
      this.finish(this.tally);
      this.tally.complete = true;
    }
    return EMPTY_BUFFER;
  }

  result(): ObservedUsage {
    const observed = this.tally.result();
    return this.following ? observed : { ...observed, complete: false, unreadable: true };
  }

  private hold(rest: Buffer): void {
    this.partialBytes += rest.length;
    if (this.partialBytes > MAX_JSON_LINE_BYTES) {
      this.following = false;
      this.partial = [];
      this.partialBytes = 0;
      return;
    }
    // A copy: the chunk's memory belongs to the HTTP client once write() returns.
    this.partial.push(Buffer.from(rest));
  }

  private read(line: Buffer): void {
    if (line.length === 0 || (this.needle !== null && line.indexOf(this.needle) === -1)) return;
    const object = parseJsonObject(line.toString('utf8'));
    if (object === null) return;
    try {
      this.readLine(object, this.tally);
    } catch {
      this.following = false;
    }
  }
}
