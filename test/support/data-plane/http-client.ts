// Minimal HTTP/1.1 and h2c clients for proxy tests: no agent reuse, whole responses as text.
import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import http2 from 'node:http2';

export interface TestResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

export interface TestRequest {
  readonly method?: string;
  readonly headers?: OutgoingHttpHeaders;
  readonly body?: string | Buffer;
}

/** `url`'s path is sent exactly as written (no dot-segment resolution, no re-encoding). */
export function httpRequest(url: string, request: TestRequest = {}): Promise<TestResponse> {
  const { host, port, path } = splitUrl(url);
  return new Promise((resolve, reject) => {
    const outgoing = http.request({ host, port, path, method: request.method ?? 'GET', headers: request.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(request.body);
  });
}

function splitUrl(url: string): { host: string; port: number; path: string } {
  const match = /^http:\/\/([^/:]+):(\d+)(.*)$/.exec(url);
  if (match === null) throw new Error(`httpRequest needs http://host:port/path, got ${url}`);
  return { host: match[1], port: Number(match[2]), path: match[3] === '' ? '/' : match[3] };
}

/** Parses a JSON response body, failing the test with the raw text when it is not JSON. */
export function jsonOf(response: TestResponse): Record<string, unknown> {
  try {
    return JSON.parse(response.text) as Record<string, unknown>;
  } catch {
    throw new Error(`expected JSON, got ${response.status}: ${response.text}`);
  }
}

/** One request over a fresh cleartext HTTP/2 connection with prior knowledge (what the Bedrock SDK does). */
export function h2cRequest(origin: string, path: string, request: TestRequest = {}): Promise<TestResponse> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(origin);
    session.on('error', reject);
    const stream = session.request({ ':method': request.method ?? 'GET', ':path': path, ...request.headers });
    let status = 0;
    let headers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (received) => {
      status = Number(received[':status']);
      headers = received as IncomingHttpHeaders;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      session.close();
      resolve({ status, headers, text: Buffer.concat(chunks).toString('utf8') });
    });
    stream.on('error', (error) => {
      session.destroy();
      reject(error);
    });
    stream.end(request.body);
  });
}
