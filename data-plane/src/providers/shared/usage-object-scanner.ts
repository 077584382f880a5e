// Finds every `"usage": {...}` object of a JSON body as it streams past, holding only what one object
// needs: for answers too large to parse whole that carry many usages (a Mistral batch job read with
// `?inline=true`, its outputs each with the usage of one request).
import type { TokenUsage } from '../usage-accounting';
import { addUsage } from '../usage-accounting';
import { balancedObjectAt } from './json-response-observer';
import { parseJsonObject } from './json-values';

/** A usage object longer than this is not followed (its bytes are dropped, the scan goes on). */
export const MAX_USAGE_OBJECT_CHARS = 64 * 1024;
/** What of a chunk's end is kept when no object is open: enough for a marker and its `: {` cut in two. */
const MARKER_TAIL_CHARS = 64;
const MARKER = /"usage"\s*:\s*\{/g;

/**
 * Inside a JSON string a quote is escaped, so `"usage"` followed by `:` and `{` is always a member
 * name. The body is read as Latin-1 (one character per byte: the marker and the counts are ASCII).
 */
export class UsageObjectScanner {
  private pending = '';
  private sum: TokenUsage | null = null;

  /** @param read the usage of one object (null: not one, e.g. an unrelated member of that name) */
  constructor(private readonly read: (usage: object) => TokenUsage | null) {}

  /** The sum of the usages seen so far, or null when none was. */
  get total(): TokenUsage | null {
    return this.sum;
  }

  write(chunk: Buffer): void {
    const text = this.pending + chunk.toString('latin1');
    let consumed = 0;
    MARKER.lastIndex = 0;
    for (let match = MARKER.exec(text); match !== null; match = MARKER.exec(text)) {
      const open = match.index + match[0].length - 1;
      const object = balancedObjectAt(text, open);
      if (object === null) {
        // Cut by the chunk's end: kept for the next one, unless it has grown past any usage object.
        this.pending = text.length - match.index > MAX_USAGE_OBJECT_CHARS ? '' : text.slice(match.index);
        return;
      }
      const parsed = parseJsonObject(object);
      const usage = parsed === null ? null : this.read(parsed);
      if (usage !== null) this.sum = this.sum === null ? usage : addUsage(this.sum, usage);
      consumed = open + object.length;
      MARKER.lastIndex = consumed;
    }
    this.pending = text.slice(Math.max(consumed, text.length - MARKER_TAIL_CHARS));
  }
}
