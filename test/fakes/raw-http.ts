// A bare HTTP/1.1 client for wire assertions: it sends exactly the headers given (fetch adds its own
// Accept-Encoding) and hands back the body as it came, content codings not undone.
import { type IncomingHttpHeaders, type IncomingMessage, request } from 'node:http';
import { decodeBody } from './content-coding';

export interface RawRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body bytes as received (still content-encoded). */
  body: Buffer;
  /** False when the connection broke before the body's end (a cut stream). */
  complete: boolean;
}

/** Sends a request on its own connection and resolves once the response head has arrived. */
export function openRawRequest(url: string, options: RawRequestOptions = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'POST', headers: options.headers, agent: false }, resolve);
    req.once('error', reject);
    req.end(options.body);
  });
}

/** Sends a request and reads the response body, undecoded, up to its end or a broken connection. */
export async function rawRequest(url: string, options: RawRequestOptions = {}): Promise<RawResponse> {
  const response = await openRawRequest(url, options);
  const chunks: Buffer[] = [];
  const complete = await new Promise<boolean>((resolve) => {
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.once('end', () => resolve(true));
    response.once('error', () => resolve(false));
    response.once('close', () => resolve(response.complete));
  });
  return { status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks), complete };
}

/** The body with its content codings undone; a cut body decodes as far as it goes. */
export function decodedText(response: RawResponse): string {
  const coding = response.headers['content-encoding'];
  return (coding === undefined ? response.body : decodeBody(response.body, coding, { truncated: !response.complete })).toString('utf8');
}
