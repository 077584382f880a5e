// Defects of the console's forms, chart and navigation found by a second audit, each pinned in the
// browser: limits checked before sending, budgets without a maximum, empty usage periods, stale
// errors, Enter on an empty required field, the wizard's focus, unknown addresses, credential hints.
import {
  MAX_CONNECTION_DESCRIPTION_LENGTH, MAX_DESCRIPTION_LENGTH, MAX_LABEL_LENGTH, MAX_NAME_LENGTH, MAX_SUMMARY_LENGTH, MAX_URL_LENGTH,
} from '../../control-plane/src/common/validation';
import { MAX_API_VERSION_LENGTH, MAX_AWS_REGION_LENGTH, MAX_HEADER_NAME_LENGTH, MAX_SECRET_LENGTH } from '../../control-plane/src/genai-service/backend-security';
import { MAX_SEARCH_LENGTH } from '../../control-plane/src/marketplace/marketplace.service';
import { LIMITS } from '../../console/src/ui/limits';
import { seedTenant, type Tenant, type TestControlPlane } from '../support/control-plane-harness';
import { type ConsoleBrowser, type ConsolePage, SCREENSHOT_DIR } from './console-browser';
import { type ConsoleStack, startConsoleStack } from './console-stack';

jest.setTimeout(180_000);

const REGISTER = 'mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id } }';

let stack: ConsoleStack;
let cp: TestControlPlane;
let tenant: Tenant;
let origin: string;
let browser: ConsoleBrowser;
let serviceId: string;

beforeAll(async () => {
  stack = await startConsoleStack();
  ({ cp, tenant, origin, browser, serviceId } = stack);
});

afterAll(async () => {
  await stack?.stop();
});

/** The GraphQL operations the page has sent, by operation name. */
function operations(tab: ConsolePage): string[] {
  const sent: string[] = [];
  tab.page.on('request', (request) => {
    const name = /"query":"(?:query|mutation|subscription) (\w+)/.exec(request.postData() ?? '')?.[1];
    if (name) sent.push(name);
  });
  return sent;
}

it('the console checks the server\'s length limits itself: a value too long is pointed out on its field and never sent', async () => {
  expect(LIMITS).toEqual({
    name: MAX_NAME_LENGTH, summary: MAX_SUMMARY_LENGTH, description: MAX_DESCRIPTION_LENGTH, connectionDescription: MAX_CONNECTION_DESCRIPTION_LENGTH,
    url: MAX_URL_LENGTH, headerName: MAX_HEADER_NAME_LENGTH, apiVersion: MAX_API_VERSION_LENGTH, awsRegion: MAX_AWS_REGION_LENGTH,
    secret: MAX_SECRET_LENGTH, search: MAX_SEARCH_LENGTH, label: MAX_LABEL_LENGTH,
  });
  const tab = await browser.open(origin);
  const { page } = tab;
  const sent = operations(tab);
  await tab.signIn(tenant.tokens.engineer);
  await page.goto(`${origin}/console#/services/${serviceId}`);
  const details = page.getByRole('form', { name: 'General details' });
  await details.getByLabel('Name').fill('n'.repeat(121));
  await details.getByLabel('Summary').fill('s'.repeat(301));
  await details.getByLabel('Description').fill('d'.repeat(5001));
  await details.locator('[data-field="name"] .field-error', { hasText: 'At most 120 characters: this has 121.' }).waitFor();
  await details.locator('[data-field="summary"] .field-error', { hasText: 'At most 300 characters: this has 301.' }).waitFor();
  await details.locator('[data-field="description"] .field-error', { hasText: 'At most 5,000 characters: this has 5,001.' }).waitFor();
  await details.getByRole('button', { name: 'Save details' }).click();
  const production = page.locator('section.environment[data-environment="production"]');
  await production.getByLabel('Header carrying the key').fill('x'.repeat(65));
  await production.locator('.field-error', { hasText: 'At most 64 characters: this has 65.' }).waitFor();
  await production.getByLabel('Header carrying the key').fill('X Api Key');
  await production.locator('.field-error', { hasText: 'Use only letters, digits and' }).waitFor();
  await production.getByRole('button', { name: 'Save production' }).click();
  await tab.screenshot('polish-limits-service');

  // A developer's connection: the name and description too.
  await page.goto(`${origin}/console#/marketplace/${serviceId}`);
  await page.getByLabel('Connection name').fill('c'.repeat(121));
  await page.getByLabel('Description').fill('d'.repeat(2001));
  await page.locator('[data-field="name"] .field-error', { hasText: 'At most 120 characters' }).waitFor();
  await page.locator('[data-field="description"] .field-error', { hasText: 'At most 2,000 characters' }).waitFor();
  await page.getByRole('button', { name: 'Create connection' }).click();
  // The wizard does not move on past a summary too long.
  await page.goto(`${origin}/console#/services/new`);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel('Name').fill('Long summary');
  await page.getByLabel('Context path').fill('/long-summary');
  await page.getByLabel('Summary').fill('s'.repeat(301));
  await page.getByRole('button', { name: 'Next' }).click();
  await page.locator('[data-field="summary"][data-invalid]').waitFor();
  expect(await page.getByRole('heading', { name: 'Step 2 of 3: Details' }).count()).toBe(1);
  expect(await tab.axe()).toEqual([]);
  // The search box takes no more than the server searches for.
  await page.goto(`${origin}/console#/marketplace`);
  await page.locator('#search').fill('q'.repeat(250));
  expect(await page.locator('#search').inputValue()).toHaveLength(200);

  expect(sent.filter((name) => /^Console(UpdateService|Configure|CreateConnection|Register)$/.test(name))).toEqual([]);
  expect(tab.consoleErrors).toEqual([]);
  expect(tab.pageErrors).toEqual([]);
});

