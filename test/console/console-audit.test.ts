// Defects found by a console audit, each pinned in the browser: a session whose token is revoked,
// budgets in every dimension, focus after navigation and saves, narrow tables, role-gated screens.
import { Client } from 'pg';
import type { Tenant, TestControlPlane } from '../support/control-plane-harness';
import type { ConsoleBrowser } from './console-browser';
import { type ConsoleStack, startConsoleStack } from './console-stack';

jest.setTimeout(180_000);

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

it('a token revoked during the session returns to sign-in with words, and signing in again returns to the screen', async () => {
  const { createApiToken } = await cp.ok<{ createApiToken: { token: string; apiToken: { id: string } } }>(
    'mutation { createApiToken(input: {name: "soon revoked"}) { token apiToken { id } } }', {}, tenant.tokens.developer,
  );
  const tab = await browser.open(origin);
  const { page } = tab;
  await tab.signIn(createApiToken.token);
  await page.goto(`${origin}/console#/marketplace/${serviceId}`);
  await page.getByLabel('Connection name').waitFor();
  const db = new Client({ connectionString: cp.databaseUrl });
  await db.connect();
  try {
    await db.query('UPDATE api_tokens SET revoked_at = now() WHERE id = $1', [createApiToken.apiToken.id]);
  } finally {
    await db.end();
  }
  await page.getByLabel('Connection name').fill('after-revocation');
  await page.getByRole('button', { name: 'Create connection' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByRole('alert').getByText('Your session ended').waitFor();
  expect(await page.evaluate<string | null>("sessionStorage.getItem('tokengate.console.token')")).toBeNull();
  expect(await page.evaluate<string | undefined>('document.activeElement?.getAttribute("type")')).toBe('password');
  expect(await tab.axe()).toEqual([]);
  await tab.screenshot('audit-session-ended');
  await page.getByLabel('API token').fill(tenant.tokens.developer);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Support Assistant', level: 1 }).waitFor();
  expect(tab.pageErrors).toEqual([]);
});

it('a budget shows every maximum it sets, not "unlimited total tokens" when only the prompt is limited', async () => {
  const tab = await browser.open(origin);
  const { page } = tab;
  await tab.signIn(tenant.tokens.developer);
  await page.goto(`${origin}/console#/marketplace/${serviceId}`);
  const production = page.locator('tr[data-environment="production"]');
  await production.getByText('2,000 prompt tokens per minute').waitFor();
  expect(await production.textContent()).not.toContain('unlimited');
  await tab.screenshot('audit-budget-dimensions');
  const engineer = await browser.open(origin);
  await engineer.signIn(tenant.tokens.engineer);
  await engineer.page.goto(`${origin}/console#/services/${serviceId}`);
  await engineer.page.locator('section.environment[data-environment="production"] .security-state', { hasText: 'Budget: 2,000 prompt tokens per minute.' }).waitFor();
});

it('keeps the keyboard focus on the screen: headings of screens that load, saves, replaced keys, dismissed keys and deleted rows', async () => {
  const focused = (page: import('playwright-core').Page) => page.evaluate<string>('(document.activeElement?.tagName ?? "") + " " + (document.activeElement?.textContent ?? "").slice(0, 60)');
  const engineer = await browser.open(origin);
  let { page } = engineer;
  await engineer.signIn(tenant.tokens.engineer);
  await page.getByRole('link', { name: 'GenAI services' }).click();
  await page.getByRole('link', { name: 'Support Assistant' }).click();
  await page.getByRole('heading', { name: 'Support Assistant', level: 1 }).waitFor();
  await waitUntil(async () => (await focused(page)) === 'H1 Support Assistant');
  const production = page.locator('section.environment[data-environment="production"]');
  await production.getByRole('button', { name: 'Replace key' }).press('Enter');
  await waitUntil(async () => (await page.evaluate<string | null>('document.activeElement?.getAttribute("name")')) === 'production-apiKey');
  await production.getByRole('button', { name: 'Save production' }).press('Enter');
  await waitUntil(async () => (await focused(page)) === 'P Saved; rolling out to the proxies.');
  await page.getByRole('button', { name: 'Save details' }).press('Enter');
  await waitUntil(async () => (await focused(page)) === 'P Details saved.');

  const developer = await browser.open(origin);
  ({ page } = developer);
  await developer.signIn(tenant.tokens.developer);
  await page.getByRole('link', { name: 'Support Assistant' }).click();
  await waitUntil(async () => (await focused(page)) === 'H1 Support Assistant');
  for (const name of ['focus-a', 'focus-b']) {
    await page.getByLabel('Connection name').fill(name);
    await page.getByRole('button', { name: 'Create connection' }).click();
    await page.locator('[data-issued-keys]').first().waitFor();
    await page.getByRole('button', { name: 'I have copied the keys' }).press('Enter');
    await waitUntil(async () => (await focused(page)) === 'H1 Support Assistant');
  }
  await page.getByRole('link', { name: 'Connections' }).click();
  await page.getByRole('button', { name: 'Delete connection focus-a' }).press('Enter');
  await page.getByRole('alertdialog').getByRole('button', { name: 'Delete connection' }).press('Enter');
  await page.locator('tr[data-connection="focus-a"]').waitFor({ state: 'detached' });
  await waitUntil(async () => (await page.evaluate<string | null>('document.activeElement?.getAttribute("aria-label")')) === 'Delete connection focus-b');
  expect(engineer.pageErrors).toEqual([]);
  expect(developer.pageErrors).toEqual([]);
});

it('a developer who opens a management address is told their role does not allow it, not shown forms that fail on save', async () => {
  const tab = await browser.open(origin);
  const { page } = tab;
  await tab.signIn(tenant.tokens.developer);
  for (const hash of ['#/services', '#/services/new', `#/services/${serviceId}`]) {
    await page.goto(`${origin}/console${hash}`);
    await page.getByRole('alert').getByText('Your role does not allow this').waitFor();
    expect(await page.locator('main form, main button').count()).toBe(0);
  }
  await page.getByRole('link', { name: 'See this service in the marketplace' }).click();
  await page.getByRole('heading', { name: 'Support Assistant', level: 1 }).waitFor();
  expect(await tab.axe()).toEqual([]);
});

it('at 390 px table cells wrap between words, wide tables scroll in their own box, and the page never scrolls sideways', async () => {
  const tab = await browser.open(origin, { width: 390, height: 844 });
  const { page } = tab;
  await tab.signIn(tenant.tokens.engineer);
  for (const hash of ['#/services', `#/marketplace/${serviceId}`, '#/connections']) {
    await page.goto(`${origin}/console${hash}`);
    await page.locator('main table').first().waitFor();
    // No word of a header or badge broken across lines ("Deploy|ed", "Enviro|nment").
    // Run in the page (a string: this file is compiled without the DOM's types).
    const broken = await page.evaluate<string[]>(`[...document.querySelectorAll('main thead th, main .badge')].flatMap((cell) => {
      const words = [];
      const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        for (const match of (node.textContent ?? '').matchAll(/\\S+/g)) {
          const range = document.createRange();
          range.setStart(node, match.index);
          range.setEnd(node, match.index + match[0].length);
          if (new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size > 1) words.push(match[0]);
        }
      }
      return words;
    })`);
    expect({ hash, broken }).toEqual({ hash, broken: [] });
    expect({ hash, sideways: await tab.scrollsSideways() }).toEqual({ hash, sideways: false });
    expect({ hash, violations: await tab.axe() }).toEqual({ hash, violations: [] });
  }
  await tab.screenshot('audit-390-connections');
});

it('the wizard drops a refusal once the user has corrected the field and moves on', async () => {
  const tab = await browser.open(origin);
  const { page } = tab;
  await tab.signIn(tenant.tokens.engineer);
  await page.goto(`${origin}/console#/services/new`);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel('Name').fill('Wizard');
  await page.getByLabel('Context path').fill('/support');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Register service' }).click();
  await page.getByRole('alert').getByText('This clashes with what exists').waitFor();
  await page.getByLabel('Context path').fill('/wizard');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('heading', { name: 'Step 3 of 3: Environments' }).waitFor();
  expect(await page.getByRole('alert').count()).toBe(0);
  await page.getByRole('button', { name: 'Register service' }).click();
  await page.getByRole('heading', { name: 'Wizard', level: 1 }).waitFor();
});

async function waitUntil(check: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${check.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
