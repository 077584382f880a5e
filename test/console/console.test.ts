// The console page in headless Chromium against a real control plane (PostgreSQL, Redis, in-process
// rollout worker): sign-in, marketplace, a service's environments, live deployment status through the
// graphql-ws subscription, usage, and a connection whose keys are shown once.
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { seedEnvironments, seedTenant, startTestControlPlane, type Tenant, type TestControlPlane } from '../support/control-plane-harness';
import { waitFor } from '../support/wait';

// Chromium on a loaded two-core machine: generous safety nets; every wait below is on a condition.
jest.setTimeout(240_000);
const LOCATOR_TIMEOUT = 30_000;

const REGISTER = 'mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id environmentConfigs { environment backendSecurity { hint } } } }';
const CONFIGURE = 'mutation($s: ID!, $n: Int) { configureServiceEnvironment(serviceId: $s, environment: "production", input: {rateLimit: {timeUnit: HOUR, maxPromptTokens: 20000, maxCompletionTokens: 10000, maxTotalTokens: $n}}) { id } }';
const TOKEN_KEY = 'tokengate.console.token';

interface RegisteredService {
  id: string;
  environmentConfigs: Array<{ environment: string; backendSecurity: { hint: string | null } }>;
}

let cp: TestControlPlane;
let tenant: Tenant;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let origin: string;
let support: RegisteredService;
const requests: string[] = [];
const sockets: string[] = [];
const framesReceived: string[] = [];
const framesSent: string[] = [];
const pageErrors: string[] = [];
const consoleErrors: string[] = [];

async function productionRevision(): Promise<number> {
  const { environments } = await cp.ok<{ environments: Array<{ handle: string; revision: number }> }>('{ environments { handle revision } }');
  return environments.find((e) => e.handle === 'production')!.revision;
}

function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

beforeAll(async () => {
  cp = await startTestControlPlane({ TOKENGATE_INPROCESS_WORKER: 'true' });
  await seedEnvironments(cp);
  tenant = await seedTenant(cp, 'acme');
  origin = new URL(cp.graphqlUrl).origin;

  ({ registerGenAIService: support } = await cp.ok<{ registerGenAIService: RegisteredService }>(REGISTER, {
    i: {
      organizationId: tenant.organizationId, scope: 'ORGANIZATION', provider: 'OPENAI', name: 'Support Assistant', contextPath: '/support',
      serviceUrl: 'https://api.openai.com/v1', labels: ['chat', 'support'],
      // Markup in server data must render as text.
      summary: 'Answers customer tickets <b>fast</b> & <img src=x onerror=alert(1)>',
      description: 'GPT for the help desk.',
      environments: [{ environment: 'production', backendSecurity: { value: 'sk-console-test-secret-9f3a' }, rateLimit: { timeUnit: 'HOUR', maxPromptTokens: 20000, maxCompletionTokens: 10000, maxTotalTokens: 25000 } }],
    },
  }, tenant.tokens.engineer));
  await cp.ok(REGISTER, {
    i: {
      organizationId: tenant.organizationId, scope: 'ORGANIZATION', provider: 'ANTHROPIC', name: 'Claude Drafts', contextPath: '/claude',
      serviceUrl: 'https://api.anthropic.com', labels: ['writing'], summary: 'Drafts long documents',
      environments: [{ environment: 'production', backendSecurity: { value: 'sk-ant-console-test-key-0042' } }],
    },
  }, tenant.tokens.engineer);

  // Usage as a proxy would report it, so the usage table has a window to show.
  const { createConnection } = await cp.ok<{ createConnection: { connection: { id: string } } }>(
    'mutation($i: CreateConnectionInput!) { createConnection(input: $i) { connection { id } } }',
    { i: { projectId: tenant.projectId, serviceId: support.id, name: 'usage-seed' } },
    tenant.tokens.developer,
  );
  const { environments } = await cp.ok<{ environments: Array<{ id: string; handle: string }> }>('{ environments { id handle } }');
  const windowStart = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000).toISOString();
  await cp.plane.services.usage.recordBatch(environments.find((e) => e.handle === 'production')!.id, `console-${randomBytes(4).toString('hex')}`, [
    { serviceId: support.id, connectionId: createConnection.connection.id, windowUnit: 'HOUR', windowStart, promptTokens: 1234, completionTokens: 566, totalTokens: 1800, requests: 7 },
  ]);

  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  context.setDefaultTimeout(LOCATOR_TIMEOUT);
  context.on('request', (request) => void requests.push(request.url()));
  page = await context.newPage();
  page.on('websocket', (socket) => {
    sockets.push(socket.url());
    socket.on('framereceived', (frame) => void framesReceived.push(String(frame.payload)));
    socket.on('framesent', (frame) => void framesSent.push(String(frame.payload)));
  });
  page.on('pageerror', (error) => void pageErrors.push(error.message));
  page.on('console', (message) => void (message.type() === 'error' && consoleErrors.push(message.text())));
});

