// Reading a request body as JSON for accounting, and adding one member without re-serializing it.
import { RequestBodyError } from '../usage-accounting';
import { bodyKind } from './content-type';
import { isJsonObject, member, tokenCount } from './json-values';

/**
 * The parsed body, or null when there is no JSON body: an empty body (GET, DELETE...) or a declared
 * upload (multipart, octet-stream, audio/image/video) that the API does not read as JSON.
 * @throws RequestBodyError for any other body that is not valid JSON
 */
export function parseJsonRequestBody(body: Buffer, contentType: string | undefined): unknown {
  if (body.length === 0) return null;
  const kind = bodyKind(contentType);
  if (kind === 'multipart' || kind === 'binary') return null;
  try {
    // A UTF-8 byte order mark is not JSON, but is harmless to read past.
    return JSON.parse(body.toString('utf8', hasByteOrderMark(body) ? 3 : 0)) as unknown;
  } catch {
    // The parser's message quotes the body; the client's prompt has no place in our errors or logs.
    throw new RequestBodyError(`The request body is not valid JSON (${body.length} bytes); this API takes a JSON body.`);
  }
}

/**
 * The completion limit of a request: the first of `names` holding a token count, times `n` choices
 * when the request asks for more than one. Paths name nested members ('inferenceConfig.maxTokens').
 */
export function completionLimit(json: unknown, names: readonly string[], choicesMember?: string): number | null {
  for (const name of names) {
    const limit = tokenCount(name.includes('.') ? memberAt(json, name) : member(json, name));
    if (limit === null) continue;
    const choices = choicesMember === undefined ? null : tokenCount(member(json, choicesMember));
    return choices !== null && choices > 1 ? limit * choices : limit;
  }
  return null;
}

/** The member a dotted path names ('inferenceConfig.maxTokens'), or undefined. */
function memberAt(json: unknown, path: string): unknown {
  let value: unknown = json;
  for (const part of path.split('.')) value = member(value, part);
  return value;
}

/**
 * `body` (a JSON object, as JSON.parse accepted it) with `"name":value` inserted as its first
 * member; every other byte stays as the client sent it (no re-serialization, so no change to number
 * formatting, escapes or key order). The caller guarantees the object has no `name` member.
 */
export function insertFirstMember(body: Buffer, name: string, value: unknown): Buffer {
  let open = hasByteOrderMark(body) ? 3 : 0;
  while (open < body.length && body[open] !== 0x7b /* { */) open += 1;
  if (open === body.length) throw new Error('insertFirstMember: body is not a JSON object');
  let next = open + 1;
  while (next < body.length && isJsonWhitespace(body[next])) next += 1;
  const empty = body[next] === 0x7d; /* } */
  const member = Buffer.from(`${JSON.stringify(name)}:${JSON.stringify(value)}${empty ? '' : ','}`, 'utf8');
  return Buffer.concat([body.subarray(0, open + 1), member, body.subarray(open + 1)]);
}

/** A shallow copy of a parsed object with `name` set first (mirrors insertFirstMember). */
export function withFirstMember(json: unknown, name: string, value: unknown): unknown {
  return isJsonObject(json) ? { [name]: value, ...json } : json;
}

function hasByteOrderMark(body: Buffer): boolean {
  return body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf;
}

function isJsonWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}