it('a service budget or default quota switched on asks for a maximum; a connection\'s own quota may stay empty (exempt)', async () => {
  const tab = await browser.open(origin);
  const { page } = tab;
  const sent = operations(tab);
  await tab.signIn(tenant.tokens.engineer);
  await page.goto(`${origin}/console#/services/${serviceId}`);
  const development = page.locator('section.environment[data-environment="development"]');
  await development.getByText('Give each connection a quota').click();
  // Not before the user tries to save.
  expect(await development.locator('.field-error').count()).toBe(0);
  await development.getByRole('button', { name: 'Save development' }).click();
  const missing = development.locator('[data-budget="development-quota"] .field-error', { hasText: 'Enter at least one maximum' });
  await missing.waitFor();
  await waitUntil(async () => (await page.evaluate<string | null>('document.activeElement?.getAttribute("name")')) === 'development-quota-total');
  expect(await tab.axe()).toEqual([]);
  await tab.screenshot('polish-budget-needs-maximum');
  await development.getByLabel('Max completion tokens').fill('500');
  await missing.waitFor({ state: 'detached' });
  await development.getByRole('button', { name: 'Save development' }).click();
  await development.getByText('Saved; rolling out to the proxies.').waitFor();
  expect(sent.filter((name) => name === 'ConsoleConfigure')).toHaveLength(1);

  // The wizard does not register a service whose budget is switched on without a maximum.
  await page.goto(`${origin}/console#/services/new`);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel('Name').fill('No maximum');
  await page.getByLabel('Context path').fill('/no-maximum');
  await page.getByRole('button', { name: 'Next' }).click();
  const production = page.locator('fieldset.environment[data-environment="production"]');
  await production.getByText('Limit tokens').click();
  await page.getByRole('button', { name: 'Register service' }).click();
  await production.locator('[data-budget="production-limit"] .field-error', { hasText: 'Enter at least one maximum' }).waitFor();
  expect(sent.filter((name) => name === 'ConsoleRegister')).toEqual([]);

  // A connection's own quota left empty exempts the connection: saved as such.
  const { createConnection } = await cp.ok<{ createConnection: { connection: { id: string } } }>(
    'mutation($i: CreateConnectionInput!) { createConnection(input: $i) { connection { id } } }', { i: { projectId: tenant.projectId, serviceId, name: 'exempt-app' } }, tenant.tokens.developer,
  );
  await page.goto(`${origin}/console#/connections/${createConnection.connection.id}`);
  const own = page.locator('section.card[data-environment="production"]');
  await own.getByText("Set this connection's own quota").click();
  await own.getByText("Override the service's default quota").click();
  await own.getByRole('button', { name: 'Save quota' }).click();
  await own.getByText('Quota saved.').waitFor();
  expect(await own.locator('.field-error').count()).toBe(0);
  expect(tab.consoleErrors).toEqual([]);
});

