// A string token counter with a bounded LRU memo in front of a js-tiktoken encoder, so the system
// prompts, tool definitions and role names that repeat across requests are encoded once. Lives in
// the token worker; one per encoding; not thread-safe (nothing in a worker needs it to be).
import { createHash } from 'node:crypto';
import type { Tiktoken } from 'js-tiktoken/lite';
import { boundedTokenCount } from './bounded-encode';
import type { StringTokenCounter } from './prompt-tally';

/**
 * Strings at least this long are keyed by their SHA-256 (a hash of 4 KB costs ~10 µs, its encode
 * ~1 ms); shorter ones by themselves, so each key holds at most ~2 × HASHED_FROM bytes and the memo
 * at most ~MAX_ENTRIES × 0.5 KB. SHA-256, not a fast non-cryptographic hash: a client able to
 * craft a collision could make a long prompt count as a short one.
 */
const HASHED_FROM = 256;
/** Strings shorter than this are not memoized: encoding them is as cheap as a lookup. */
const MEMOIZED_FROM = 8;

export class MemoizedEncoder implements StringTokenCounter {
  private readonly memo = new Map<string, number>();
  private hitCount = 0;
  private missCount = 0;

  constructor(
    private readonly encoder: Tiktoken,
    private readonly maxEntries = 8192,
  ) {}

  countTokens(text: string): number {
    if (text.length < MEMOIZED_FROM) return boundedTokenCount(this.encoder, text);
    // Distinct prefixes: a short string can never equal a hash key.
    const key = text.length < HASHED_FROM ? `s${text}` : `h${createHash('sha256').update(text).digest('base64')}`;
    const known = this.memo.get(key);
    if (known !== undefined) {
      this.hitCount += 1;
      // Map keeps insertion order: re-inserting marks the entry most recently used.
      this.memo.delete(key);
      this.memo.set(key, known);
      return known;
    }
    this.missCount += 1;
    const count = boundedTokenCount(this.encoder, text);
    this.memo.set(key, count);
    if (this.memo.size > this.maxEntries) {
      const oldest = this.memo.keys().next();
      if (oldest.done !== true) this.memo.delete(oldest.value);
    }
    return count;
  }

  /** Memo statistics (for tests and diagnostics). */
  stats(): { entries: number; hits: number; misses: number } {
    return { entries: this.memo.size, hits: this.hitCount, misses: this.missCount };
  }
}
