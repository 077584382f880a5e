// Which request paths may be forwarded. A provider path is appended to the service's base path and sent
// upstream as the client wrote it, so no path may resolve outside that base at an upstream that
// percent-decodes (once or repeatedly), Unicode-normalizes, or treats backslashes as slashes.
// `inspectRequestPath` runs on the whole raw path before routing; encoded slashes, which the AWS SDK
// legitimately sends inside Bedrock model ids and ARNs, are judged after routing against the provider's
// path grammar by `encodedSlashesAllowed`.
import type { ProviderAdapter } from '../providers/provider-adapter';

/** Why a path is refused; each becomes the message of a 400 `bad_request`. */
export type PathRefusal = 'unencoded_character' | 'dot_segment' | 'backslash' | 'control_character' | 'over_encoded' | 'invalid_encoding' | 'encoded_slash';

export interface SafePath {
  readonly safe: true;
  /** Some segment decodes to text holding a '/': allowed only where the provider's grammar says. */
  readonly encodedSlashes: boolean;
}

export interface RefusedPath {
  readonly safe: false;
  readonly refusal: PathRefusal;
}

export type PathVerdict = SafePath | RefusedPath;

export const PATH_REFUSAL_MESSAGES: Readonly<Record<PathRefusal, string>> = {
  unencoded_character: 'The request path has a space, control or non-ASCII character that must be percent-encoded; such paths are refused, never forwarded.',
  dot_segment: "The request path has a '.' or '..' segment (literal, percent-encoded or otherwise spelled); such paths are refused, never forwarded.",
  backslash: 'The request path has a backslash (literal or percent-encoded); such paths are refused, never forwarded.',
  control_character: 'The request path has a control character (literal or percent-encoded); such paths are refused, never forwarded.',
  over_encoded: 'The request path is percent-encoded more than twice over; such paths are refused, never forwarded.',
  invalid_encoding: 'The request path does not decode to UTF-8; such paths are refused, never forwarded.',
  encoded_slash: "The request path has an encoded slash (%2F) where this provider's API takes none; such paths are refused, never forwarded.",
};

const PLAIN: PathVerdict = { safe: true, encodedSlashes: false };
const WITH_ENCODED_SLASHES: PathVerdict = { safe: true, encodedSlashes: true };
const REFUSED: Readonly<Record<PathRefusal, RefusedPath>> = {
  unencoded_character: { safe: false, refusal: 'unencoded_character' },
  dot_segment: { safe: false, refusal: 'dot_segment' },
  backslash: { safe: false, refusal: 'backslash' },
  control_character: { safe: false, refusal: 'control_character' },
  over_encoded: { safe: false, refusal: 'over_encoded' },
  invalid_encoding: { safe: false, refusal: 'invalid_encoding' },
  encoded_slash: { safe: false, refusal: 'encoded_slash' },
};

/**
 * Anything that could spell a dot segment, a backslash or a control character: a percent sign, a
 * backslash, a character outside visible ASCII, or a segment starting with '.'. Paths without any
 * (nearly all SDK calls but Bedrock's, whose model ids are encoded) skip the decoding below.
 */
const NEEDS_DECODING = /[^\u0021-\u007e]|[%\\]|\/\./;

/**
 * Characters RFC 3986 allows in a path only percent-encoded, sent raw: node:http refuses them in an
 * HTTP/1.1 request line, HTTP/2 lets them through, and an upstream may refuse, mangle or normalize them.
 */
const UNENCODED = /[^\u0021-\u007e]/;

/** Percent-encoding levels a segment may carry (`%252F` is two); one more and the path is refused. */
const MAX_ENCODING_LEVELS = 2;

/**
 * A segment an upstream may resolve as '.' or '..' once decoded: dots only, optionally followed by
 * whitespace (Windows and IIS drop trailing dots and spaces, so '...' and '.. ' are '..' there) and
 * by ';parameters' (Java servlet containers drop them, so '..;x' is '..').
 */
const DOT_SEGMENT = /^\.+[.\s]*(?:;.*)?$/s;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Judges a raw request path (no query). Refused when it holds a character outside visible ASCII;
 * otherwise every segment is percent-decoded until nothing changes (at most MAX_ENCODING_LEVELS
 * times), read as UTF-8 and NFKC-normalized (fullwidth '．' is '.', '‥' is '..', '／' is '/'), and
 * refused when any piece of it, split on '/', is a dot segment, or when it holds a backslash or a
 * control character.
 */
