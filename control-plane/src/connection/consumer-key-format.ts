// The consumer key's format: `tgk_` + 256 random bits (43 base64url characters) + the environment's
// tag (4) + a check (4). The tag lets a proxy of another environment answer a key that is not its own
// with 403 ("use the other environment's proxy", as the contract asks for a key not allowed in this
// environment) instead of 401, without holding other environments' keys; the check keeps random
// strings from passing for keys of another environment. Neither says whether a key is live: a string
// of the right form with another environment's tag gets that same 403. Verified by the proxy in
// data-plane/src/proxy/consumer-key-environment.ts (ADR 019); the two must stay byte for byte alike.
import { createHash, randomBytes } from 'node:crypto';

export const CONSUMER_KEY_PREFIX = 'tgk_';

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 4);
}

/** The 4 characters naming an environment (by handle) in its keys. */
export function environmentTag(environmentHandle: string): string {
  return digest(`tokengate environment ${environmentHandle}`);
}

/** A new consumer key for one environment (shown once; stored as its SHA-256 only). */
export function generateConsumerKey(environmentHandle: string): string {
  const body = `${randomBytes(32).toString('base64url')}${environmentTag(environmentHandle)}`;
  return `${CONSUMER_KEY_PREFIX}${body}${digest(body)}`;
}
