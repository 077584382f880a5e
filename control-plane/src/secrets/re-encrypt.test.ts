import { randomBytes } from 'node:crypto';
import { ReEncryptionError, describeReEncryption, planReEncryption, type SealedSecret } from './re-encrypt';
import { SecretBox, parseSecretKeys } from './secret-box';

const keyA = randomBytes(32).toString('base64');
const keyB = randomBytes(32).toString('base64');
const keyC = randomBytes(32).toString('base64');
const [a] = parseSecretKeys(keyA, undefined, false);
const [b] = parseSecretKeys(keyB, undefined, false);
const [c] = parseSecretKeys(keyC, undefined, false);
const PLAINTEXT = '{"apiKey":"sk-unit-plaintext-0123456789"}';

function secret(id: string, box: SecretBox, owner = `service acme/${id} in environment production`): SealedSecret {
  return { id, sealed: box.seal(PLAINTEXT), owner };
}

describe('planReEncryption', () => {
  const boxA = new SecretBox([a]);
  const boxB = new SecretBox([b]);
  const boxC = new SecretBox([c]);

  it('re-seals what older keys sealed with the current key, leaves current ones alone, and is idempotent', () => {
    const secrets = [secret('one', boxA), secret('two', boxB), secret('three', boxC), secret('four', boxA)];
    const keys = [b, a, c];
    const plan = planReEncryption(secrets, keys);
    expect(plan.currentKeyId).toBe(b.id);
    expect(plan.alreadyCurrent).toBe(1);
    expect(plan.resealed.map((r) => r.id)).toEqual(['one', 'three', 'four']);
    expect(plan.resealedFrom).toEqual(new Map([[a.id, 2], [c.id, 1]]));
    expect(plan.droppableKeyIds).toEqual([a.id, c.id]);
    for (const r of plan.resealed) {
      expect(SecretBox.keyIdOf(r.sealed)).toBe(b.id);
      expect(boxB.open(r.sealed)).toBe(PLAINTEXT);
    }

    const applied = secrets.map((s) => ({ ...s, sealed: plan.resealed.find((r) => r.id === s.id)?.sealed ?? s.sealed }));
    const again = planReEncryption(applied, keys);
    expect(again.resealed).toEqual([]);
    expect(again.alreadyCurrent).toBe(4);
  });

  it('refuses, naming each key id and owner, when a secret was sealed with a key that is not configured', () => {
    const secrets = [secret('one', boxA, 'service acme/openai in environment production'), secret('two', boxC, 'service acme/claude in environment development'), secret('three', boxB)];
    const attempt = () => planReEncryption(secrets, [b, c]);
    expect(attempt).toThrow(ReEncryptionError);
    expect(attempt).toThrow(`1 provider secret sealed with key ${a.id}, which is not configured`);
    expect(attempt).toThrow('service acme/openai in environment production');
    expect(attempt).toThrow(/TOKENGATE_PREVIOUS_SECRET_KEYS/);
    expect(attempt).not.toThrow('acme/claude');
  });

  it('reports undecryptable and malformed values without printing any secret material', () => {
    const tampered = secret('one', boxA, 'service acme/tampered in environment production');
    const parts = tampered.sealed.split(':');
    const ciphertext = Buffer.from(parts[4], 'base64');
    ciphertext[0] ^= 1;
    parts[4] = ciphertext.toString('base64');
    tampered.sealed = parts.join(':');
    const plain = { id: 'two', sealed: 'sk-not-sealed-at-all', owner: 'service acme/raw in environment production' };
    let message = '';
    try {
      planReEncryption([tampered, plain], [b, a]);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('service acme/tampered in environment production: sealed with key');
    expect(message).toContain('service acme/raw in environment production: the stored value is not in a known sealed format');
    for (const leak of [PLAINTEXT, 'sk-unit-plaintext', 'sk-not-sealed-at-all', parts[4], keyA, keyB]) expect(message).not.toContain(leak);
  });

  it('lists at most ten owners per missing key', () => {
    const secrets = Array.from({ length: 13 }, (_, i) => secret(`s${i}`, boxA));
    expect(() => planReEncryption(secrets, [b])).toThrow(/13 provider secrets sealed with key .* and 3 more$/);
  });

  it('has nothing to do when nothing is stored', () => {
    const plan = planReEncryption([], [b]);
    expect(plan).toMatchObject({ resealed: [], alreadyCurrent: 0, droppableKeyIds: [] });
  });
});

describe('describeReEncryption', () => {
  it('summarizes a run in one line, with key ids only', () => {
    const plan = planReEncryption([secret('one', new SecretBox([a])), secret('two', new SecretBox([a])), secret('three', new SecretBox([b]))], [b, a]);
    expect(describeReEncryption(plan, false)).toBe(
      `re-encrypted 2 provider secrets with key ${b.id} (from key ${a.id}: 2); 1 already current; TOKENGATE_PREVIOUS_SECRET_KEYS may now drop keys: ${a.id}`,
    );
    expect(describeReEncryption(plan, true)).toBe(
      `dry run, nothing changed: would re-encrypt 2 provider secrets with key ${b.id} (from key ${a.id}: 2); 1 already current; TOKENGATE_PREVIOUS_SECRET_KEYS could then drop keys: ${a.id}`,
    );
  });

  it('says when there is nothing to re-encrypt and no key to drop', () => {
    const plan = planReEncryption([secret('one', new SecretBox([b]))], [b]);
    expect(describeReEncryption(plan, false)).toBe(`re-encrypted 0 provider secrets with key ${b.id}; 1 already current; TOKENGATE_PREVIOUS_SECRET_KEYS may now drop keys: none`);
  });
});