afterAll(async () => {
  await browser?.close();
  await cp?.stop();
});

it('serves the page, stylesheet and script under a same-origin Content-Security-Policy', async () => {
  const host = new URL(origin).host;
  let bytes = 0;
  for (const [file, type] of [['', 'text/html'], ['/console.css', 'text/css'], ['/console.js', 'text/javascript'], ['/favicon.svg', 'image/svg+xml']]) {
    const response = await fetch(`${origin}/console${file}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain(type);
    expect(response.headers.get('content-security-policy')).toBe(
      `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self' ws://${host} wss://${host}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    );
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    bytes += (await response.arrayBuffer()).byteLength;
  }
  // Plain and fast: the whole console is a few tens of kilobytes, uncompressed.
  expect(bytes).toBeLessThan(64 * 1024);
});

it('a wrong token gets a readable UNAUTHENTICATED error and is not kept', async () => {
  const response = await page.goto(`${origin}/console`);
  expect(response?.status()).toBe(200);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.fill('#token', 'tgp_not_a_real_token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert').filter({ hasText: 'UNAUTHENTICATED' });
  await alert.waitFor();
  expect(await alert.textContent()).toContain('invalid API token');
  expect(await page.evaluate<string | null>(`sessionStorage.getItem('${TOKEN_KEY}')`)).toBeNull();
});

it('a developer browses the marketplace, watches a deployment live and gets a connection key once', async () => {
  const token = tenant.tokens.developer;
  await page.fill('#token', token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Marketplace' }).waitFor();
  await page.locator('#who', { hasText: 'developer@acme.test · DEVELOPER' }).waitFor();
  expect(await page.locator('#organization option:checked').textContent()).toBe('acme Inc. (acme)');
  await page.selectOption('#project', tenant.projectId);
  expect(await page.locator('#project option:checked').textContent()).toBe('web (web)');
  await page.getByText('Published GenAI services visible from acme Inc. / web.').waitFor();
  const rows = page.locator('#marketplace-results tbody tr');
  await page.locator('#result-count', { hasText: /^2 services$/ }).waitFor();
  expect(await rows.count()).toBe(2);

  // Server strings are text: the markup in the summary is shown, not parsed.
  const supportRow = rows.filter({ hasText: 'Support Assistant' });
  expect(await supportRow.locator('td').nth(5).textContent()).toBe('Answers customer tickets <b>fast</b> & <img src=x onerror=alert(1)>');
  expect(await supportRow.locator('b, img').count()).toBe(0);

  await page.fill('#search', 'tickets');
  await page.locator('#result-count', { hasText: /^1 service$/ }).waitFor();
  expect(await rows.allTextContents()).toEqual([expect.stringContaining('Support Assistant')]);
  await page.fill('#search', '');
  await page.selectOption('#provider', 'ANTHROPIC');
  await page.locator('#marketplace-results tbody tr', { hasText: 'Claude Drafts' }).waitFor();
  await page.locator('#result-count', { hasText: /^1 service$/ }).waitFor();
  await page.selectOption('#provider', '');
  await page.locator('#result-count', { hasText: /^2 services$/ }).waitFor();

  // The service: environments with security and limits, deployments, usage.
  await page.getByRole('link', { name: 'Support Assistant' }).click();
  await page.getByRole('heading', { level: 1, name: 'Support Assistant' }).waitFor();
  expect(new URL(page.url()).hash).toBe(`#/services/${support.id}`);
  const production = page.locator('#environments tbody tr[data-environment="production"]');
  const hint = support.environmentConfigs.find((c) => c.environment === 'production')!.backendSecurity.hint!;
  expect(hint).toMatch(/9f3a$/);
  expect(await production.locator('td').allTextContents()).toEqual([`Configured ${hint}Authorization`, 'per hour', '20,000', '10,000', '25,000', 'https://api.openai.com/v1']);
  expect(await page.locator('#environments tbody tr[data-environment="development"] td').first().textContent()).toBe('Not configuredAuthorization');
  expect(await page.content()).not.toContain('sk-console-test-secret');
  await page.locator('#deployments tbody tr[data-environment="production"][data-status="DEPLOYED"]').waitFor();
  await page.locator('#deployments tbody tr[data-environment="development"]').waitFor();
  const usageRow = page.locator('#usage tbody tr[data-environment="production"]');
  expect((await usageRow.locator('td').allTextContents()).slice(1)).toEqual(['hour', '1,234', '566', '1,800', '7']);

  // Live: a change made elsewhere moves the production row through its statuses, without a reload.
  await page.locator('#live-status.live').waitFor();
  await page.evaluate(`window.consoleMarker = 'same document';
    window.productionStates = [];
    new MutationObserver(() => {
      const row = document.querySelector('#deployments tr[data-environment="production"]');
      if (row) window.productionStates.push(row.dataset.revision + ':' + row.dataset.status);
    }).observe(document.querySelector('#deployments tbody'), { childList: true });`);
  let maxTotalTokens = 30_000;
  let revision = 0;
  // Retried only in case the change raced the subscription's registration on the server.
  await waitFor(async () => {
    maxTotalTokens += 1000;
    await cp.ok(CONFIGURE, { s: support.id, n: maxTotalTokens }, tenant.tokens.engineer);
    revision = await productionRevision();
    const deployed = await page.locator(`#deployments tbody tr[data-environment="production"][data-revision="${revision}"][data-status="DEPLOYED"]`)
      .waitFor({ timeout: 30_000 }).then(() => true, () => false);
    const states = await page.evaluate<string[]>('window.productionStates');
    return deployed && states.some((s) => s === `${revision}:PENDING` || s === `${revision}:IN_PROGRESS`);
  }, 'the production deployment to move live in the page', 150_000);
  expect(await page.evaluate<string>('window.consoleMarker')).toBe('same document');
  // And it came through the subscription (the frame events may trail the DOM by a CDP round trip).
  const statusesReceived = (): string[] => framesReceived
    .map((frame) => JSON.parse(frame) as { type: string; payload?: { data?: { deploymentStatusChanged?: { environment: string; revision: number; status: string } } } })
    .flatMap((message) => (message.type === 'next' && message.payload?.data?.deploymentStatusChanged ? [message.payload.data.deploymentStatusChanged] : []))
    .filter((d) => d.environment === 'production' && d.revision === revision)
    .map((d) => d.status);
  await waitFor(() => statusesReceived().includes('DEPLOYED'), 'the DEPLOYED event on the page\'s WebSocket');
  expect(statusesReceived()[0]).not.toBe('DEPLOYED');
  // The new limit arrived with the new revision, still without a reload.
  await production.locator('td', { hasText: maxTotalTokens.toLocaleString('en-US') }).waitFor();
  await page.locator('#deployments tbody tr[data-environment="production"]', { hasText: `r${revision}` }).waitFor();

  // A connection: one key per environment, shown once, copyable.
  await page.getByText('Creates a connection in project web').waitFor();
  await page.fill('#connection-name', 'console-e2e');
  await page.fill('#connection-description', 'made in the browser');
  await page.getByRole('button', { name: 'Create connection' }).click();
  const issued = page.locator('#issued-keys');
  await issued.waitFor();
  const issuedFor: Array<string | null> = [];
  for (const row of await issued.locator('tbody tr').all()) issuedFor.push(await row.getAttribute('data-environment'));
  expect(issuedFor).toEqual(['development', 'production']);
  const key = (await issued.locator('tr[data-environment="production"] code.api-key').textContent())!;
  expect(key).toMatch(/^tgk_[A-Za-z0-9_-]{43}$/);
  expect(await issued.locator('tr[data-environment="production"] code.endpoint').textContent()).toBe('http://127.0.0.1:8081/acme/support');
  const { connections } = await cp.ok<{ connections: Array<{ name: string; environments: Array<{ environment: string; keyPrefix: string }> }> }>(
    'query($p: ID!) { connections(projectId: $p) { name environments { environment keyPrefix } } }',
    { p: tenant.projectId },
    token,
  );
  const made = connections.find((c) => c.name === 'console-e2e')!;
  expect(key.startsWith(made.environments.find((e) => e.environment === 'production')!.keyPrefix)).toBe(true);
  const copy = issued.locator('tr[data-environment="production"] button.copy-key');
  await copy.click();
  await issued.locator('tr[data-environment="production"] button.copy-key', { hasText: 'Copied' }).waitFor();
  expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(key);

  // The screenshot holds the key elements (the key itself masked, so the file carries no secret).
  await page.evaluate('window.scrollTo(0, 0)');
  const file = path.join(tmpdir(), `tokengate-console-${randomBytes(4).toString('hex')}.png`);
  try {
    await page.screenshot({ path: file, fullPage: true, mask: [issued.locator('code.api-key')] });
    const png = await readFile(file);
    const size = pngSize(png);
    expect(png.byteLength).toBeGreaterThan(20_000);
    expect(size.width).toBe(1280);
    expect(size.height).toBeGreaterThanOrEqual(900);
    for (const element of [page.locator('h1'), page.locator('#environments'), page.locator('#deployments'), page.locator('#live-status'), page.locator('#usage'), issued]) {
      const box = (await element.boundingBox())!;
      expect(box.width).toBeGreaterThan(0);
      expect(box.height).toBeGreaterThan(0);
      expect(box.x + box.width).toBeLessThanOrEqual(size.width);
      expect(box.y + box.height).toBeLessThanOrEqual(size.height);
    }
  } finally {
    await rm(file, { force: true });
  }

  // The token never left sessionStorage and the Authorization header / connection_init.
  expect(await page.evaluate<string | null>(`sessionStorage.getItem('${TOKEN_KEY}')`)).toBe(token);
  expect(await page.evaluate<number>('localStorage.length')).toBe(0);
  expect(requests.some((url) => url.includes(token))).toBe(false);
  expect(framesSent.filter((frame) => frame.includes(token)).map((frame) => (JSON.parse(frame) as { type: string }).type)).toEqual(
    framesSent.filter((frame) => frame.includes(token)).map(() => 'connection_init'),
  );

  // Leaving the service drops the keys; coming back does not show them again.
  await page.locator('#back').click();
  await page.getByRole('heading', { name: 'Marketplace' }).waitFor();
  expect(await page.content()).not.toContain(key);
  await page.goBack();
  await page.getByRole('heading', { level: 1, name: 'Support Assistant' }).waitFor();
  await page.locator('#connect').waitFor();
  expect(await page.locator('#issued-keys').count()).toBe(0);
  expect(await page.content()).not.toContain(key);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  expect(await page.evaluate<string | null>(`sessionStorage.getItem('${TOKEN_KEY}')`)).toBeNull();
});

it('made no request outside the control plane and broke no policy', () => {
  expect(requests.length).toBeGreaterThan(0);
  expect(requests.filter((url) => !url.startsWith(`${origin}/`))).toEqual([]);
  expect(sockets.length).toBeGreaterThan(0);
  expect(sockets.filter((url) => !url.startsWith(`${origin.replace('http', 'ws')}/graphql`))).toEqual([]);
  expect(pageErrors).toEqual([]);
  // The refused sign-in logs its 401 as a failed resource load; nothing else may fail.
  expect(consoleErrors.filter((text) => !/status of 401/.test(text))).toEqual([]);
});
