import { createHash, randomBytes } from 'node:crypto';

/** A high-entropy bearer credential: prefix + 256 random bits, base64url. */
export function generateToken(prefix: string): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}

/**
 * SHA-256 (hex). Tokens carry 256 bits of entropy, so a fast hash is enough (no password stretching);
 * lookups by hash keep comparisons off the token's own bytes.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