it('the usage chart draws every period of its range, those without usage as empty, not only the periods with usage', async () => {
  const { createConnection } = await cp.ok<{ createConnection: { connection: { id: string } } }>(
    'mutation($i: CreateConnectionInput!) { createConnection(input: $i) { connection { id } } }', { i: { projectId: tenant.projectId, serviceId, name: 'chart-app' } }, tenant.tokens.developer,
  );
  const connectionId = createConnection.connection.id;
  const { environments } = await cp.ok<{ environments: Array<{ id: string; handle: string }> }>('{ environments { id handle } }');
  const production = environments.find((e) => e.handle === 'production')!.id;
  const minuteAgo = (minutes: number) => new Date(Math.floor(Date.now() / 60_000) * 60_000 - minutes * 60_000).toISOString();
  // Usage in this minute, and five days ago.
  await cp.plane.services.usage.recordBatch(production, 'chart:1', [
    { serviceId, connectionId, windowUnit: 'MINUTE', windowStart: minuteAgo(0), promptTokens: 30, completionTokens: 12, totalTokens: 42, requests: 1 },
    { serviceId, connectionId, windowUnit: 'MINUTE', windowStart: minuteAgo(5 * 24 * 60), promptTokens: 5, completionTokens: 5, totalTokens: 10, requests: 1 },
  ]);
  const tab = await browser.open(origin);
  const { page } = tab;
  await tab.signIn(tenant.tokens.developer);
  await page.goto(`${origin}/console#/connections/${connectionId}`);
  const chart = page.locator('figure.chart');
  await chart.getByText('per hour, last 24 hours: 42 tokens in total').waitFor();
  // The last 24 hours: 25 hourly buckets (the first and the last partial), one with usage.
  expect(await chart.locator('g[data-bucket]').count()).toBe(25);
  expect(await chart.locator('g[data-bucket]:has(rect)').count()).toBe(1);
  await page.getByText('Last 30 days').click();
  await chart.getByText('per day, last 30 days: 52 tokens in total').waitFor();
  expect(await chart.locator('g[data-bucket]').count()).toBe(31);
  const withUsage = await chart.locator('g[data-bucket]').evaluateAll((groups) => groups.map((g, i) => (g.querySelector('rect') ? i : -1)).filter((i) => i >= 0));
  expect(withUsage).toEqual([25, 30]);
  // Bars are spread over the whole width, not one bar centred.
  const [first, last] = await chart.locator('g[data-bucket] rect').evaluateAll((rects) => rects.map((r) => Number(r.getAttribute('x'))));
  expect(last - first).toBeGreaterThan(50);
  expect(await tab.axe()).toEqual([]);
  await chart.screenshot({ path: `${SCREENSHOT_DIR}/polish-usage-30-days.png` });
});

it('a new save clears the refusal of the last one, even when a check in the browser stops it', async () => {
  await cp.ok(REGISTER, {
    i: { organizationId: tenant.organizationId, scope: 'ORGANIZATION', provider: 'OPENAI', name: 'Other', contextPath: '/other', serviceUrl: 'https://api.openai.com/v1' },
  }, tenant.tokens.engineer);
  const tab = await browser.open(origin);
  const { page } = tab;
  const sent = operations(tab);
  await tab.signIn(tenant.tokens.engineer);
  await page.goto(`${origin}/console#/services/${serviceId}`);
  const details = page.getByRole('form', { name: 'General details' });
  await details.getByLabel('Context path').fill('/other');
  await details.getByRole('button', { name: 'Save details' }).click();
  await details.getByRole('alert').getByText('This clashes with what exists').waitFor();
  await details.getByLabel('Context path').fill('/support');
  await details.getByLabel('Name').fill('');
  await details.getByRole('button', { name: 'Save details' }).click();
  await details.locator('[data-field="name"] .field-error', { hasText: 'Enter a name.' }).waitFor();
  expect(await details.getByRole('alert').count()).toBe(0);
  await waitUntil(async () => (await page.evaluate<string | null>('document.activeElement?.getAttribute("name")')) === 'name');
  expect(sent.filter((name) => name === 'ConsoleUpdateService')).toHaveLength(1);
  await tab.screenshot('polish-stale-error-cleared');
});

