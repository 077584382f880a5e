// Finds the consumer key wherever each provider's official SDK puts it.
import type { IncomingHttpHeaders } from 'node:http';

export const MISSING_KEY = 0;
export const CONFLICTING_KEYS = 1;

export type ConsumerKeyPresence = string | typeof MISSING_KEY | typeof CONFLICTING_KEYS;

/**
 * The key from `Authorization: Bearer <key>` (OpenAI, Mistral, Anthropic 1.x, Bedrock API keys),
 * `api-key` (Azure OpenAI) or `x-api-key` (Anthropic). Several present with different values is a
 * conflict; an Authorization header of another scheme (e.g. AWS4-HMAC-SHA256) carries no key.
 * Node caps the header block (16 KiB by default), which bounds what gets hashed.
 */
export function extractConsumerKey(headers: IncomingHttpHeaders): ConsumerKeyPresence {
  let key: string | undefined;
  const authorization = headers['authorization'];
  if (authorization !== undefined && authorization.length > 7 && authorization.charCodeAt(6) === 32 /* ' ' */ && authorization.slice(0, 6).toLowerCase() === 'bearer') {
    key = authorization.slice(7).trim();
  }
  const apiKey = headers['api-key'];
  if (apiKey !== undefined) {
    const candidate = headerText(apiKey);
    if (key === undefined) key = candidate;
    else if (key !== candidate) return CONFLICTING_KEYS;
  }
  const xApiKey = headers['x-api-key'];
  if (xApiKey !== undefined) {
    const candidate = headerText(xApiKey);
    if (key === undefined) key = candidate;
    else if (key !== candidate) return CONFLICTING_KEYS;
  }
  return key === undefined || key === '' ? MISSING_KEY : key;
}

function headerText(value: string | string[]): string {
  return (typeof value === 'string' ? value : value.join(',')).trim();
}
