// The provider `tokengate start --demo` points its demo service at: a small OpenAI-compatible server
// (chat completions, JSON and SSE, with usage as OpenAI reports it; model listing). Product code, so
// that what ships carries no test support; the wire-exact fakes the tests use live in test/fakes.
import { randomBytes } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export const DEMO_REPLY = 'Hello from the fake';
const MODELS = ['gpt-4o-mini', 'gpt-4o'];

export interface DemoProvider {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly url: string;
  close(): Promise<void>;
}

export async function startDemoProvider(): Promise<DemoProvider> {
  const server = createServer((req, res) => {
    readJson(req).then(
      (body) => answer(req, res, body),
      () => sendJson(res, 400, { error: { message: 'We could not parse the JSON body of your request.', type: 'invalid_request_error', param: null, code: null } }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function answer(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>): void {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && path === '/v1/models') {
    sendJson(res, 200, { object: 'list', data: MODELS.map((id) => ({ id, object: 'model', created: 1715367049, owned_by: 'system' })) });
    return;
  }
  if (req.method !== 'POST' || path !== '/v1/chat/completions') {
    sendJson(res, 404, { error: { message: `Invalid URL (${req.method ?? 'GET'} ${path})`, type: 'invalid_request_error', param: null, code: null } });
    return;
  }
  const model = typeof body.model === 'string' ? body.model : MODELS[0];
  const id = `chatcmpl-${randomBytes(12).toString('hex')}`;
  const created = Math.floor(Date.now() / 1000);
  const words = DEMO_REPLY.match(/\s*\S+/g) ?? [];
  const usage = { prompt_tokens: 11, completion_tokens: words.length + 2, total_tokens: 13 + words.length };
  if (body.stream !== true) {
    sendJson(res, 200, { id, object: 'chat.completion', created, model, choices: [{ index: 0, message: { role: 'assistant', content: DEMO_REPLY, refusal: null }, logprobs: null, finish_reason: 'stop' }], usage });
    return;
  }
  const includeUsage = typeof body.stream_options === 'object' && body.stream_options !== null && (body.stream_options as Record<string, unknown>).include_usage === true;
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices, ...(includeUsage ? { usage: null } : {}), ...extra })}\n\n`;
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  res.write(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]));
  for (const word of words) res.write(chunk([{ index: 0, delta: { content: word }, finish_reason: null }]));
  res.write(chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]));
  if (includeUsage) res.write(chunk([], { usage }));
  res.end('data: [DONE]\n\n');
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return {};
  const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
