// Content codings through the proxy: what the client receives is the provider's bytes, unchanged; the
// upstream is never offered a coding the proxy cannot decode (zstd on Node 20); a compressed request
// body is decoded for counting (and forwarded as sent), and a coding the proxy cannot decode is refused
// with a 415 in the provider's format, never counted as garbage.
import { gzipSync } from 'node:zlib';
import OpenAI from 'openai';
import { decodedText, rawRequest } from '../fakes';
import { type Gateway, startGateway } from '../support/gateway-harness';
import { waitFor } from '../support/wait';

let gw: Gateway;

beforeAll(async () => {
  gw = await startGateway({ rateLimiting: { usageReportIntervalMs: 100 } });
});
afterAll(async () => {
  await gw?.stop();
});
beforeEach(() => {
  for (const fake of Object.values(gw.fakes)) fake.reset();
});

const CHAT = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });

async function promptTokensOf(connectionId: string): Promise<{ requests: number; promptTokens: number; requestModel: string | null }> {
  const { connection } = await gw.cp.ok<{ connection: { usageReport: { rows: Array<{ requests: number; promptTokens: number; requestModel: string | null }> } } }>(
    'query($id: ID!) { connection(id: $id) { usageReport(groupBy: [REQUEST_MODEL]) { rows { requests promptTokens requestModel } } } }',
    { id: connectionId },
    gw.tenant.tokens.developer,
  );
  return connection.usageReport.rows[0] ?? { requests: 0, promptTokens: 0, requestModel: null };
}

it('relays the provider’s compressed bytes unchanged and unbuffered, with its content-encoding', async () => {
  const { endpoint, key } = gw.services.openai;
  const through = await rawRequest(`${endpoint}/chat/completions`, {
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'accept-encoding': 'gzip, deflate' },
    body: CHAT,
  });
  expect(through.status).toBe(200);
  expect(through.headers['content-encoding']).toBe('gzip');
  expect(Number(through.headers['content-length'])).toBe(through.body.length);
  const completion = JSON.parse(decodedText(through)) as { usage: { prompt_tokens: number } };
  expect(completion.usage.prompt_tokens).toBe(11);
});

it('never offers the provider a coding it cannot decode: zstd is taken out of Accept-Encoding', async () => {
  gw.fakes.openai.behaviour.zstd = true;
  const { endpoint, key } = gw.services.openai;
  const withGzip = await rawRequest(`${endpoint}/chat/completions`, {
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'accept-encoding': 'zstd, gzip;q=0.9, br' },
    body: CHAT,
  });
  expect(gw.fakes.openai.received.at(-1)?.headers['accept-encoding']).toBe('gzip;q=0.9, br');
  expect(withGzip.headers['content-encoding']).toBe('gzip');
  const zstdOnly = await rawRequest(`${endpoint}/chat/completions`, {
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'accept-encoding': 'zstd' },
    body: CHAT,
  });
  expect(gw.fakes.openai.received.at(-1)?.headers['accept-encoding']).toBe('identity');
  expect(zstdOnly.headers['content-encoding']).toBeUndefined();
  expect(JSON.parse(zstdOnly.body.toString('utf8'))).toMatchObject({ object: 'chat.completion' });
});

it('decodes a gzip request body for counting and forwards it as the client sent it', async () => {
  // A connection no other test here uses, so its usage is this request's alone.
  gw.fakes.mistral.behaviour.usage = { prompt: 123, completion: 4 };
  const { endpoint, key, connectionId } = gw.services.mistral;
  const body = gzipSync(Buffer.from(JSON.stringify({ model: 'mistral-small-latest', messages: [{ role: 'user', content: 'Hi' }] })));
  const response = await rawRequest(`${endpoint}/v1/chat/completions`, {
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
    body,
  });
  expect(response.status).toBe(200);
  const received = gw.fakes.mistral.received.at(-1)!;
  expect(received.headers['content-encoding']).toBe('gzip');
  expect(received.rawBody.equals(body)).toBe(true);
  await waitFor(async () => (await promptTokensOf(connectionId)).requests === 1, 'the request to be metered');
  // The model comes from the decoded body: a body read compressed would have named none.
  expect(await promptTokensOf(connectionId)).toEqual({ requests: 1, promptTokens: 123, requestModel: 'mistral-small-latest' });
});

it('a gzip request body on a streamed chat that needs stream_options is sent decoded and rewritten', async () => {
  const { endpoint, key } = gw.services.openai;
  const body = gzipSync(Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Hi' }] })));
  const response = await rawRequest(`${endpoint}/chat/completions`, {
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
    body,
  });
  expect(response.status).toBe(200);
  const received = gw.fakes.openai.received.at(-1)!;
  expect(received.headers['content-encoding']).toBeUndefined();
  expect(received.json).toMatchObject({ stream: true, stream_options: { include_usage: true } });
});

it('refuses a request body in a coding it cannot decode with a 415 in the provider’s format', async () => {
  const openaiClient = new OpenAI({ baseURL: gw.services.openai.endpoint, apiKey: gw.services.openai.key, maxRetries: 0 });
  const refused = await openaiClient.chat.completions
    // An app (or middleware) that labels its body zstd: the proxy cannot read it, so it cannot count it.
    .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }, { headers: { 'content-encoding': 'zstd' } })
    .then(() => null, (error: unknown) => error as InstanceType<typeof OpenAI.APIError>);
  expect(refused).toBeInstanceOf(OpenAI.APIError);
  expect(refused?.status).toBe(415);
  expect(refused?.headers?.get('x-tokengate-error-code')).toBe('unsupported_content_encoding');
  expect(refused?.error).toMatchObject({ code: 'tokengate_unsupported_content_encoding' });
  expect(gw.fakes.openai.received).toHaveLength(0);

  const anthropic = await rawRequest(`${gw.services.anthropic.endpoint}/v1/messages`, {
    headers: { 'x-api-key': gw.services.anthropic.key, 'content-type': 'application/json', 'content-encoding': 'compress' },
    body: 'not really compressed',
  });
  expect(anthropic.status).toBe(415);
  expect(JSON.parse(anthropic.body.toString('utf8'))).toMatchObject({ type: 'error', error: { tokengate_code: 'unsupported_content_encoding' } });
});

it('answers a gzip request body that is not gzip with a 400, and one that inflates past the limit with a 413', async () => {
  const { endpoint, key } = gw.services.openai;
  const corrupt = await rawRequest(`${endpoint}/chat/completions`, {
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
    body: CHAT,
  });
  expect(corrupt.status).toBe(400);
  expect(JSON.parse(corrupt.body.toString('utf8'))).toMatchObject({ error: { code: 'tokengate_bad_request' } });
  // 33 MiB of spaces inside a JSON string: a few KB on the wire, past the 32 MiB body limit once inflated.
  const inflating = gzipSync(Buffer.from(`{"model":"gpt-4o-mini","messages":[],"pad":"${' '.repeat(33 * 1024 * 1024)}"}`));
  expect(inflating.length).toBeLessThan(192 * 1024);
  const tooLarge = await rawRequest(`${endpoint}/chat/completions`, {
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
    body: inflating,
  });
  expect(tooLarge.status).toBe(413);
  expect(gw.fakes.openai.received).toHaveLength(0);
});
