// Hostile input against a real proxy: malformed bodies, odd content types, invalid UTF-8, huge
// headers, path traversal, duplicate auth headers, keys of other environments or organizations,
// random keys and methods. Every refusal is a 4xx, nothing refused reaches a provider, no consumer
// key ever reaches a provider, and failed-auth answers do not tell a valid key from an invalid one.
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import fc from 'fast-check';
import { type Gateway, startGateway } from '../support/gateway-harness';
import { seedTenant } from '../support/control-plane-harness';

const SEED = 20261125;
let gw: Gateway;
let developmentKey: string;
let otherOrgKey: string;
let fuzzed = 0;
/** Status counts per property, printed at the end so a run shows what was exercised. */
const statuses: Record<string, Record<number, number>> = {};
function tally(property: string, status: number): void {
  const counts = (statuses[property] ??= {});
  counts[status] = (counts[status] ?? 0) + 1;
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Raw HTTP: the path goes out exactly as given (no `..` resolution), headers may repeat. */
function raw(method: string, path: string, headers: Array<[string, string]>, body?: Buffer): Promise<RawResponse> {
  const url = new URL(gw.proxy.url);
  return new Promise((resolve, reject) => {
    // Repeated names go out as repeated header lines (node:http sends each array element).
    const grouped: Record<string, string[]> = {};
    for (const [name, value] of headers) (grouped[name.toLowerCase()] ??= []).push(value);
    const req = request({ host: url.hostname, port: url.port, method, path, headers: grouped, agent: false });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function consumerKeys(): string[] {
  return [...Object.values(gw.services).map((s) => s.key), developmentKey, otherOrgKey];
}

function allReceived(): Array<{ headers: Record<string, string | string[] | undefined>; url: string }> {
  return Object.values(gw.fakes).flatMap((f) => f.received);
}

function resetFakes(): void {
  for (const fake of Object.values(gw.fakes)) fake.reset();
}

beforeAll(async () => {
  gw = await startGateway();
  // A connection with a development key (the proxy serves production only).
  await gw.cp.ok(
    `mutation($s: ID!, $i: ConfigureServiceEnvironmentInput!) { configureServiceEnvironment(serviceId: $s, environment: "development", input: $i) { id } }`,
    { s: gw.services.openai.id, i: { backendSecurity: { value: 'sk-dev-upstream-0123456789' } } },
    gw.tenant.tokens.engineer,
  );
  const { createConnection } = await gw.cp.ok<{ createConnection: { keys: Array<{ environment: string; apiKey: string }> } }>(
    `mutation($i: CreateConnectionInput!) { createConnection(input: $i) { keys { environment apiKey } } }`,
    { i: { projectId: gw.tenant.projectId, serviceId: gw.services.openai.id, name: 'dev-app' } },
    gw.tenant.tokens.developer,
  );
  developmentKey = createConnection.keys.find((k) => k.environment === 'development')!.apiKey;
  // Another organization with its own OpenAI service and production key.
  const globex = await seedTenant(gw.cp, 'globex');
  const { registerGenAIService } = await gw.cp.ok<{ registerGenAIService: { id: string } }>(
    `mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id } }`,
    { i: { organizationId: globex.organizationId, scope: 'ORGANIZATION', provider: 'OPENAI', name: 'OpenAI', contextPath: '/openai', serviceUrl: `${gw.fakes.openai.url}/v1`, environments: [{ environment: 'production', backendSecurity: { value: 'sk-globex-upstream-0123456789' } }] } },
    globex.tokens.engineer,
  );
  const other = await gw.cp.ok<{ createConnection: { keys: Array<{ environment: string; apiKey: string }> } }>(
    `mutation($i: CreateConnectionInput!) { createConnection(input: $i) { keys { environment apiKey } } }`,
    { i: { projectId: globex.projectId, serviceId: registerGenAIService.id, name: 'globex-app' } },
    globex.tokens.developer,
  );
  otherOrgKey = other.createConnection.keys.find((k) => k.environment === 'production')!.apiKey;
  await gw.settle();
});
afterAll(async () => {
  console.log(`proxy-fuzz: ${fuzzed} hostile inputs fuzzed; statuses per property: ${JSON.stringify(statuses)}`);
  console.log(`traversal paths forwarded to the service's own upstream:\n${[...forwardedTraversals].join('\n')}`);
  await gw?.stop();
});
beforeEach(resetFakes);

// ---- arbitraries ----------------------------------------------------------------------------

const hex = (minLength: number, maxLength: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength, maxLength });

const methods = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND', 'X-FUZZ', 'M-SEARCH', 'PURGE');

const contentTypes = fc.option(
  fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', 'application/xml', '*/*', '', 'application/json; charset=utf-16', 'application/vnd.amazon.eventstream'),
  { nil: undefined },
);

const invalidUtf8 = fc.constantFrom(
  Buffer.from([0xc3, 0x28]),
  Buffer.from([0xff, 0xfe, 0xfd]),
  Buffer.from([0xed, 0xa0, 0x80]), // lone surrogate
  Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]),
  Buffer.from('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"\xff\xfe"}]}', 'latin1'),
);

const bodies: fc.Arbitrary<Buffer | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.uint8Array({ maxLength: 2048 }).map((a) => Buffer.from(a)),
  fc.string({ maxLength: 500 }).map((s) => Buffer.from(s)),
  fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  fc.constantFrom('{', '{"model":', '[1,2', '{"a":1}}', 'null', '{"messages":[{"role":"user","content":"Hi"}],"model":"gpt-4o-mini"', '\u0000\u0000', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"x":1}}}').map((s) => Buffer.from(s)),
  invalidUtf8,
  fc.tuple(fc.jsonValue({ maxDepth: 2 }), invalidUtf8).map(([v, bad]) => Buffer.concat([Buffer.from(JSON.stringify(v) ?? 'null'), bad])),
);

/** Keys that must never authenticate: random bytes, look-alikes, empty. */
const junkKeys = fc.oneof(
  fc.string({ minLength: 0, maxLength: 80 }).map((s) => s.replace(/[^\t\x20-\x7e]/g, '')),
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((a) => Buffer.from(a).toString('latin1').replace(/[\r\n\0]/g, '').replace(/[^\t\x20-\x7e\x80-\xff]/g, '')),
  hex(0, 64).map((h) => `tgk_${h}`),
  fc.constantFrom('', ' ', 'Bearer', 'tgk_', 'null', 'undefined', '%00', '\t'),
);

const authHeaderNames = fc.constantFrom('authorization', 'api-key', 'x-api-key', 'Authorization', 'API-KEY', 'X-Api-Key');

/** Zero to three credential headers, every one of them junk. */
const junkAuth = fc.array(
  fc.tuple(authHeaderNames, junkKeys, fc.constantFrom('Bearer ', 'bearer ', 'Basic ', '', 'Bearer  ')).map(([name, key, scheme]): [string, string] => [name, name.toLowerCase() === 'authorization' ? `${scheme}${key}` : key]),
  { maxLength: 3 },
);

const hostilePaths = fc.oneof(
  fc.constantFrom(
    '/acme/openai/../claude/v1/messages',
    '/acme/openai/%2e%2e/claude/v1/messages',
    '/acme/openai/%2E%2E/%2E%2E/globex/openai/v1/chat/completions',
    '/acme//openai/v1/chat/completions',
    '//acme/openai/v1/chat/completions',
    '/acme/openai\\..\\claude/v1/messages',
    '/acme\\openai/v1/chat/completions',
    '/acme/openai/%5c..%5cclaude/v1/messages',
    '/acme/./openai/v1/chat/completions',
    '/acme/openai%2f..%2fclaude/v1/messages',
    '/acme/openai/v1/chat/completions?x=%00',
    '/acme/openai/v1/%00/chat',
    '/ACME/OPENAI/v1/chat/completions',
    '/globex/openai/v1/chat/completions',
    '/acme/openai/v1/chat/completions#frag',
    '*',
    '/%',
    '/acme/%ZZ/v1',
  ),
  fc.tuple(fc.constantFrom('/acme/openai', '/acme/claude', '/acme/bedrock', '/acme/azure', '/globex/openai', '/acme'), fc.array(fc.constantFrom('..', '%2e%2e', '.', '', '\\', '%5c', '%2f', 'v1', 'chat', 'completions', 'messages', '%00', '%ff', '~'), { maxLength: 6 })).map(
    ([prefix, segments]) => `${prefix}/${segments.join('/')}`,
  ),
);

function isRefusal(status: number): boolean {
  return status >= 400 && status < 500;
}

// ---- properties -----------------------------------------------------------------------------

it('unauthenticated garbage: always a 4xx and nothing reaches a provider', async () => {
  await fc.assert(
    fc.asyncProperty(methods, hostilePaths, junkAuth, contentTypes, bodies, async (method, path, auth, contentType, body) => {
      fuzzed++;
      const headers: Array<[string, string]> = [...auth];
      if (contentType !== undefined) headers.push(['content-type', contentType]);
      const response = await raw(method, path, headers, method === 'GET' || method === 'HEAD' ? undefined : body);
      tally('unauthenticated', response.status);
      expect(isRefusal(response.status)).toBe(true);
      expect(allReceived()).toEqual([]);
    }),
    { seed: SEED, numRuns: 400 },
  );
});

it('authorized requests with hostile bodies and duplicate credentials: never a 5xx from the proxy, and no consumer key reaches the provider', async () => {
  const target = fc.constantFrom(
    { service: 'openai' as const, path: '/chat/completions' },
    { service: 'anthropic' as const, path: '/v1/messages' },
    { service: 'mistral' as const, path: '/v1/chat/completions' },
    { service: 'azure' as const, path: '/openai/deployments/gpt/chat/completions?api-version=2024-10-21' },
  );
  await fc.assert(
    fc.asyncProperty(target, authHeaderNames, fc.array(fc.tuple(authHeaderNames, fc.oneof(junkKeys, fc.constantFrom(...consumerKeys()))), { maxLength: 2 }), contentTypes, bodies, async (t, name, extra, contentType, body) => {
      fuzzed++;
      resetFakes();
      const key = gw.services[t.service].key;
      const headers: Array<[string, string]> = [[name, name.toLowerCase() === 'authorization' ? `Bearer ${key}` : key], ...extra.map(([n, k]): [string, string] => [n, n.toLowerCase() === 'authorization' ? `Bearer ${k}` : k])];
      if (contentType !== undefined) headers.push(['content-type', contentType]);
      const response = await raw('POST', `/acme${gw.services[t.service].contextPath}${t.path}`, headers, body);
      const received = allReceived();
      tally(received.length ? 'authorized:forwarded' : 'authorized:refused', response.status);
      if (received.length === 0) {
        expect(isRefusal(response.status)).toBe(true);
      } else {
        // Forwarded: whatever the upstream answered, but none of the consumer's credentials went up.
        const upstream = JSON.stringify(received.map((r) => [r.headers, r.url]));
        for (const k of [...consumerKeys(), ...extra.map(([, k]) => k).filter((k) => k.length >= 8)]) expect(upstream).not.toContain(k);
        expect(response.status).toBeLessThan(500);
      }
    }),
    { seed: SEED, numRuns: 300 },
  );
});

const forwardedTraversals = new Set<string>();

it('path traversal with a valid key never reaches another service', async () => {
  await fc.assert(
    fc.asyncProperty(hostilePaths, fc.constantFrom('openai' as const, 'anthropic' as const, 'bedrock' as const), async (path, service) => {
      fuzzed++;
      resetFakes();
      const response = await raw('POST', path, [['authorization', `Bearer ${gw.services[service].key}`], ['x-api-key', gw.services[service].key], ['content-type', 'application/json']], Buffer.from('{"model":"m","messages":[]}'));
      const ownFake = gw.services[service].fake;
      tally(ownFake.received.length ? 'traversal:forwarded' : 'traversal:refused', response.status);
      for (const fake of Object.values(gw.fakes)) if (fake !== ownFake) expect(fake.received).toEqual([]);
      if (ownFake.received.length === 0) expect(isRefusal(response.status)).toBe(true);
      else {
        expect(JSON.stringify(ownFake.received.map((r) => r.headers))).not.toContain(gw.services[service].key);
        forwardedTraversals.add(`${path} -> ${ownFake.received[0].url}`);
      }
    }),
    { seed: SEED, numRuns: 200 },
  );
});

it('huge headers: a clean 4xx (431 from Node), never a hang, and the proxy stays up', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 17_000, max: 200_000 }), fc.constantFrom('authorization', 'x-api-key', 'x-filler', 'cookie'), fc.boolean(), async (size, name, validKey) => {
      fuzzed++;
      const headers: Array<[string, string]> = [[name, name === 'authorization' ? `Bearer ${'A'.repeat(size)}` : 'A'.repeat(size)]];
      if (validKey) headers.push(['api-key', gw.services.openai.key]);
      const response = await raw('POST', '/acme/openai/v1/chat/completions', headers, Buffer.from('{}')).catch((error: NodeJS.ErrnoException) => ({ status: -1, code: error.code }));
      // Node answers 431 and closes; a reset after the answer is also a clean refusal.
      tally('huge-headers', response.status);
      if (response.status === -1) expect(['ECONNRESET', 'EPIPE']).toContain((response as { code?: string }).code);
      else expect(isRefusal(response.status)).toBe(true);
      expect(allReceived()).toEqual([]);
    }),
    { seed: SEED, numRuns: 40 },
  );
});

