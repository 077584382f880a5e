// The console as served: the built files under a same-origin CSP, sign-in, and the failure paths
// (a refused token, a network error with retry, an organization without projects), in Debian's Chromium.
import { seedEnvironments, seedTenant, startTestControlPlane, type Tenant, type TestControlPlane } from '../support/control-plane-harness';
import { type ConsoleBrowser, type ConsolePage, launchConsoleBrowser } from './console-browser';

jest.setTimeout(180_000);

const TOKEN_KEY = 'tokengate.console.token';
const REGISTER = 'mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id } }';

let cp: TestControlPlane;
let tenant: Tenant;
let origin: string;
let browser: ConsoleBrowser;
let tab: ConsolePage;
let serviceId: string;

beforeAll(async () => {
  cp = await startTestControlPlane();
  await seedEnvironments(cp);
  tenant = await seedTenant(cp, 'acme');
  origin = new URL(cp.graphqlUrl).origin;
  ({ registerGenAIService: { id: serviceId } } = await cp.ok<{ registerGenAIService: { id: string } }>(REGISTER, {
    i: {
      organizationId: tenant.organizationId, scope: 'ORGANIZATION', provider: 'OPENAI', name: 'Support Assistant', contextPath: '/support',
      serviceUrl: 'https://api.openai.com/v1', labels: ['chat', 'support'],
      // Markup in server data must render as text.
      summary: 'Answers customer tickets <b>fast</b> & <img src=x onerror=alert(1)>',
      environments: [{ environment: 'production', backendSecurity: { value: 'sk-console-test-secret-9f3a' } }],
    },
  }, tenant.tokens.engineer));
  browser = await launchConsoleBrowser();
  tab = await browser.open(origin);
});

afterAll(async () => {
  await browser?.close();
  await cp?.stop();
});