it('Enter on an empty required field says what is missing there and clears an older error', async () => {
  const tab = await browser.open(origin);
  const { page } = tab;
  const sent = operations(tab);
  const focusedName = () => page.evaluate<string | null>('document.activeElement?.getAttribute("name")');
  await page.goto(`${origin}/console`);
  await page.getByLabel('API token').fill('tgp_not_a_token');
  await page.getByLabel('API token').press('Enter');
  await page.getByRole('alert').getByText('Your API token was not accepted').waitFor();
  await page.getByLabel('API token').fill('');
  await page.getByLabel('API token').press('Enter');
  await page.locator('[data-field="token"] .field-error', { hasText: 'Paste your API token.' }).waitFor();
  expect(await page.getByRole('alert').count()).toBe(0);
  expect(await focusedName()).toBe('token');
  expect(await tab.axe()).toEqual([]);
  await tab.screenshot('polish-sign-in-empty');
  await page.getByLabel('API token').fill(tenant.tokens.developer);
  await page.getByLabel('API token').press('Enter');
  await page.getByRole('navigation', { name: 'Main' }).waitFor();

  await page.goto(`${origin}/console#/marketplace/${serviceId}`);
  const name = page.getByLabel('Connection name');
  await name.fill('enter-app');
  await name.press('Enter');
  await page.locator('[data-issued-keys]').waitFor();
  await name.fill('enter-app');
  await name.press('Enter');
  await page.getByRole('alert').getByText('This clashes with what exists').waitFor();
  await name.fill('');
  await name.press('Enter');
  await page.locator('[data-field="name"] .field-error', { hasText: 'Enter a name for the connection.' }).waitFor();
  expect(await page.getByRole('alert').count()).toBe(0);
  expect(await focusedName()).toBe('name');
  expect(sent.filter((op) => op === 'ConsoleCreateConnection')).toHaveLength(2);
  await tab.screenshot('polish-connect-empty');
});

it('the wizard takes the focus to each new step\'s heading, and to the field a refusal names', async () => {
  const tab = await browser.open(origin);
  const { page } = tab;
  const focused = () => page.evaluate<string>('(document.activeElement?.tagName ?? "") + " " + (document.activeElement?.textContent ?? "")');
  await tab.signIn(tenant.tokens.engineer);
  await page.goto(`${origin}/console#/services/new`);
  await page.getByRole('button', { name: 'Next' }).press('Enter');
  await waitUntil(async () => (await focused()) === 'H2 Step 2 of 3: Details');
  await page.getByLabel('Name').fill('Focus');
  await page.getByLabel('Context path').fill('/support');
  await page.getByRole('button', { name: 'Back' }).press('Enter');
  await waitUntil(async () => (await focused()) === 'H2 Step 1 of 3: Provider');
  await page.getByRole('button', { name: 'Next' }).press('Enter');
  await waitUntil(async () => (await focused()) === 'H2 Step 2 of 3: Details');
  await page.getByRole('button', { name: 'Next' }).press('Enter');
  await waitUntil(async () => (await focused()) === 'H2 Step 3 of 3: Environments');
  // Tab goes on into the step.
  await page.keyboard.press('Tab');
  expect(await page.evaluate<boolean>('document.querySelector("form.wizard fieldset").contains(document.activeElement)')).toBe(true);
  expect(await tab.axe()).toEqual([]);
  await page.getByRole('button', { name: 'Register service' }).press('Enter');
  await page.getByRole('alert').getByText('This clashes with what exists').waitFor();
  await waitUntil(async () => (await page.evaluate<string | null>('document.activeElement?.getAttribute("name")')) === 'contextPath');
});

