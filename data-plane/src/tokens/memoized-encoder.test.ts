import { Tiktoken } from 'js-tiktoken/lite';
import o200kBase from 'js-tiktoken/ranks/o200k_base';
import { MemoizedEncoder } from './memoized-encoder';

const o200k = new Tiktoken(o200kBase);

describe('MemoizedEncoder', () => {
  const systemPrompt = 'You are a meticulous assistant. '.repeat(40);

  it('counts like the encoder, and a repeated long string is encoded once', () => {
    const memo = new MemoizedEncoder(o200k);
    const exact = o200k.encode(systemPrompt, [], []).length;
    expect(memo.countTokens(systemPrompt)).toBe(exact);
    expect(memo.countTokens(systemPrompt)).toBe(exact);
    expect(memo.countTokens(`${systemPrompt}!`)).toBe(o200k.encode(`${systemPrompt}!`, [], []).length);
    expect(memo.stats()).toEqual({ entries: 2, hits: 1, misses: 2 });
  });

  it('keeps at most maxEntries, evicting the least recently used', () => {
    const memo = new MemoizedEncoder(o200k, 3);
    const texts = ['first text', 'second text', 'third text', 'fourth text'];
    for (const text of texts.slice(0, 3)) memo.countTokens(text);
    memo.countTokens('first text'); // now most recently used
    memo.countTokens('fourth text'); // evicts "second text"
    expect(memo.stats().entries).toBe(3);
    const before = memo.stats();
    memo.countTokens('first text');
    memo.countTokens('third text');
    memo.countTokens('second text');
    expect(memo.stats()).toEqual({ entries: 3, hits: before.hits + 2, misses: before.misses + 1 });
  });

  it('does not memoize very short strings', () => {
    const memo = new MemoizedEncoder(o200k);
    expect(memo.countTokens('user')).toBe(1);
    expect(memo.countTokens('')).toBe(0);
    expect(memo.stats().entries).toBe(0);
  });
});