export function inspectRequestPath(path: string): PathVerdict {
  if (!NEEDS_DECODING.test(path)) return PLAIN;
  if (UNENCODED.test(path)) return REFUSED.unencoded_character;
  let encodedSlashes = false;
  for (const segment of path.split('/')) {
    const decoded = decodeSegment(segment);
    if (typeof decoded !== 'string') return decoded;
    if (decoded.indexOf('/') < 0) {
      if (DOT_SEGMENT.test(decoded)) return REFUSED.dot_segment;
      continue;
    }
    encodedSlashes = true;
    for (const piece of decoded.split('/')) if (DOT_SEGMENT.test(piece)) return REFUSED.dot_segment;
  }
  return encodedSlashes ? WITH_ENCODED_SLASHES : PLAIN;
}

/** True when a path has a '.' or '..' segment in any spelling inspectRequestPath recognizes. */
export function hasDotSegment(path: string): boolean {
  const verdict = inspectRequestPath(path);
  return !verdict.safe && verdict.refusal === 'dot_segment';
}

/**
 * For a path inspectRequestPath found safe with encoded slashes: true when every encoded slash of the
 * provider path ('' or starting with '/') sits in an identifier segment of the provider's grammar
 * (`ProviderAdapter.encodedIdentifierAfter`: the segment right after one of those names) and
 * is spelled `%2F` exactly once over (not `%252F`, not a fullwidth '／'). Dot segments among the
 * decoded pieces were already refused before routing.
 */
export function encodedSlashesAllowed(provider: Pick<ProviderAdapter, 'encodedIdentifierAfter'>, providerPath: string): boolean {
  const identifierAfter = provider.encodedIdentifierAfter;
  const segments = providerPath.split('/');
  for (let index = 0; index < segments.length; index++) {
    const decoded = decodeSegment(segments[index]);
    if (typeof decoded !== 'string') return false;
    if (decoded.indexOf('/') < 0) continue;
    if (identifierAfter === undefined || index !== 2 || !identifierAfter.has(segments[1])) return false;
    if (/%25/i.test(segments[index]) || count(decoded, /\//g) !== count(segments[index], /%2f/gi)) return false;
  }
  return true;
}

/** The segment (visible ASCII) fully percent-decoded, as NFKC-normalized UTF-8, or why it is refused. */
function decodeSegment(segment: string): string | RefusedPath {
  if (segment.indexOf('\\') >= 0) return REFUSED.backslash;
  if (segment.indexOf('%') < 0) return segment;
  let bytes = asciiBytes(segment);
  for (let level = 0; ; level++) {
    const next = percentDecodeOnce(bytes);
    if (next === null) break;
    if (level === MAX_ENCODING_LEVELS) return REFUSED.over_encoded;
    bytes = next;
  }
  let nonAscii = false;
  for (const byte of bytes) {
    if (byte === 0x5c) return REFUSED.backslash;
    if (byte < 0x20 || byte === 0x7f) return REFUSED.control_character;
    if (byte >= 0x80) nonAscii = true;
  }
  if (!nonAscii) return Buffer.from(bytes).toString('latin1');
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return REFUSED.invalid_encoding; // overlong forms such as %C0%AE ('.' to old decoders) land here
  }
  text = text.normalize('NFKC');
  if (text.indexOf('\\') >= 0) return REFUSED.backslash; // fullwidth '＼'
  return text;
}

/** A visible-ASCII string as its bytes. */
function asciiBytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** One round of `%XX` decoding; null when there was nothing to decode (malformed escapes stay as they are). */
function percentDecodeOnce(bytes: Uint8Array): Uint8Array | null {
  let out: Uint8Array | null = null;
  let length = 0;
  for (let i = 0; i < bytes.length; i++) {
    const high = bytes[i] === 0x25 && i + 2 < bytes.length ? hexValue(bytes[i + 1]) : -1;
    const low = high < 0 ? -1 : hexValue(bytes[i + 2]);
    if (low < 0) {
      if (out !== null) out[length++] = bytes[i];
      continue;
    }
    if (out === null) {
      out = new Uint8Array(bytes.length);
      out.set(bytes.subarray(0, i));
      length = i;
    }
    out[length++] = high * 16 + low;
    i += 2;
  }
  return out === null ? null : out.subarray(0, length);
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  return -1;
}

function count(text: string, pattern: RegExp): number {
  return text.match(pattern)?.length ?? 0;
}