it('an unknown connection or service offers the way back, not a Retry that cannot help; an unknown address becomes the marketplace\'s', async () => {
  const tab = await browser.open(origin);
  const { page } = tab;
  await tab.signIn(tenant.tokens.engineer);
  const unknown = '00000000-0000-4000-8000-000000000000';
  for (const [hash, back, heading] of [
    ['#/connections/nonsense', 'Back to connections', 'Connections'],
    [`#/marketplace/${unknown}`, 'Back to the marketplace', 'Marketplace'],
    [`#/services/${unknown}`, 'Back to GenAI services', 'GenAI services'],
  ]) {
    await page.goto(`${origin}/console${hash}`);
    const alert = page.getByRole('alert').filter({ hasText: 'Not found' });
    await alert.waitFor();
    expect({ hash, retry: await alert.getByRole('button', { name: 'Retry' }).count() }).toEqual({ hash, retry: 0 });
    if (hash === '#/connections/nonsense') {
      expect(await tab.axe()).toEqual([]);
      await tab.screenshot('polish-not-found');
    }
    await alert.getByRole('link', { name: back }).click();
    await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
  }
  // A network error still offers Retry.
  await page.route('**/graphql', (route) => route.abort('connectionrefused'));
  await page.evaluate(`location.hash = '#/connections/${unknown}'`);
  await page.getByRole('heading', { name: 'Connection', level: 1 }).waitFor();
  await page.getByRole('alert').filter({ hasText: 'The control plane cannot be reached' }).getByRole('button', { name: 'Retry' }).waitFor();
  await page.unroute('**/graphql');

  await page.goto(`${origin}/console#/nonsense`);
  await page.getByRole('heading', { name: 'Marketplace', level: 1 }).waitFor();
  expect(await page.evaluate<string>('location.hash')).toBe('#/marketplace');
  await page.evaluate("location.hash = '#/services/new/extra'");
  await waitUntil(async () => (await page.evaluate<string>('location.hash')) === '#/marketplace');
});

it('stored credentials are described in words, with the end of the secret only when it is long enough to show one', async () => {
  const { registerGenAIService: bedrock } = await cp.ok<{ registerGenAIService: { id: string } }>(REGISTER, {
    i: {
      organizationId: tenant.organizationId, scope: 'ORGANIZATION', provider: 'AWS_BEDROCK', name: 'Short keys', contextPath: '/short-keys',
      serviceUrl: 'https://bedrock-runtime.us-east-1.amazonaws.com',
      environments: [
        { environment: 'production', backendSecurity: { awsAccessKeyId: 'AKIASHORT', awsSecretAccessKey: 'short-secret', awsRegion: 'us-east-1' } },
        { environment: 'development', backendSecurity: { value: 'brk-short' } },
      ],
    },
  }, tenant.tokens.engineer);
  const tab = await browser.open(origin);
  const { page } = tab;
  await tab.signIn(tenant.tokens.engineer);
  await page.goto(`${origin}/console#/services/${bedrock.id}`);
  const state = (environment: string) => page.locator(`section.environment[data-environment="${environment}"] .security-state`);
  await state('production').getByText('AWS access keys stored, used to sign requests (AWS SigV4).').waitFor();
  expect(await state('development').textContent()).toBe('Key stored, sent in the Authorization header.');
  await page.goto(`${origin}/console#/services/${serviceId}`);
  await state('production').getByText('Key stored (ending …9f3a), sent in the Authorization header.').waitFor();
  expect(await page.locator('.security-state code:empty').count()).toBe(0);
  await state('production').screenshot({ path: `${SCREENSHOT_DIR}/polish-credentials-hint.png` });
});

it('the organization selector shows a long name whole at 1280 px, and fits at 390 px', async () => {
  const northwind = await seedTenant(cp, 'northwind-traders-intl');
  for (const width of [1280, 390]) {
    const tab = await browser.open(origin, { width });
    const { page } = tab;
    await tab.signIn(northwind.tokens.developer);
    await page.getByRole('heading', { name: 'Marketplace', level: 1 }).waitFor();
    // The selected option's text, measured in the select's font, against the room the select gives it (its arrow aside).
    const [text, room] = await page.evaluate<[number, number]>(`(() => {
      const select = document.getElementById('organization');
      const style = getComputedStyle(select);
      const context = document.createElement('canvas').getContext('2d');
      context.font = style.font;
      const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
      return [context.measureText(select.selectedOptions[0].textContent).width, select.clientWidth - padding - 16];
    })()`);
    if (width === 1280) expect(text).toBeLessThanOrEqual(room);
    expect(await page.locator('#organization').getAttribute('title')).toBe('northwind-traders-intl Inc. (northwind-traders-intl)');
    expect(await tab.scrollsSideways()).toBe(false);
    await page.screenshot({ path: `${SCREENSHOT_DIR}/polish-organization-${width}.png`, clip: { x: 0, y: 0, width, height: 160 } });
  }
});

