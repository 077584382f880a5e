import { CONFLICTING_KEYS, MISSING_KEY, extractConsumerKey } from './consumer-key';

describe('extractConsumerKey', () => {
  it.each([
    [{ authorization: 'Bearer tgk_a' }, 'tgk_a'],
    [{ authorization: 'BEARER   tgk_a  ' }, 'tgk_a'],
    [{ 'api-key': 'tgk_a' }, 'tgk_a'],
    [{ 'x-api-key': ' tgk_a' }, 'tgk_a'],
    [{ authorization: 'Bearer tgk_a', 'api-key': 'tgk_a', 'x-api-key': 'tgk_a' }, 'tgk_a'],
    [{ authorization: 'AWS4-HMAC-SHA256 Credential=x', 'x-api-key': 'tgk_a' }, 'tgk_a'],
  ])('finds the key in %j', (headers, key) => {
    expect(extractConsumerKey(headers)).toBe(key);
  });

  it.each([[{}], [{ authorization: 'Bearer ' }], [{ authorization: 'Basic dXNlcjpwdw==' }], [{ 'x-api-key': '' }], [{ authorization: 'Bearertgk_a' }]])(
    'reports a missing key for %j',
    (headers) => {
      expect(extractConsumerKey(headers)).toBe(MISSING_KEY);
    },
  );

  it('reports disagreeing headers as a conflict', () => {
    expect(extractConsumerKey({ authorization: 'Bearer tgk_a', 'x-api-key': 'tgk_b' })).toBe(CONFLICTING_KEYS);
    expect(extractConsumerKey({ 'api-key': 'tgk_a', 'x-api-key': 'tgk_b' })).toBe(CONFLICTING_KEYS);
  });
});
