// HTTP content codings as the proxy meets them: which ones it can decode (to read usage from a
// compressed response, or count a compressed request), and what it lets an upstream choose from.
import { brotliDecompressSync, constants as zlib } from 'node:zlib';
import { InflateTooLargeError, inflateWhole } from './reusable-inflater';

/** Codings Node 20's zlib decodes (zstd arrives in Node 22.15: not here). */
const DECODABLE: ReadonlySet<string> = new Set(['gzip', 'x-gzip', 'deflate', 'br']);

/**
 * The codings of a Content-Encoding header in the order they were applied (decode in reverse),
 * lower-cased, `identity` left out; [] when the body is not encoded.
 */
export function contentCodings(header: string | readonly string[] | undefined): string[] {
  if (header === undefined) return [];
  const text = typeof header === 'string' ? header : header.join(',');
  const codings: string[] = [];
  for (const part of text.split(',')) {
    const coding = part.trim().toLowerCase();
    if (coding !== '' && coding !== 'identity') codings.push(coding);
  }
  return codings;
}

export function canDecode(codings: readonly string[]): boolean {
  return codings.every((coding) => DECODABLE.has(coding));
}

const acceptCache = new Map<string, string>();
const MAX_ACCEPT_CACHE = 64;

/**
 * The Accept-Encoding to send upstream: the client's, minus the codings the proxy could not decode to
 * read usage (zstd, compress, `*`). When nothing is left the upstream is asked for `identity`. SDKs
 * send the same few values on every request, so the answers are cached.
 */
export function observableAcceptEncoding(header: string): string {
  const cached = acceptCache.get(header);
  if (cached !== undefined) return cached;
  const kept: string[] = [];
  for (const part of header.split(',')) {
    const item = part.trim();
    const semicolon = item.indexOf(';');
    const coding = (semicolon < 0 ? item : item.slice(0, semicolon)).trim().toLowerCase();
    if (DECODABLE.has(coding) || coding === 'identity') kept.push(item);
  }
  const result = kept.length === 0 ? 'identity' : kept.join(', ');
  if (acceptCache.size >= MAX_ACCEPT_CACHE) acceptCache.clear();
  acceptCache.set(header, result);
  return result;
}

/** A request body in a coding the proxy cannot decode (answered 415). */
export class UnsupportedContentEncodingError extends Error {
  override readonly name = 'UnsupportedContentEncodingError';
}

/** A compressed request body that inflates past the body limit (answered 413). */
export class DecodedBodyTooLargeError extends Error {
  override readonly name = 'DecodedBodyTooLargeError';
}

/** A request body that does not decode in its declared coding (answered 400). */
export class CorruptContentEncodingError extends Error {
  override readonly name = 'CorruptContentEncodingError';
}

/**
 * Decodes a whole request body (already read within the body limit) for counting; the decoded size is
 * bounded by `maxBytes`, so a small compressed body cannot inflate into the proxy's memory.
 */
export function decodeBody(body: Buffer, codings: readonly string[], maxBytes: number, options: { readonly truncated?: boolean } = {}): Buffer {
  if (!canDecode(codings)) {
    throw new UnsupportedContentEncodingError(`Content-Encoding "${codings.join(', ')}" is not supported; send the body uncompressed or as gzip, deflate or br.`);
  }
  let decoded = body;
  // A body cut short (truncated: a stream that broke) decodes as far as it goes, as fetch does.
  const truncated = options.truncated === true;
  for (let i = codings.length - 1; i >= 0; i -= 1) {
    try {
      switch (codings[i]) {
        case 'br':
          decoded = brotliDecompressSync(decoded, truncated ? { maxOutputLength: maxBytes, finishFlush: zlib.BROTLI_OPERATION_FLUSH } : { maxOutputLength: maxBytes });
          break;
        case 'deflate':
          decoded = inflateWhole(isZlibWrapped(decoded) ? 'deflate' : 'deflate-raw', decoded, maxBytes, truncated ? zlib.Z_SYNC_FLUSH : zlib.Z_FINISH);
          break;
        default:
          decoded = inflateWhole('gzip', decoded, maxBytes, truncated ? zlib.Z_SYNC_FLUSH : zlib.Z_FINISH);
      }
    } catch (error) {
      if (error instanceof InflateTooLargeError || (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new DecodedBodyTooLargeError(`The request body inflates past ${maxBytes} bytes.`);
      }
      throw new CorruptContentEncodingError(`The request body is not valid ${codings[i]} data.`);
    }
  }
  return decoded;
}

/**
 * `deflate` is meant to be zlib-wrapped (RFC 9110), but some senders use raw deflate; a zlib header
 * has compression method 8 in its low nibble and a header checksum divisible by 31 (as fetch checks).
 */
export function isZlibWrapped(data: Buffer): boolean {
  return data.length >= 2 && (data[0] & 0x0f) === 8 && ((data[0] << 8) | data[1]) % 31 === 0;
}
