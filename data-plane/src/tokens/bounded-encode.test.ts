import fc from 'fast-check';
import { Tiktoken } from 'js-tiktoken/lite';
import o200kBase from 'js-tiktoken/ranks/o200k_base';
import { boundedTokenCount, chunksOf, LONG_RUN, longRuns } from './bounded-encode';

const o200k = new Tiktoken(o200kBase);
const exact = (text: string) => o200k.encode(text, [], []).length;

describe('boundedTokenCount', () => {
  it('is the exact count for text without long runs', () => {
    const prose = 'Tokengate lets platform engineers register GenAI services once, govern them centrally,\nand publish them. '.repeat(30);
    expect(longRuns(prose)).toEqual([]);
    expect(boundedTokenCount(o200k, prose)).toBe(exact(prose));
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), (text) => {
        if (longRuns(text).length === 0) expect(boundedTokenCount(o200k, text)).toBe(exact(text));
      }),
      { numRuns: 300 },
    );
  });

  it('cuts URLs and paths where piece boundaries lie anyway, keeping their exact count', () => {
    const url = 'https://example.com/' + Array.from({ length: 30 }, (_, i) => `segment${i}/item-${i * 7}`).join('/') + '?query=value&other=thing';
    expect(longRuns(url)).toEqual([[0, url.length]]);
    expect(boundedTokenCount(o200k, `see ${url} for details`)).toBe(exact(`see ${url} for details`));
  });

  it('counts pathological runs in linear time, within about one token per cut of the exact count', () => {
    // Exact counting of these takes seconds to minutes in js-tiktoken (quadratic in the piece length: 3,200 CJK characters alone take ~4 s).
    expect(boundedTokenCount(o200k, 'a'.repeat(50_000))).toBeGreaterThan(0);
    expect(boundedTokenCount(o200k, '中'.repeat(10_000))).toBeGreaterThan(0);
    expect(boundedTokenCount(o200k, '!/\n'.repeat(10_000))).toBeGreaterThan(0);
    for (const run of ['a'.repeat(600), '中'.repeat(400), ' '.repeat(600), 'ab1'.repeat(200)]) {
      const cuts = chunksOf(run).length - 1;
      expect(Math.abs(boundedTokenCount(o200k, run) - exact(run))).toBeLessThanOrEqual(cuts + 1);
    }
  });
});

describe('longRuns', () => {
  it('finds every maximal run of whitespace, non-whitespace or [\\r\\n/] at least LONG_RUN long', () => {
    // Without the u flag, like longRuns: lengths in UTF-16 code units (an emoji counts 2).
    const reference = new RegExp(`\\S{${LONG_RUN},}|\\s{${LONG_RUN},}|[\\r\\n/]{${LONG_RUN},}`);
    const piece = fc.constantFrom('a', ' ', '\n', '/', '中', '😀', '\t', 'xyz', '\u3000');
    const repeated = fc.tuple(fc.array(piece, { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 80 })).map(([unit, times]) => unit.join('').repeat(times));
    fc.assert(
      fc.property(fc.array(repeated, { maxLength: 8 }), (parts) => {
        const text = parts.join('');
        const runs = longRuns(text);
        expect(runs.length > 0).toBe(reference.test(text));
        for (let i = 0; i < runs.length; i++) {
          const [start, end] = runs[i]!;
          expect(end - start).toBeGreaterThanOrEqual(LONG_RUN);
          if (i > 0) expect(start).toBeGreaterThan(runs[i - 1]![1]);
        }
        // Nothing outside the runs is long.
        let outside = '';
        let position = 0;
        for (const [start, end] of runs) {
          outside += text.slice(position, start) + '\u0001';
          position = end;
        }
        outside += text.slice(position);
        for (const segment of outside.split('\u0001')) expect(reference.test(segment)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});

describe('chunksOf', () => {
  it('splits a run into chunks of at most LONG_RUN characters, never inside a surrogate pair', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: LONG_RUN, maxLength: 500 }), (run) => {
        const chunks = chunksOf(run);
        expect(chunks.join('')).toBe(run);
        chunks.forEach((chunk, i) => {
          expect(chunk.length).toBeGreaterThan(0);
          expect(chunk.length).toBeLessThanOrEqual(LONG_RUN);
          const splitsPair = i > 0 && /^[\udc00-\udfff]/.test(chunk) && /[\ud800-\udbff]$/.test(chunks[i - 1]!);
          expect(splitsPair).toBe(false);
        });
      }),
      { numRuns: 300 },
    );
  });
});
