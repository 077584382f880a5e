// A provider path cannot leave its service: random paths full of dot segments, encoded slashes and
// backslashes in every spelling, sent with valid keys over HTTP/1.1 and h2c through a real proxy to a
// recording upstream. Each is refused with a 400 before reaching the upstream, or reaches it at a path
// that still lies below the service's base path once fully percent-decoded and resolved as RFC 3986
// §5.2.4 says (also read as UTF-8 and NFKC-normalized, with backslashes as slashes and ';parameters'
// dropped, as lenient servers do). And the AWS SDK's own calls with ARN model ids still go through.
import net from 'node:net';
import fc from 'fast-check';
import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startProxyHarness, type ProxyHarness } from '../support/data-plane/proxy-harness';
import { h2cRequest } from '../support/data-plane/http-client';
import { apiKeyAuth, consumerKeyFixture, serviceFixture, sigV4Auth, TEST_AWS_CREDENTIALS } from '../support/data-plane/snapshot-fixtures';
import type { ServiceMessage } from '../../data-plane/src/config-stream/wire-types';
import { type FakeServer, startFakeBedrock } from '../fakes';

const SEED = 20261206;
const HTTP1_RUNS = 2000;
const H2C_RUNS = 500;

interface FuzzedService {
  readonly id: string;
  readonly contextPath: string;
  /** The path of the service's upstream URL: nothing forwarded may resolve above it. */
  readonly basePath: string;
  readonly key: string;
  readonly message: (upstreamUrl: string) => ServiceMessage;
}

const SERVICES: readonly FuzzedService[] = [
  { id: 'openai', contextPath: '/openai', basePath: '/base/openai/v1', key: 'tgk_path_openai', message: (url) => serviceFixture({ id: 'openai', context_path: '/openai', upstream_url: `${url}/base/openai/v1` }) },
  {
    id: 'azure',
    contextPath: '/azure',
    basePath: '/base/azure',
    key: 'tgk_path_azure',
    message: (url) => serviceFixture({ id: 'azure', provider: 'AZURE_OPENAI', context_path: '/azure', upstream_url: `${url}/base/azure`, backend_auth: apiKeyAuth('api-key', 'azure-upstream', '2024-10-21') }),
  },
  {
    id: 'claude',
    contextPath: '/team/claude',
    basePath: '/base/anthropic',
    key: 'tgk_path_claude',
    message: (url) => serviceFixture({ id: 'claude', provider: 'ANTHROPIC', context_path: '/team/claude', upstream_url: `${url}/base/anthropic`, backend_auth: apiKeyAuth('x-api-key', 'sk-ant-upstream') }),
  },
  {
    id: 'bedrock',
    contextPath: '/bedrock',
    basePath: '/base/bedrock',
    key: 'tgk_path_bedrock',
    message: (url) => serviceFixture({ id: 'bedrock', provider: 'AWS_BEDROCK', context_path: '/bedrock', upstream_url: `${url}/base/bedrock`, backend_auth: sigV4Auth() }),
  },
];

const ARN = 'arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-sonnet-20240620-v1%3A0';

/** Pieces of hostile segments: dots in every spelling, separators, controls, overlong and Unicode look-alikes. */
const HOSTILE = [
  '.', '..', '...', '%2e', '%2E', '%2e%2e', '%2E%2e', '.%2e', '%2e.', '.%2E', '%252e', '%252E%252e', '%25252e', '%u002e',
  '%2f', '%2F', '%252f', '%252F', '%5c', '%5C', '%255c', '\\', ';', ';x=1', '%3b', '%00', '%09', '%0a',
  '%c0%ae', '%e0%80%ae', '%ef%bc%8e', '%EF%BC%8F', '%ef%bc%bc', '%e2%80%a5',
];
/** Pieces of ordinary segments, some with dots and escapes that are no dot segment. */
const ORDINARY = [
  'v1', 'chat', 'completions', 'messages', 'model', 'converse', 'guardrail', 'async-invoke', 'openai', 'deployments', ARN,
  'anthropic.claude-3-haiku-20240307-v1%3A0', 'other', 'x', '.well-known', 'v1.2', 'x.json', '...x', '%20', '%3A', '%', '%zz', '%2', '~', ';x=1',
];
/** Raw non-ASCII look-alikes: node:http refuses them on HTTP/1.1 (400), h2c carries them to the proxy. */
const RAW_UNICODE = ['．', '／', '＼', '‥', 'ü', '€'];

