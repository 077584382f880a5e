// AES-256-GCM encryption of provider credentials at rest. Ciphertexts name the key that sealed them,
// so TOKENGATE_SECRET_KEY can be rotated: new writes use the current key, older keys still open.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { ConfigError } from '../common/config-error';

const FORMAT = 'v1';
const AAD = Buffer.from('tokengate:provider-credentials');
/** Fixed, public key used only in development mode when no key is configured. Never for real secrets. */
const DEVELOPMENT_KEY = createHash('sha256').update('tokengate-development-only-key').digest();

export interface SecretKey {
  id: string;
  key: Buffer;
}

export function secretKeyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

function decodeKey(raw: string, variable: string): SecretKey {
  const trimmed = raw.trim();
  const key = /^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed) ? Buffer.from(trimmed, 'base64') : Buffer.alloc(0);
  if (key.length !== 32) {
    throw new ConfigError(
      `${variable} must be 32 random bytes encoded as base64 (44 characters), e.g. the output of ` +
        '`openssl rand -base64 32`; the value given does not decode to 32 bytes',
    );
  }
  return { id: secretKeyId(key), key };
}

/** Parses the current key and the comma-separated previous keys (still accepted for decryption). */
export function parseSecretKeys(current: string | undefined, previous: string | undefined, developmentMode: boolean): SecretKey[] {
  const keys: SecretKey[] = [];
  if (current) keys.push(decodeKey(current, 'TOKENGATE_SECRET_KEY'));
  else if (developmentMode) keys.push({ id: secretKeyId(DEVELOPMENT_KEY), key: DEVELOPMENT_KEY });
  else {
    throw new ConfigError(
      'TOKENGATE_SECRET_KEY is not set. It encrypts provider credentials at rest: set it to 32 random bytes ' +
        'in base64 (`openssl rand -base64 32`), or run in development mode (TOKENGATE_MODE=development).',
    );
  }
  for (const part of (previous ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    keys.push(decodeKey(part, 'TOKENGATE_PREVIOUS_SECRET_KEYS'));
  }
  return keys;
}

export class SecretBox {
  private readonly byId: Map<string, Buffer>;
  private readonly current: SecretKey;

  constructor(keys: SecretKey[]) {
    if (keys.length === 0) throw new ConfigError('no secret key configured');
    this.current = keys[0];
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  get currentKeyId(): string {
    return this.current.id;
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(AAD);
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [FORMAT, this.current.id, iv.toString('base64'), cipher.getAuthTag().toString('base64'), ciphertext.toString('base64')].join(':');
  }

  open(sealed: string): string {
    const [format, keyId, iv, tag, ciphertext] = sealed.split(':');
    if (format !== FORMAT || !ciphertext) throw new Error('sealed secret has an unknown format');
    const key = this.byId.get(keyId);
    if (!key) throw new Error(`sealed secret was encrypted with key ${keyId}, which is not configured`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
    decipher.setAAD(AAD);
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64')), decipher.final()]).toString('utf8');
  }

  /** Key id a sealed value was encrypted with (for re-encryption after rotation). */
  static keyIdOf(sealed: string): string {
    return sealed.split(':')[1] ?? '';
  }
}

/** A short, non-reversible hint of a secret: its last four characters, for keys long enough to spare them. */
export function secretHint(secret: string): string {
  return secret.length >= 12 ? `…${secret.slice(-4)}` : '…';
}
