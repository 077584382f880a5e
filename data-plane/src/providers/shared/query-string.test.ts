import { replaceQueryParameter } from './query-string';

describe('replaceQueryParameter', () => {
  it.each([
    ['', '?api-version=2024-10-21'],
    ['?', '?api-version=2024-10-21'],
    ['?api-version=old', '?api-version=2024-10-21'],
    ['?a=1&api-version=old&b=%20x', '?a=1&b=%20x&api-version=2024-10-21'],
    ['?api%2Dversion=old&api-version&&c', '?c&api-version=2024-10-21'],
    ['?bad=%E0%A4%A', '?bad=%E0%A4%A&api-version=2024-10-21'],
  ])('%s → %s', (query, expected) => {
    expect(replaceQueryParameter(query, 'api-version', '2024-10-21')).toBe(expected);
  });

  it('encodes the value', () => {
    expect(replaceQueryParameter('', 'v', 'a b&c')).toBe('?v=a%20b%26c');
  });
});
