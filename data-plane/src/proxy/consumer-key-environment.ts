// Which environment a consumer key was issued for, read from the key itself (its format:
// control-plane/src/connection/consumer-key-format.ts, ADR 019): `tgk_` + 43 random characters + the
// environment's tag (4) + a check over both (4). Read only for a key this proxy does not hold, to tell
// "another environment's key" (403) from an unknown one (401). Keys issued before the format had the
// tag (`tgk_` + 43) name no environment.
import { createHash } from 'node:crypto';

const TAGGED_KEY = /^tgk_[A-Za-z0-9_-]{51}$/;

function shortDigest(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 4);
}

/** The tag keys of `environment` (its handle) carry. */
export function tagOfEnvironment(environment: string): string {
  return shortDigest(`tokengate environment ${environment}`);
}

/** The environment tag a well-formed key carries (its check verified), or null. */
export function keyEnvironmentTag(key: string): string | null {
  if (!TAGGED_KEY.test(key)) return null;
  const body = key.slice(4, 51);
  return shortDigest(body) === key.slice(51) ? key.slice(47, 51) : null;
}
