import { randomBytes } from 'node:crypto';
import { ConfigError } from '../common/config-error';
import { SecretBox, parseSecretKeys, secretHint } from './secret-box';

const keyA = randomBytes(32).toString('base64');
const keyB = randomBytes(32).toString('base64');

describe('SecretBox', () => {
  it('round-trips and never produces the plaintext or the same ciphertext twice', () => {
    const box = new SecretBox(parseSecretKeys(keyA, undefined, false));
    const sealed = box.seal('sk-secret-value');
    expect(sealed).not.toContain('sk-secret-value');
    expect(box.seal('sk-secret-value')).not.toBe(sealed);
    expect(box.open(sealed)).toBe('sk-secret-value');
  });

  it('opens values sealed under a previous key after rotation, and seals new ones under the current key', () => {
    const old = new SecretBox(parseSecretKeys(keyA, undefined, false));
    const sealed = old.seal('rotate-me');
    const rotated = new SecretBox(parseSecretKeys(keyB, keyA, false));
    expect(rotated.open(sealed)).toBe('rotate-me');
    expect(SecretBox.keyIdOf(rotated.seal('x'))).toBe(rotated.currentKeyId);
    expect(rotated.currentKeyId).not.toBe(old.currentKeyId);
    const forgotten = new SecretBox(parseSecretKeys(keyB, undefined, false));
    expect(() => forgotten.open(sealed)).toThrow(/not configured/);
  });

  it('detects tampering', () => {
    const box = new SecretBox(parseSecretKeys(keyA, undefined, false));
    const parts = box.seal('integrity').split(':');
    const ciphertext = Buffer.from(parts[4], 'base64');
    ciphertext[0] ^= 1;
    parts[4] = ciphertext.toString('base64');
    expect(() => box.open(parts.join(':'))).toThrow();
  });

  it('refuses a missing key outside development mode, and a malformed one always, with a clear message', () => {
    expect(() => parseSecretKeys(undefined, undefined, false)).toThrow(ConfigError);
    expect(() => parseSecretKeys(undefined, undefined, false)).toThrow(/TOKENGATE_SECRET_KEY is not set/);
    expect(() => parseSecretKeys('too-short', undefined, false)).toThrow(/32 random bytes/);
    expect(() => parseSecretKeys('too-short', undefined, true)).toThrow(/32 random bytes/);
    expect(() => parseSecretKeys(keyA, 'garbage', false)).toThrow(/TOKENGATE_PREVIOUS_SECRET_KEYS/);
    expect(parseSecretKeys(undefined, undefined, true)).toHaveLength(1);
  });

  it('hints only the last four characters of long secrets', () => {
    expect(secretHint('test-abcdefghijklmnop1234')).toBe('…1234');
    expect(secretHint('short')).toBe('…');
  });
});
