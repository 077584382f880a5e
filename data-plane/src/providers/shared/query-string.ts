// Raw query-string edits that leave every other parameter byte-for-byte as the client sent it.

/**
 * Returns `query` (raw, '' or starting with '?') with every `name` parameter removed and
 * `name=value` appended; `value` is percent-encoded here, `name` must be a plain token.
 */
export function replaceQueryParameter(query: string, name: string, value: string): string {
  const assignment = `${name}=${encodeURIComponent(value)}`;
  if (query.length <= 1) return `?${assignment}`;
  const kept: string[] = [];
  for (const part of query.slice(1).split('&')) {
    if (part === '') continue;
    const equals = part.indexOf('=');
    const rawName = equals < 0 ? part : part.slice(0, equals);
    if (decodeQueryComponent(rawName) !== name) kept.push(part);
  }
  kept.push(assignment);
  return `?${kept.join('&')}`;
}

function decodeQueryComponent(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw; // malformed escapes: compare as sent
  }
}