function normalize(response: RawResponse): string {
  const headers = Object.entries(response.headers)
    .filter(([name]) => !['date', 'x-tokengate-request-id', 'x-request-id', 'request-id', 'x-amzn-requestid', 'connection', 'keep-alive'].includes(name))
    .sort(([a], [b]) => a.localeCompare(b));
  const body = response.body.toString('utf8').replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<id>').replace(/"(request_?id|requestId)":"[^"]*"/gi, '"$1":"<id>"');
  return JSON.stringify({ status: response.status, headers, body });
}

it('failed auth does not tell a valid key of another environment from an unknown key', async () => {
  const style = fc.constantFrom<[string, (k: string) => string]>(['authorization', (k) => `Bearer ${k}`], ['api-key', (k) => k], ['x-api-key', (k) => k]);
  // A key names its environment by its form (ADR 019), which anyone can write: any string of that form
  // with development's tag gets the development key's answer, whether or not it is a live key.
  const developmentForm = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), minLength: 43, maxLength: 43 }).map((random) => {
    const body = `${random}${developmentKey.slice(47, 51)}`;
    return `tgk_${body}${createHash('sha256').update(body).digest('base64url').slice(0, 4)}`;
  });
  const unknownKey = fc.oneof(hex(1, 64).map((h) => `tgk_${h}`), fc.constant(developmentKey.slice(0, -4) + 'abcd'), fc.string({ minLength: 1, maxLength: 40 }).filter((s) => /^[\x21-\x7e]+$/.test(s)));
  await fc.assert(
    fc.asyncProperty(style, developmentForm, unknownKey, fc.constantFrom('/acme/openai/v1/chat/completions', '/acme/openai/v1/models'), async ([name, format], lookalike, unknown, path) => {
      fuzzed += 3;
      const send = (key: string) => raw('POST', path, [[name, format(key)], ['content-type', 'application/json']], Buffer.from('{"model":"gpt-4o-mini","messages":[]}'));
      const [forLookalike, forDevelopment, forUnknown] = [await send(lookalike), await send(developmentKey), await send(unknown)];
      tally('auth-oracle', forUnknown.status);
      expect(forDevelopment.status).toBe(403);
      expect(normalize(forDevelopment)).toBe(normalize(forLookalike));
      expect(forUnknown.status).toBe(401);
      expect(allReceived()).toEqual([]);
    }),
    { seed: SEED, numRuns: 100 },
  );
});

it('a key of another organization is answered exactly like an unknown key, and reaches nothing', async () => {
  const ask = (key: string) => {
    fuzzed++;
    return raw('POST', '/acme/openai/v1/chat/completions', [['authorization', `Bearer ${key}`], ['content-type', 'application/json']], Buffer.from('{"model":"gpt-4o-mini","messages":[]}'));
  };
  const answer = (r: RawResponse) => ({ status: r.status, code: r.headers['x-tokengate-error-code'], body: r.body.toString().replace(String(r.headers['x-tokengate-request-id']), '<id>') });
  const foreign = answer(await ask(otherOrgKey));
  expect(foreign.status).toBe(401);
  expect(foreign).toEqual(answer(await ask(`${otherOrgKey.slice(0, -4)}zzzz`)));
  expect(allReceived()).toEqual([]);
});

it('the proxy is still up after the run', async () => {
  const health = await fetch(`${gw.proxy.url}/healthz`);
  expect(health.status).toBe(200);
  const ok = await fetch(`${gw.services.openai.endpoint}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${gw.services.openai.key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }) });
  expect(ok.status).toBe(200);
});
