// The developer journey of the console against a whole gateway (control plane with its rollout worker, a
// production proxy, wire-exact fake providers): find a service, connect, copy the key, call the proxy
// with it, see usage, rotate and delete; a duplicate name keeps the keys; a 390 px run; axe on each screen.
import type { Gateway } from '../support/gateway-harness';
import { waitFor } from '../support/wait';
import { type ConsoleBrowser, type ConsolePage, expectClean, startConsoleJourney, stopConsoleJourney } from './console-browser';

jest.setTimeout(240_000);

let gw: Gateway;
let origin: string;
let browser: ConsoleBrowser;

beforeAll(async () => ({ gw, origin, browser } = await startConsoleJourney()));
afterAll(() => stopConsoleJourney({ gw, browser }));


describe('developer', () => {
  let tab: ConsolePage;
  let key = '';
  beforeAll(async () => {
    tab = await browser.open(origin);
    await tab.signIn(gw.tenant.tokens.developer);
  });

  it('finds a service by provider, label and words', async () => {
    const { page } = tab;
    await page.getByRole('heading', { name: 'Marketplace', level: 1 }).waitFor();
    await page.locator('#result-count', { hasText: '6 services' }).waitFor();
    await page.locator('#provider').selectOption('ANTHROPIC');
    await page.locator('#result-count', { hasText: '1 service' }).waitFor();
    await page.getByRole('link', { name: 'Claude' }).waitFor();
    await page.locator('#provider').selectOption('');
    await page.locator('#scope').selectOption('PROJECT');
    await page.locator('#result-count', { hasText: '0 services' }).waitFor();
    await page.locator('#scope').selectOption('');
    await page.getByLabel('Search').fill('OpenAI');
    await page.locator('#result-count', { hasText: /^1 service$/ }).waitFor();
    await expectClean(tab, 'developer-marketplace');
  });

  it('connects: keys shown once, focused, copyable, kept through a duplicate-name error', async () => {
    const { page } = tab;
    await page.getByRole('link', { name: 'OpenAI' }).click();
    await page.getByRole('heading', { name: 'OpenAI', level: 1 }).waitFor();
    await page.getByLabel('Connection name').fill('browser-app');
    await page.getByRole('button', { name: 'Create connection' }).click();
    const panel = page.locator('[data-issued-keys]');
    await panel.waitFor();
    expect(await page.evaluate<string | undefined>('document.activeElement?.id')).toBe('issued-keys-title');
    key = (await panel.locator('[data-environment="production"] code.api-key').textContent())!;
    expect(key).toMatch(/^tgk_/);
    await panel.getByRole('button', { name: 'Copy the production key' }).click();
    await panel.getByText('Copied').first().waitFor();
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(key);
    await panel.locator('.snippet[data-environment="production"] summary').click();
    await panel.locator('.snippet[data-environment="production"] pre').waitFor();
    await expectClean(tab, 'developer-connect-keys');

    // The same name again: refused, the name field highlighted, and the keys still there.
    await page.getByLabel('Connection name').fill('browser-app');
    await page.getByRole('button', { name: 'Create connection' }).click();
    await page.getByRole('alert').getByText('This clashes with what exists').waitFor();
    await page.locator('[data-field="name"][data-invalid]').waitFor();
    expect(await panel.locator('[data-environment="production"] code.api-key').textContent()).toBe(key);
    await tab.screenshot('developer-duplicate-name');
  });

  it('calls the proxy with the key and sees the usage and the remaining budget', async () => {
    await gw.settle();
    expect(key).toMatch(/^tgk_/);
    const response = await fetch(`${gw.proxy.url}/acme/openai/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] }),
    });
    expect(response.status).toBe(200);
    const { page } = tab;
    await page.getByRole('link', { name: 'Open connection browser-app' }).click();
    await page.getByRole('heading', { name: 'browser-app', level: 1 }).waitFor();
    // Leaving the service screen dropped the keys.
    expect(await page.content()).not.toContain(key);
    await waitFor(async () => {
      await page.reload();
      await page.getByRole('heading', { name: 'browser-app', level: 1 }).waitFor();
      return page.locator('.chart figcaption').isVisible();
    }, 'the request to show in the usage chart', 60_000);
    expect(await page.locator('.chart figcaption').textContent()).toMatch(/[1-9][\d,]* tokens in total/);
    await expectClean(tab, 'developer-connection');
  });

  it('rotates a key (the new one shown once) and deletes the connection after a confirmation', async () => {
    const { page } = tab;
    await page.getByRole('button', { name: 'Rotate production key' }).click();
    const dialog = page.getByRole('alertdialog');
    // Without downtime: the current key keeps working for an hour beside the new one.
    await dialog.getByLabel('The current key keeps working').selectOption({ label: 'For 1 hour' });
    await dialog.getByText('Both keys work meanwhile').waitFor();
    await dialog.getByRole('button', { name: 'Rotate key' }).click();
    const panel = page.locator('[data-issued-keys]');
    await panel.waitFor();
    const rotated = (await panel.locator('code.api-key').textContent())!;
    expect(rotated).toMatch(/^tgk_/);
    expect(rotated).not.toBe(key);
    const production = page.locator('section.card[data-environment="production"]');
    await production.getByText('Previous key').waitFor();
    expect(await production.textContent()).toContain(`Previous key${key.slice(0, 12)}… keeps working until`);
    await page.getByRole('link', { name: '← Connections' }).click();
    await page.getByRole('heading', { name: 'Connections', level: 1 }).waitFor();
    expect(await page.content()).not.toContain(rotated);
    await expectClean(tab, 'developer-connections');
    await page.getByRole('button', { name: 'Delete connection browser-app' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Delete connection' }).click();
    await page.locator('tr[data-connection="browser-app"]').waitFor({ state: 'detached' });
  });

  it('fits a 390 px screen without sideways scrolling', async () => {
    const narrow = await browser.open(origin, { width: 390, height: 844 });
    await narrow.signIn(gw.tenant.tokens.developer);
    const { page } = narrow;
    for (const [hash, heading] of [['#/marketplace', 'Marketplace'], [`#/marketplace/${gw.services.openai.id}`, 'OpenAI'], ['#/connections', 'Connections'], [`#/connections/${gw.services.openai.connectionId}`, 'openai-app']]) {
      await page.evaluate(`location.hash = '${hash}'`);
      await page.getByRole('heading', { name: heading, level: 1 }).or(page.getByRole('alert')).first().waitFor();
      expect({ hash, alerts: await page.getByRole('alert').allTextContents() }).toEqual({ hash, alerts: [] });
      await page.locator('[role="status"]:has-text("Loading")').waitFor({ state: 'detached' });
      expect({ hash, sideways: await narrow.scrollsSideways() }).toEqual({ hash, sideways: false });
      await narrow.screenshot(`narrow-${heading.toLowerCase()}`);
    }
    expect(await narrow.axe()).toEqual([]);
  });
});
