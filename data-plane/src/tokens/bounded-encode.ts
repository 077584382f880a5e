// Counts a string's tokens with a js-tiktoken encoder without its quadratic worst case.
//
// js-tiktoken merges each regex "piece" (a run of letters, of punctuation, of whitespace...) in
// O(n²) of the piece's bytes: 3,200 CJK characters without a break cost ~4 s, 10 KB of "a" minutes,
// which would let one request stall every count behind it. Every piece of the o200k_base and
// cl100k_base patterns lies within one run of non-whitespace, one run of whitespace, or
// (` ?[^\s\p{L}\p{N}]+[\r\n/]*`) one of each joined by a run of `[\r\n/]`; so a text without a run
// of LONG_RUN such characters has no piece longer than 2 × LONG_RUN, and its count is js-tiktoken's
// own. A long run is cut into chunks of at most LONG_RUN characters, preferably where a piece
// boundary lies anyway (a letter or digit followed by punctuation, as in URLs and base64), else
// anywhere but inside a surrogate pair; each such cut may add about one token. Cost becomes linear.
import type { Tiktoken } from 'js-tiktoken/lite';

/** Runs at least this long are cut into chunks of at most this many characters. */
export const LONG_RUN = 64;

const WORD_CHAR = /[\p{L}\p{N}\p{M}]/u;
const PUNCTUATION_CHAR = /[^\s\p{L}\p{N}\p{M}]/u;

/** Tokens of `text` as a provider sees it: special-token strings count as plain text, never throw. */
export function boundedTokenCount(encoder: Tiktoken, text: string): number {
  if (text.length < LONG_RUN) return plainCount(encoder, text);
  const runs = longRuns(text);
  if (runs.length === 0) return plainCount(encoder, text);
  let total = 0;
  let start = 0;
  for (const [runStart, runEnd] of runs) {
    total += plainCount(encoder, text.slice(start, runStart));
    for (const chunk of chunksOf(text.slice(runStart, runEnd))) total += plainCount(encoder, chunk);
    start = runEnd;
  }
  return total + plainCount(encoder, text.slice(start));
}

function plainCount(encoder: Tiktoken, text: string): number {
  // allowedSpecial = [], disallowedSpecial = []: "<|endoftext|>" in a prompt is ordinary text to the
  // providers, and js-tiktoken's default (disallow all) would throw on it.
  return text.length === 0 ? 0 : encoder.encode(text, [], []).length;
}

/**
 * Maximal runs (as [start, end) code-unit offsets, sorted, not overlapping) of at least LONG_RUN
 * whitespace, non-whitespace or `[\r\n/]` characters. One linear pass: a regex such as
 * /\S{64,}/ rescans up to 64 characters per position and costs a third of the encode itself.
 */
export function longRuns(text: string): Array<[number, number]> {
  const found: Array<[number, number]> = [];
  let spaceStart = 0;
  let nonSpaceStart = 0;
  let breakStart = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (isWhitespace(code)) {
      if (i - nonSpaceStart >= LONG_RUN) found.push(withAttachedWhitespace(text, nonSpaceStart, i));
      nonSpaceStart = i + 1;
    } else {
      if (i - spaceStart >= LONG_RUN) found.push([spaceStart, i]);
      spaceStart = i + 1;
    }
    if (code !== 0x0a && code !== 0x0d && code !== 0x2f) {
      if (i - breakStart >= LONG_RUN) found.push([breakStart, i]);
      breakStart = i + 1;
    }
  }
  if (text.length - nonSpaceStart >= LONG_RUN) found.push(withAttachedWhitespace(text, nonSpaceStart, text.length));
  for (const start of [spaceStart, breakStart]) {
    if (text.length - start >= LONG_RUN) found.push([start, text.length]);
  }
  if (found.length <= 1) return found;
  found.sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [found[0]!];
  for (const run of found.slice(1)) {
    const last = merged[merged.length - 1]!;
    if (run[0] <= last[1]) last[1] = Math.max(last[1], run[1]);
    else merged.push(run);
  }
  return merged;
}

/**
 * A non-whitespace run with the whitespace its pieces take along: the space or tab before it (the
 * patterns' `[^\r\n\p{L}\p{N}]?` and ` ?` prefixes: " https" is one piece) and, after trailing
 * punctuation, the line breaks that follow (`[\r\n/]*`). Cutting there would add a token.
 */
function withAttachedWhitespace(text: string, start: number, end: number): [number, number] {
  let from = start;
  let to = end;
  const before = text.charCodeAt(start - 1);
  if (start > 0 && before !== 0x0a && before !== 0x0d) from -= 1;
  if (PUNCTUATION_CHAR.test(text.charAt(end - 1))) {
    while (to < text.length && (text.charCodeAt(to) === 0x0a || text.charCodeAt(to) === 0x0d)) to += 1;
  }
  return [from, to];
}

/** Cuts a long run into chunks of at most LONG_RUN characters. */
export function chunksOf(run: string): string[] {
  const chunks: string[] = [];
  let start = 0;
  while (run.length - start > LONG_RUN) {
    let cut = -1;
    for (let i = start + LONG_RUN; i > start + 1; i--) {
      if (PUNCTUATION_CHAR.test(run.charAt(i)) && WORD_CHAR.test(run.charAt(i - 1))) {
        cut = i;
        break;
      }
    }
    if (cut === -1) {
      cut = start + LONG_RUN;
      const code = run.charCodeAt(cut);
      if (code >= 0xdc00 && code <= 0xdfff) cut -= 1; // keep a surrogate pair together
    }
    chunks.push(run.slice(start, cut));
    start = cut;
  }
  chunks.push(run.slice(start));
  return chunks;
}

/** JavaScript's \s: the characters the tiktoken patterns' \s matches. */
function isWhitespace(code: number): boolean {
  if (code <= 0x20) return code === 0x20 || (code >= 0x09 && code <= 0x0d);
  if (code < 0xa0) return false;
  return (
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}
