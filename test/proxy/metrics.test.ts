// /metrics after known traffic: request counters by status, token sums, latency histograms.
import { once } from 'node:events';
import { connect } from 'node:net';
import OpenAI from 'openai';
import { type Gateway, startGateway } from '../support/gateway-harness';
import { sample } from '../support/metrics';
import { waitFor } from '../support/wait';

let gw: Gateway;

beforeAll(async () => {
  gw = await startGateway({ collectProcessMetrics: true });
  await gw.cp.ok('mutation($s: ID!) { configureServiceEnvironment(serviceId: $s, environment: "production", input: {rateLimit: {timeUnit: DAY, maxTotalTokens: 100000}}) { id } }', { s: gw.services.openai.id });
  await gw.settle();
});
afterAll(async () => {
  await gw?.stop();
});

it('counts requests, tokens and latency after known traffic', async () => {
  const client = new OpenAI({ baseURL: gw.services.openai.endpoint, apiKey: gw.services.openai.key, maxRetries: 0 });
  await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
  for await (const _chunk of await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], stream: true })) void _chunk;
  await new OpenAI({ baseURL: gw.services.openai.endpoint, apiKey: 'tgk_wrong', maxRetries: 0 }).chat.completions.create({ model: 'm', messages: [] }).catch(() => undefined);

  const id = gw.services.openai.id;
  const text = await waitFor(async () => {
    const body = await (await fetch(`${gw.proxy.url}/metrics`)).text();
    return sample(body, 'tokengate_tokens_total', { service: id, type: 'output' }) === 14 && body;
  }, 'token counters');
  expect(sample(text, 'tokengate_proxy_requests_total', { service: id, status: '200', environment: 'production' })).toBe(2);
  expect(sample(text, 'tokengate_proxy_requests_total', { service: id, status: '401' })).toBe(1);
  expect(sample(text, 'tokengate_tokens_total', { service: id, type: 'input' })).toBe(22);
  expect(sample(text, 'gen_ai_client_token_usage_sum', { service: id, gen_ai_token_type: 'input', gen_ai_system: 'openai' })).toBe(22);
  expect(sample(text, 'gen_ai_client_token_usage_count', { service: id, gen_ai_token_type: 'output' })).toBe(2);
  expect(sample(text, 'gen_ai_client_operation_duration_seconds_count', { service: id, gen_ai_system: 'openai' })).toBe(2);
  expect(sample(text, 'tokengate_upstream_time_to_first_byte_seconds_count', { service: id })).toBe(2);
  expect(sample(text, 'tokengate_rate_limit_degraded', {})).toBe(0);
  expect(text).toMatch(/^process_resident_memory_bytes{environment="production"} \d+/m);
});

it('counts a client that leaves in the middle of its request body as 499, not as a bad request', async () => {
  const { endpoint, key, id } = gw.services.openai;
  const url = new URL(`${endpoint}/chat/completions`);
  const socket = connect(Number(url.port), url.hostname);
  await once(socket, 'connect');
  // Node answers `Expect: 100-continue` as it hands the request to the proxy, which takes it on at once.
  socket.write(`POST ${url.pathname} HTTP/1.1\r\nhost: ${url.host}\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\ncontent-length: 4096\r\nexpect: 100-continue\r\n\r\n`);
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (received += chunk));
  await waitFor(async () => received.startsWith('HTTP/1.1 100 Continue'), 'the request taken on');
  // Part of the body, then the client is gone.
  socket.write('{"model":"gpt-4o-mini","messages":[');
  socket.destroy();
  const text = await waitFor(async () => {
    const body = await (await fetch(`${gw.proxy.url}/metrics`)).text();
    return sample(body, 'tokengate_proxy_requests_total', { service: id, status: '499' }) === 1 && body;
  }, 'the abandoned request counted');
  expect(sample(text, 'tokengate_proxy_requests_total', { service: id, status: '400' })).toBeUndefined();
});