it('serves the built console under a same-origin Content-Security-Policy, assets cached for good', async () => {
  const host = new URL(origin).host;
  const response = await fetch(`${origin}/console`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-security-policy')).toBe(
    `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self' ws://${host} wss://${host}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  );
  expect(response.headers.get('cache-control')).toBe('no-cache');
  const html = await response.text();
  const assets = [...html.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1]);
  expect(assets.some((a) => a.endsWith('.js'))).toBe(true);
  expect(assets.some((a) => a.endsWith('.css'))).toBe(true);
  expect(html).not.toMatch(/<style|style=|<script>/);
  for (const asset of assets) {
    const file = await fetch(`${origin}${asset}`);
    expect(file.status).toBe(200);
    expect(file.headers.get('cache-control')).toContain('immutable');
    expect(file.headers.get('x-content-type-options')).toBe('nosniff');
  }
});

it('a refused token gets words, not a code, and is not kept', async () => {
  const { page } = tab;
  await page.goto(`${origin}/console`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  expect(await tab.axe()).toEqual([]);
  await tab.screenshot('sign-in');
  await page.getByLabel('API token').fill('tgp_not_a_real_token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert');
  await alert.getByText('Your API token was not accepted').waitFor();
  expect(await page.evaluate<string | null>(`sessionStorage.getItem('${TOKEN_KEY}')`)).toBeNull();
});

it('a developer sees the marketplace with server text as text, and no management', async () => {
  const { page } = tab;
  await tab.signIn(tenant.tokens.developer);
  await page.getByRole('heading', { name: 'Marketplace', level: 1 }).waitFor();
  await page.locator('#who', { hasText: 'developer@acme.test · Developer' }).waitFor();
  await page.locator('#result-count', { hasText: '1 service' }).waitFor();
  await page.getByText('Answers customer tickets <b>fast</b> & <img src=x onerror=alert(1)>').waitFor();
  expect(await page.locator('.service-card b, .service-card img').count()).toBe(0);
  // Role-aware: a developer is not offered the GenAI services area.
  expect(await page.getByRole('link', { name: 'GenAI services' }).count()).toBe(0);
  expect(await tab.axe()).toEqual([]);
  await tab.screenshot('marketplace');
  expect(await tab.cspViolations()).toEqual([]);
  expect(await page.evaluate<string | null>(`sessionStorage.getItem('${TOKEN_KEY}')`)).toBe(tenant.tokens.developer);
  expect(await page.evaluate<number>('localStorage.length')).toBe(0);
});

it('a network error says so and offers a retry that works', async () => {
  const { page } = tab;
  await page.route('**/graphql', (route) => route.abort('connectionrefused'));
  await page.getByRole('link', { name: 'Connections' }).click();
  const alert = page.getByRole('alert').filter({ hasText: 'The control plane cannot be reached' });
  await alert.waitFor();
  await tab.screenshot('network-error');
  await page.unroute('**/graphql');
  await alert.getByRole('button', { name: 'Retry' }).click();
  await page.getByText('0 connections').waitFor();
  expect(await tab.cspViolations()).toEqual([]);
  expect(await page.getByRole('alert').count()).toBe(0);
});

it('lists a project of many connections a page at a time, oldest first, and deletes in place', async () => {
  const names = Array.from({ length: 205 }, (_, i) => `app-${String(i).padStart(3, '0')}`);
  for (const name of names) {
    await cp.ok('mutation($i: CreateConnectionInput!) { createConnection(input: $i) { connection { id } } }', { i: { projectId: tenant.otherProjectId, serviceId, name } }, tenant.tokens.developer);
  }
  const paged = await browser.open(origin);
  await paged.signIn(tenant.tokens.developer);
  const { page } = paged;
  await page.locator('#project').selectOption(tenant.otherProjectId);
  await page.getByRole('link', { name: 'Connections' }).click();
  const status = page.locator('#connection-count');
  const listed = () => page.locator('#connections tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-connection')));
  await status.filter({ hasText: '100 connections shown; there are more' }).waitFor();
  expect(await listed()).toEqual(names.slice(0, 100));
  expect(await paged.axe()).toEqual([]);

  // Deleting the last one listed: gone from the list, and the next page starts after the one before it.
  await page.getByRole('button', { name: 'Delete connection app-099' }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Delete connection' }).click();
  await page.locator('tr[data-connection="app-099"]').waitFor({ state: 'detached' });
  await page.getByRole('button', { name: 'Show 100 more' }).click();
  await status.filter({ hasText: '199 connections shown; there are more' }).waitFor();
  await page.getByRole('button', { name: 'Show 100 more' }).click();
  await status.filter({ hasText: /^204 connections$/ }).waitFor();
  expect(await listed()).toEqual(names.filter((name) => name !== 'app-099'));
  expect(await page.getByRole('button', { name: 'Show 100 more' }).count()).toBe(0);
  await paged.screenshot('connections-paged');
  expect(paged.pageErrors).toEqual([]);
  expect(await paged.cspViolations()).toEqual([]);
});

it('an organization without projects explains why nothing can be connected', async () => {
  const { page } = tab;
  const { createOrganization } = await cp.ok<{ createOrganization: { id: string } }>('mutation { createOrganization(input: {handle: "empty", name: "Empty Ltd"}) { id } }');
  await cp.ok('mutation($o: ID!) { addMember(organizationId: $o, email: "developer@acme.test", role: DEVELOPER) { role } }', { o: createOrganization.id });
  await page.reload();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
  await page.locator('#organization').selectOption(createOrganization.id);
  await page.getByRole('link', { name: 'Connections' }).click();
  await page.getByText('Empty Ltd has no project yet').waitFor();
  expect(await page.locator('#project').isDisabled()).toBe(true);
  expect(await tab.axe()).toEqual([]);
  await tab.screenshot('organization-without-projects');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  expect(await page.evaluate<string | null>(`sessionStorage.getItem('${TOKEN_KEY}')`)).toBeNull();
});

it('made no request outside the control plane and broke no policy', () => {
  expect(tab.requests.filter((url) => !url.startsWith(`${origin}/`))).toEqual([]);
  expect(tab.pageErrors).toEqual([]);
  // The refused sign-in logs its 401 and the aborted requests their failure; nothing else may fail (a CSP refusal would).
  expect(tab.consoleErrors.filter((text) => !/status of 401|net::ERR_CONNECTION_REFUSED|Failed to load resource/.test(text))).toEqual([]);
});