const pieces = (tokens: readonly string[]) => fc.array(fc.constantFrom(...tokens), { minLength: 1, maxLength: 4 }).map((parts) => parts.join(''));

const segment = fc.oneof(
  { weight: 5, arbitrary: pieces(ORDINARY) },
  { weight: 4, arbitrary: pieces(HOSTILE) },
  { weight: 4, arbitrary: pieces([...HOSTILE, ...ORDINARY]) },
  // Long segments (the old check skipped any over 6 characters) with dots or escapes inside or at the end.
  { weight: 2, arbitrary: fc.tuple(fc.string({ minLength: 7, maxLength: 60, unit: fc.constantFrom('a', 'b', '-', '_', '1') }), fc.constantFrom('%2f..', '%2F%2e%2e', '/..', '%5c..', '', '%2f', '.')).map(([name, tail]) => name + tail) },
  { weight: 1, arbitrary: pieces([...RAW_UNICODE, ...HOSTILE, ...ORDINARY]) },
  // Random Unicode, CR and LF left out (they would end the request line of the raw client).
  { weight: 1, arbitrary: fc.string({ maxLength: 4, unit: 'grapheme' }).filter((text) => !/[\r\n]/.test(text)) },
);

const fuzzedRequest = fc.record({
  service: fc.constantFrom(...SERVICES),
  segments: fc.array(segment, { minLength: 1, maxLength: 6 }),
  separator: fc.constantFrom('/', '/', '/', '/', '//', '/%2f', '\\'),
});

function pathOf(request: { service: FuzzedService; segments: string[]; separator: string }): string {
  return `/acme${request.service.contextPath}/${request.segments.join(request.separator)}`;
}

// ---- the oracle: what an upstream that decodes and normalizes could make of a path --------------

/** Percent-decodes bytes (a string of char codes 0-255) until nothing changes. */
function fullyPercentDecode(bytes: string): string {
  for (;;) {
    const next = bytes.replace(/%([0-9a-fA-F]{2})/g, (_escape, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    if (next === bytes) return next;
    bytes = next;
  }
}

/** RFC 3986 §5.2.4 remove_dot_segments. */
function removeDotSegments(path: string): string {
  let input = path;
  let output = '';
  const dropLastSegment = () => {
    output = output.slice(0, Math.max(0, output.lastIndexOf('/')));
  };
  while (input.length > 0) {
    if (input.startsWith('../')) input = input.slice(3);
    else if (input.startsWith('./')) input = input.slice(2);
    else if (input.startsWith('/./')) input = input.slice(2);
    else if (input === '/.') input = '/';
    else if (input.startsWith('/../')) {
      input = input.slice(3);
      dropLastSegment();
    } else if (input === '/..') {
      input = '/';
      dropLastSegment();
    } else if (input === '.' || input === '..') input = '';
    else {
      const end = input.indexOf('/', input.startsWith('/') ? 1 : 0);
      const next = end < 0 ? input : input.slice(0, end);
      output += next;
      input = input.slice(next.length);
    }
  }
  return output;
}

/** The ways an upstream may read a raw path (bytes as char codes), each to be resolved. */
function readings(rawPath: string): string[] {
  const bytes = fullyPercentDecode(rawPath);
  const unicode = Buffer.from(bytes, 'latin1').toString('utf8').normalize('NFKC');
  const withoutParameters = (path: string) => path.split('/').map((s) => s.replace(/;.*$/s, '')).join('/');
  return [bytes, unicode, withoutParameters(unicode)].map((path) => path.replace(/\\/g, '/'));
}

function staysBelow(basePath: string, rawPath: string): boolean {
  return readings(rawPath).every((reading) => {
    const resolved = removeDotSegments(reading);
    return resolved === basePath || resolved.startsWith(`${basePath}/`);
  });
}

// ---- clients ----------------------------------------------------------------------------------

interface Answer {
  readonly status: number;
  readonly errorCode: string | undefined;
  /** False only for answers the proxy's HTTP parser gave itself, before any Tokengate code ran. */
  readonly fromTokengate: boolean;
}

/** HTTP/1.1 over a bare socket: the request target goes out as these UTF-8 bytes, nothing resolved or escaped. */
function rawHttp1(port: number, path: string, key: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const head = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (status === null) {
        reject(new Error(`no HTTP response for ${JSON.stringify(path)}: ${JSON.stringify(head.slice(0, 200))}`));
        return;
      }
      resolve({ status: Number(status[1]), errorCode: /\r\nx-tokengate-error-code: ([^\r]*)/i.exec(head)?.[1], fromTokengate: /\r\nx-tokengate-request-id: /i.test(head) });
    });
    const body = '{}';
    // Written, not ended: the proxy answers before it sees a half-close, then closes (connection: close).
    socket.write(
      Buffer.concat([
        Buffer.from('POST '),
        Buffer.from(path, 'utf8'),
        Buffer.from(` HTTP/1.1\r\nhost: proxy\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`),
      ]),
    );
  });
}

