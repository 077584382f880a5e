// The proxy reads the environment a key was issued for exactly as the control plane writes it.
import { generateConsumerKey } from '../../control-plane/src/connection/consumer-key-format';
import { keyEnvironmentTag, tagOfEnvironment } from '../../data-plane/src/proxy/consumer-key-environment';

it('reads the tag of the environment a key was issued for', () => {
  for (const environment of ['production', 'development', 'eu-staging']) {
    const key = generateConsumerKey(environment);
    expect(key).toMatch(/^tgk_[A-Za-z0-9_-]{51}$/);
    expect(keyEnvironmentTag(key)).toBe(tagOfEnvironment(environment));
  }
  expect(tagOfEnvironment('production')).not.toBe(tagOfEnvironment('development'));
});

it('names no environment for a key whose check fails, a key of the earlier form, or anything else', () => {
  const key = generateConsumerKey('production');
  const flipped = (at: number) => `${key.slice(0, at)}${key[at] === 'a' ? 'b' : 'a'}${key.slice(at + 1)}`;
  for (const at of [4, 30, 47, 50, 51, 54]) expect(keyEnvironmentTag(flipped(at))).toBeNull();
  expect(keyEnvironmentTag(`tgk_${'A'.repeat(43)}`)).toBeNull();
  expect(keyEnvironmentTag(`${key}x`)).toBeNull();
  expect(keyEnvironmentTag(key.replace('tgk_', 'sk-_'))).toBeNull();
  expect(keyEnvironmentTag('')).toBeNull();
});
