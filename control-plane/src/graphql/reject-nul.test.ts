import { findNulCharacter } from './reject-nul';

describe('findNulCharacter', () => {
  it('names the nested field whose string holds U+0000', () => {
    expect(findNulCharacter({ input: { name: 'ok', tags: ['a', 'b\u0000c'] } }, '')).toBe('input.tags.1');
    expect(findNulCharacter({ filter: { search: '\u0000' } }, '')).toBe('filter.search');
  });

  it('passes strings without it, numbers, booleans and nulls', () => {
    expect(findNulCharacter({ input: { name: 'a\\u0000b', max: 5, on: true, none: null } }, '')).toBeNull();
  });
});
