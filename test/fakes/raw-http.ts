// A bare HTTP/1.1 client for wire assertions: it sends exactly the headers given (fetch adds its own
// Accept-Encoding) and hands back the body as it came, content codings not undone.
import { type IncomingHttpHeaders, type IncomingMessage, request } from 'node:http';

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
}

/** Sends a request on its own connection and resolves once the response head has arrived. */
export function openRawRequest(url: string, options: RawRequestOptions = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'POST', headers: options.headers, agent: false }, resolve);
    req.once('error', reject);
    req.end(options.body);
  });
}

/** Sends a request and reads the whole response body, undecoded. */
export async function rawRequest(url: string, options: RawRequestOptions = {}): Promise<RawResponse> {
  const response = await openRawRequest(url, options);
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return { status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) };
}