/** h2c with prior knowledge (what the AWS SDK speaks); `:path` carries the path's UTF-8 bytes. */
async function h2c(origin: string, path: string, key: string): Promise<Answer | 'refused-by-http2'> {
  try {
    const response = await h2cRequest(origin, Buffer.from(path, 'utf8').toString('latin1'), { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}' });
    const code = response.headers['x-tokengate-error-code'];
    return { status: response.status, errorCode: typeof code === 'string' ? code : undefined, fromTokengate: response.headers['x-tokengate-request-id'] !== undefined };
  } catch {
    return 'refused-by-http2'; // the client or the proxy's HTTP/2 layer rejected the :path itself
  }
}

// ---- the properties -----------------------------------------------------------------------------

let harness: ProxyHarness;
const outcomes: Record<string, number> = {};
const forwardedExamples: string[] = [];

beforeAll(async () => {
  harness = await startProxyHarness();
  harness.apply(
    SERVICES.map((service) => service.message(harness.upstream.url)),
    SERVICES.map((service) => consumerKeyFixture(service.key, service.id)),
  );
});

afterAll(async () => {
  await harness?.close();
  // What the runs exercised, so a green run shows it was not vacuous.
  console.log(`path fuzz outcomes: ${JSON.stringify(outcomes)}\nforwarded, e.g.:\n  ${forwardedExamples.slice(0, 12).join('\n  ')}`);
});

function tally(outcome: string): void {
  outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
}

/** The one upstream request the last call made, if any (calls run one at a time). */
function arrivalsSince(before: number): readonly string[] {
  return harness.upstream.arrivals.all.slice(before);
}

function judge(service: FuzzedService, path: string, answer: Answer, arrived: readonly string[], protocol: string): void {
  if (arrived.length === 0) {
    // Refused before the upstream: Tokengate's 400 in the provider format, or node:http's own 400 for
    // a request line it cannot parse (no Tokengate header at all). A Tokengate answer without an error
    // code would be an upstream's, relayed: the request went up and the upstream's parser refused it.
    expect({ path, status: answer.status, code: answer.errorCode ?? (answer.fromTokengate ? 'relayed' : 'node:http') }).toEqual({
      path,
      status: 400,
      code: answer.fromTokengate ? 'bad_request' : 'node:http',
    });
    tally(`${protocol}:refused:${answer.errorCode ?? 'by-node-http'}`);
    return;
  }
  expect(arrived).toHaveLength(1);
  const upstreamPath = arrived[0].split('?')[0];
  expect({ path, upstreamPath, stays: staysBelow(service.basePath, upstreamPath) }).toEqual({ path, upstreamPath, stays: true });
  tally(`${protocol}:forwarded:${answer.status}`);
  if (forwardedExamples.length < 40 && /[%.\\]/.test(path)) forwardedExamples.push(`${JSON.stringify(path)} -> ${JSON.stringify(upstreamPath)}`);
}

describe('the oracle', () => {
  it('sees the escapes the old dot-segment check let through, and passes ordinary paths', () => {
    expect(staysBelow('/base/openai/v1', '/base/openai/v1/..%2fother/x')).toBe(false);
    expect(staysBelow('/base/openai/v1', '/base/openai/v1/%2e%2e%2f%2e%2e%2fx')).toBe(false);
    expect(staysBelow('/base/openai/v1', '/base/openai/v1/a/%252e%252e/%252e%252e/..')).toBe(false);
    expect(staysBelow('/base/openai/v1', '/base/openai/v1/x\\..\\..')).toBe(false);
    expect(staysBelow('/base/openai/v1', '/base/openai/v1/%EF%BC%8E%EF%BC%8E/x/..;/..;')).toBe(false);
    expect(staysBelow('/base/openai/v1', '/base/openai/v1/chat/completions')).toBe(true);
    expect(staysBelow('/base/bedrock', `/base/bedrock/model/${ARN}/converse`)).toBe(true);
  });
});

describe('random paths with valid keys', () => {
  it(`over HTTP/1.1 (${HTTP1_RUNS} paths): refused with 400 before the upstream, or forwarded below the base path`, async () => {
    await fc.assert(
      fc.asyncProperty(fuzzedRequest, async (request) => {
        const path = pathOf(request);
        const before = harness.upstream.arrivals.length;
        const answer = await rawHttp1(harness.proxy.port, path, request.service.key);
        judge(request.service, path, answer, arrivalsSince(before), 'http1');
      }),
      { seed: SEED, numRuns: HTTP1_RUNS },
    );
    expect(outcomes['http1:forwarded:200']).toBeGreaterThan(HTTP1_RUNS / 10);
    expect(outcomes['http1:refused:bad_request']).toBeGreaterThan(HTTP1_RUNS / 3);
  });

  it(`over h2c (${H2C_RUNS} paths): the same`, async () => {
    await fc.assert(
      fc.asyncProperty(fuzzedRequest, async (request) => {
        const path = pathOf(request);
        const before = harness.upstream.arrivals.length;
        const answer = await h2c(harness.proxy.url, path, request.service.key);
        if (answer === 'refused-by-http2') {
          expect(arrivalsSince(before)).toEqual([]);
          tally('h2c:refused:by-http2');
          return;
        }
        judge(request.service, path, answer, arrivalsSince(before), 'h2c');
      }),
      { seed: SEED + 1, numRuns: H2C_RUNS },
    );
    expect(outcomes['h2c:forwarded:200']).toBeGreaterThan(H2C_RUNS / 10);
    expect(outcomes['h2c:refused:bad_request']).toBeGreaterThan(H2C_RUNS / 3);
  });
});

describe('the AWS SDK with ARN model ids (inference profiles, foundation-model ARNs)', () => {
  let bedrock: FakeServer;

  beforeAll(async () => {
    bedrock = await startFakeBedrock({ verify: { credentials: { accessKeyId: TEST_AWS_CREDENTIALS.accessKeyId, secretAccessKey: TEST_AWS_CREDENTIALS.secretAccessKey }, region: TEST_AWS_CREDENTIALS.region } });
    harness.apply(
      [...SERVICES.map((service) => service.message(harness.upstream.url)), serviceFixture({ id: 'real-bedrock', provider: 'AWS_BEDROCK', context_path: '/real-bedrock', upstream_url: bedrock.url, backend_auth: sigV4Auth() })],
      [...SERVICES.map((service) => consumerKeyFixture(service.key, service.id)), consumerKeyFixture('tgk_real_bedrock', 'real-bedrock')],
    );
  });
  afterAll(() => bedrock.close());

  it.each([
    ['HTTP/2 (the SDK default, h2c)', false],
    ['HTTP/1.1', true],
  ])('are sent with %%2F in the model id over %s, forwarded as sent and re-signed so the provider verifies them', async (_label, http1) => {
    const client = new BedrockRuntimeClient({
      endpoint: `${harness.proxy.url}/acme/real-bedrock`,
      region: 'us-east-1',
      token: { token: 'tgk_real_bedrock' },
      authSchemePreference: ['httpBearerAuth'],
      maxAttempts: 1,
      ...(http1 ? { requestHandler: new NodeHttpHandler() } : {}),
    });
    for (const modelId of [
      'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0',
      'arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0',
      'us.anthropic.claude-3-5-sonnet-20240620-v1:0',
    ]) {
      bedrock.reset();
      const reply = await client.send(new ConverseCommand({ modelId, messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }));
      expect(reply.output?.message?.content?.[0]).toEqual({ text: 'Hello from the fake' });
      expect(bedrock.received).toHaveLength(1);
      expect(bedrock.received[0].path).toBe(`/model/${encodeURIComponent(modelId)}/converse`);
    }
    client.destroy();
  });

  it('refuses, in Bedrock format, an SDK model id that decodes to a dot segment', async () => {
    const client = new BedrockRuntimeClient({ endpoint: `${harness.proxy.url}/acme/real-bedrock`, region: 'us-east-1', token: { token: 'tgk_real_bedrock' }, authSchemePreference: ['httpBearerAuth'], maxAttempts: 1 });
    bedrock.reset();
    for (const modelId of ['a/../../other', '..', 'x/./y']) {
      const error = (await client.send(new ConverseCommand({ modelId, messages: [{ role: 'user', content: [{ text: 'Hi' }] }] })).catch((e: unknown) => e)) as { name: string; $metadata: { httpStatusCode: number } };
      expect([error.name, error.$metadata.httpStatusCode]).toEqual(['ValidationException', 400]);
    }
    expect(bedrock.received).toEqual([]);
    client.destroy();
  });
});
