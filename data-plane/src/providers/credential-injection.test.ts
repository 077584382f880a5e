// Through a real proxy: whatever credentials the consumer sends never reach the provider; the
// provider's own are set as each provider expects (and, for Bedrock, signed over the final request).
import type { OutgoingHttpHeaders } from 'node:http';
import { h2cRequest, httpRequest } from '../../../test/support/data-plane/http-client';
import { startProxyHarness, type ProxyHarness } from '../../../test/support/data-plane/proxy-harness';
import { apiKeyAuth, consumerKeyFixture, serviceFixture, sigV4Auth, TEST_AWS_CREDENTIALS } from '../../../test/support/data-plane/snapshot-fixtures';
import { verifySigV4 } from '../../../test/support/data-plane/sigv4-verifier';
import type { ServiceMessage } from '../config-stream/wire-types';

const CONSUMER_KEY = 'tgk_consumer_key_never_forwarded';
/** Headers an SDK client might send that must not reach the provider as they were. */
const CLIENT_SIGNING_HEADERS = {
  'x-amz-date': '20200101T000000Z',
  'x-amz-security-token': 'client-session-token',
  'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
  'x-amz-user-agent': 'aws-sdk-js',
  'amz-sdk-invocation-id': '7f1c',
  'amz-sdk-request': 'attempt=1; max=3',
};

let harness: ProxyHarness;

beforeAll(async () => {
  harness = await startProxyHarness();
});

afterAll(async () => {
  await harness.close();
});

function publish(service: Omit<ServiceMessage, 'upstream_url' | 'id'> & { id?: string }): string {
  const id = service.id ?? 'svc';
  harness.apply([{ ...serviceFixture({ id }), ...service, id, upstream_url: harness.upstream.url }], [consumerKeyFixture(CONSUMER_KEY, id)]);
  return `${harness.proxy.url}/acme${service.context_path}`;
}

function assertNoConsumerCredential(headers: Record<string, unknown>): void {
  for (const value of Object.values(headers)) expect(String(value)).not.toContain(CONSUMER_KEY);
  for (const [name, value] of Object.entries(CLIENT_SIGNING_HEADERS)) expect(headers[name]).not.toBe(value);
}

interface Case {
  readonly name: string;
  readonly service: Omit<ServiceMessage, 'upstream_url' | 'id'>;
  readonly clientHeaders: OutgoingHttpHeaders;
  readonly path: string;
  readonly expectedUrl: string;
  readonly expectedHeaders: Record<string, string>;
  readonly absentHeaders: readonly string[];
}

const cases: Case[] = [
  {
    name: 'OpenAI',
    service: { ...serviceFixture({ id: 'svc', provider: 'OPENAI', context_path: '/openai', backend_auth: apiKeyAuth('Authorization', 'Bearer sk-openai-upstream') }) },
    clientHeaders: { authorization: `Bearer ${CONSUMER_KEY}` },
    path: '/v1/chat/completions',
    expectedUrl: '/v1/chat/completions',
    expectedHeaders: { authorization: 'Bearer sk-openai-upstream' },
    absentHeaders: ['api-key', 'x-api-key'],
  },
  {
    name: 'Azure OpenAI',
    service: { ...serviceFixture({ id: 'svc', provider: 'AZURE_OPENAI', context_path: '/azure', backend_auth: apiKeyAuth('api-key', 'azure-upstream', '2024-10-21') }) },
    clientHeaders: { 'api-key': CONSUMER_KEY },
    // The client sent none: the configured api-version is added (a client's own is kept: azure-v1.test.ts).
    path: '/openai/deployments/gpt-4o/chat/completions',
    expectedUrl: '/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21',
    expectedHeaders: { 'api-key': 'azure-upstream' },
    absentHeaders: ['authorization', 'x-api-key'],
  },
  {
    name: 'Anthropic (SDK sending Authorization: Bearer)',
    service: { ...serviceFixture({ id: 'svc', provider: 'ANTHROPIC', context_path: '/claude', backend_auth: apiKeyAuth('x-api-key', 'sk-ant-upstream') }) },
    clientHeaders: { authorization: `Bearer ${CONSUMER_KEY}`, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'tools-2024-04-04' },
    path: '/v1/messages',
    expectedUrl: '/v1/messages',
    expectedHeaders: { 'x-api-key': 'sk-ant-upstream', 'anthropic-version': '2023-06-01', 'anthropic-beta': 'tools-2024-04-04' },
    absentHeaders: ['authorization', 'api-key'],
  },
  {
    name: 'Mistral',
    service: { ...serviceFixture({ id: 'svc', provider: 'MISTRAL', context_path: '/mistral', backend_auth: apiKeyAuth('Authorization', 'Bearer mistral-upstream') }) },
    clientHeaders: { authorization: `Bearer ${CONSUMER_KEY}` },
    path: '/v1/chat/completions',
    expectedUrl: '/v1/chat/completions',
    expectedHeaders: { authorization: 'Bearer mistral-upstream' },
    absentHeaders: ['api-key', 'x-api-key'],
  },
  {
    name: 'Bedrock with an API key',
    service: { ...serviceFixture({ id: 'svc', provider: 'AWS_BEDROCK', context_path: '/bedrock-key', backend_auth: apiKeyAuth('Authorization', 'Bearer bedrock-api-key-upstream') }) },
    clientHeaders: { authorization: `Bearer ${CONSUMER_KEY}` },
    path: '/model/amazon.nova-lite-v1%3A0/converse',
    expectedUrl: '/model/amazon.nova-lite-v1%3A0/converse',
    expectedHeaders: { authorization: 'Bearer bedrock-api-key-upstream' },
    absentHeaders: ['api-key', 'x-api-key', 'x-amz-date', 'x-amz-security-token', 'amz-sdk-invocation-id'],
  },
];