it('the code snippet of issued keys is one box, not a box per line', async () => {
  const tab = await browser.open(origin);
  const { page } = tab;
  await tab.signIn(tenant.tokens.developer);
  await page.goto(`${origin}/console#/marketplace/${serviceId}`);
  await page.getByLabel('Connection name').fill('snippet-app');
  await page.getByRole('button', { name: 'Create connection' }).click();
  const snippet = page.locator('[data-issued-keys] .snippet[data-environment="production"]');
  await snippet.locator('summary').click();
  await snippet.locator('pre code').waitFor();
  // Run in the page (a string: this file is compiled without the DOM's types).
  const style = await page.evaluate<[string, string]>(`(() => {
    const style = getComputedStyle(document.querySelector('[data-issued-keys] .snippet[data-environment="production"] pre code'));
    return [style.borderTopWidth, style.backgroundColor];
  })()`);
  expect(style).toEqual(['0px', 'rgba(0, 0, 0, 0)']);
  await snippet.screenshot({ path: `${SCREENSHOT_DIR}/polish-snippet.png` });
});

it('the Connect card stands apart from the environments table above it', async () => {
  const tab = await browser.open(origin);
  const { page } = tab;
  await tab.signIn(tenant.tokens.developer);
  await page.goto(`${origin}/console#/marketplace/${serviceId}`);
  const connect = page.locator('section.connect');
  await connect.waitFor();
  const table = await page.getByRole('region', { name: 'Environments' }).boundingBox();
  const card = await connect.boundingBox();
  expect(card!.y - (table!.y + table!.height)).toBeGreaterThanOrEqual(16);
  // The card's heading starts at its top, not after an empty band.
  const heading = await connect.getByRole('heading', { name: 'Connect' }).boundingBox();
  expect(heading!.y - card!.y).toBeLessThanOrEqual(24);
  await page.screenshot({ path: `${SCREENSHOT_DIR}/polish-connect-card.png`, clip: { x: 0, y: table!.y - 20, width: 1280, height: card!.y - table!.y + 180 } });
});

it('the Azure OpenAI default service URL is a template: kept as is, it is refused with a message', async () => {
  const tab = await browser.open(origin);
  const { page } = tab;
  await tab.signIn(tenant.tokens.engineer);
  await page.goto(`${origin}/console#/services/new`);
  await page.getByText('Azure OpenAI').click();
  expect(await page.getByLabel('Service URL').inputValue()).toBe('https://YOUR-RESOURCE.openai.azure.com');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.locator('[data-field="serviceUrl"] .field-error', { hasText: 'Replace YOUR-RESOURCE with the name of your Azure OpenAI resource' }).waitFor();
  await waitUntil(async () => (await page.evaluate<string | null>('document.activeElement?.getAttribute("name")')) === 'serviceUrl');
  expect(await page.getByRole('heading', { name: 'Step 1 of 3: Provider' }).count()).toBe(1);
  expect(await tab.axe()).toEqual([]);
  await page.locator('form.wizard').screenshot({ path: `${SCREENSHOT_DIR}/polish-azure-placeholder.png` });
  await page.getByLabel('Service URL').fill('https://contoso.openai.azure.com');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('heading', { name: 'Step 2 of 3: Details' }).waitFor();
});

it('a single rotated key is "the key", not "the keys"', async () => {
  const { createConnection } = await cp.ok<{ createConnection: { connection: { id: string } } }>(
    'mutation($i: CreateConnectionInput!) { createConnection(input: $i) { connection { id } } }', { i: { projectId: tenant.projectId, serviceId, name: 'rotate-app' } }, tenant.tokens.developer,
  );
  const tab = await browser.open(origin);
  const { page } = tab;
  await tab.signIn(tenant.tokens.developer);
  await page.goto(`${origin}/console#/connections/${createConnection.connection.id}`);
  await page.getByRole('button', { name: 'Rotate production key' }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Rotate key' }).click();
  const panel = page.locator('[data-issued-keys]');
  await panel.getByText('Copy the key now: it is shown once and this page does not keep it.').waitFor();
  expect(await panel.textContent()).not.toContain('keys');
  await tab.screenshot('polish-one-key');
  await panel.getByRole('button', { name: 'I have copied the key' }).click();
  await panel.waitFor({ state: 'detached' });
});

async function waitUntil(check: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${check.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