it.each(cases)('$name: strips the consumer credentials and injects the provider ones', async (testCase) => {
  const endpoint = publish(testCase.service);
  const seen = harness.upstream.requests.length;
  const response = await httpRequest(`${endpoint}${testCase.path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...CLIENT_SIGNING_HEADERS, 'x-api-key': CONSUMER_KEY, ...testCase.clientHeaders },
    body: '{"hello":"world"}',
  });
  expect(response.status).toBe(200);
  const received = await harness.upstream.requests.waitFor(() => true, seen);
  expect(received.url).toBe(testCase.expectedUrl);
  expect(received.headers).toMatchObject(testCase.expectedHeaders);
  for (const name of testCase.absentHeaders) expect(received.headers[name]).toBeUndefined();
  assertNoConsumerCredential(received.headers);
  expect(received.body.toString()).toBe('{"hello":"world"}');
});

describe('Bedrock with SigV4', () => {
  const credentials = { ...TEST_AWS_CREDENTIALS, sessionToken: 'upstream-session-token' };
  const modelPath = '/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse';
  const body = JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'Hello' }] }] });

  beforeAll(() => {
    publish({ ...serviceFixture({ id: 'svc', provider: 'AWS_BEDROCK', context_path: '/bedrock', backend_auth: sigV4Auth(credentials) }) });
  });

  it('signs the real upstream host, the forwarded (still encoded) path and the final body', async () => {
    const seen = harness.upstream.requests.length;
    const response = await httpRequest(`${harness.proxy.url}/acme/bedrock${modelPath}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${CONSUMER_KEY}`, ...CLIENT_SIGNING_HEADERS },
      body,
    });
    expect(response.status).toBe(200);
    const received = await harness.upstream.requests.waitFor(() => true, seen);
    expect(received.url).toBe(modelPath);
    expect(received.headers['host']).toBe(`127.0.0.1:${harness.upstream.port}`);
    expect(received.headers['x-amz-security-token']).toBe('upstream-session-token');
    expect(received.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    assertNoConsumerCredential(received.headers);
    expect(await verifySigV4(received, credentials)).toEqual({
      valid: true,
      reason: 'ok',
      signedHeaders: ['content-type', 'host', 'x-amz-content-sha256', 'x-amz-date', 'x-amz-security-token'],
    });
  });

  it('signs requests that arrive over h2c like the Bedrock SDK sends them by default', async () => {
    const seen = harness.upstream.requests.length;
    const response = await h2cRequest(harness.proxy.url, `/acme/bedrock${modelPath}?trace=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${CONSUMER_KEY}`, ...CLIENT_SIGNING_HEADERS },
      body,
    });
    expect(response.status).toBe(200);
    const received = await harness.upstream.requests.waitFor(() => true, seen);
    expect(received.url).toBe(`${modelPath}?trace=1`);
    expect((await verifySigV4(received, credentials)).valid).toBe(true);
  });

  it('is refused by the verifier when the body is altered after signing', async () => {
    const seen = harness.upstream.requests.length;
    await httpRequest(`${harness.proxy.url}/acme/bedrock${modelPath}`, { method: 'POST', headers: { authorization: `Bearer ${CONSUMER_KEY}` }, body });
    const received = await harness.upstream.requests.waitFor(() => true, seen);
    expect((await verifySigV4({ ...received, body: Buffer.from(`${body} `) }, credentials)).valid).toBe(false);
    expect((await verifySigV4(received, { ...credentials, secretAccessKey: 'wrong' })).valid).toBe(false);
  });

  it('refuses with a Bedrock-shaped 401 that the SDK maps to an exception name', async () => {
    const response = await httpRequest(`${harness.proxy.url}/acme/bedrock${modelPath}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(response.status).toBe(401);
    expect(response.headers['x-amzn-errortype']).toBe('AccessDeniedException');
    expect(response.headers['x-tokengate-error-code']).toBe('unauthenticated');
    expect(JSON.parse(response.text)).toEqual({ message: 'Missing API key: send your Tokengate consumer key.', tokengate_code: 'unauthenticated' });
  });
});
