// The platform engineer journey of the console against a whole gateway (control plane with its rollout worker, a
// production proxy, wire-exact fake providers): a platform engineer registers a service per provider
// through the wizard, edits one, watches it deploy and removes it; a developer finds a service,
// connects, copies the key, calls the proxy with it, sees usage, rotates and deletes. Plus the
// failure paths that touch them, a 390 px run and an axe scan of each screen.
import type { Gateway } from '../support/gateway-harness';
import { waitFor } from '../support/wait';
import { type ConsoleBrowser, type ConsolePage, expectClean, startConsoleJourney, stopConsoleJourney } from './console-browser';

jest.setTimeout(240_000);

let gw: Gateway;
let origin: string;
let browser: ConsoleBrowser;

beforeAll(async () => ({ gw, origin, browser } = await startConsoleJourney()));
afterAll(() => stopConsoleJourney({ gw, browser }));


describe('platform engineer', () => {
  let tab: ConsolePage;
  beforeAll(async () => {
    tab = await browser.open(origin);
    await tab.signIn(gw.tenant.tokens.engineer);
  });

  const providers: Array<{ label: string; name: string; path: string; fill(page: ConsolePage['page']): Promise<void> }> = [
    { label: 'OpenAI', name: 'Wizard OpenAI', path: '/w-openai', fill: async (page) => { await page.getByLabel('OpenAI API key').fill('sk-wizard-openai-000111'); } },
    { label: 'Azure OpenAI', name: 'Wizard Azure', path: '/w-azure', fill: async (page) => { await page.getByLabel('Azure OpenAI key').fill('azure-wizard-key-000111'); } },
    { label: 'Anthropic', name: 'Wizard Claude', path: '/w-claude', fill: async (page) => { await page.getByLabel('Anthropic API key').fill('sk-ant-wizard-000111'); } },
    { label: 'Mistral', name: 'Wizard Mistral', path: '/w-mistral', fill: async (page) => { await page.getByLabel('Mistral API key').fill('mistral-wizard-000111'); } },
    {
      label: 'AWS Bedrock', name: 'Wizard Bedrock', path: '/w-bedrock', fill: async (page) => {
        await page.getByLabel('Access key id').fill('AKIDWIZARDEXAMPLE');
        await page.getByLabel('Secret access key').fill('wizard/secret/access/key/0001');
      },
    },
  ];

  it('registers one service per provider through the wizard and watches it deploy', async () => {
    const { page } = tab;
    await page.getByRole('link', { name: 'GenAI services' }).click();
    await page.getByRole('heading', { name: 'GenAI services', level: 1 }).waitFor();
    await page.locator('#organization-services tr[data-service="OpenAI"]').waitFor();
    await expectClean(tab, 'engineer-services');
    for (const [index, p] of providers.entries()) {
      await page.evaluate("location.hash = '#/services/new'");
      await page.getByRole('heading', { name: 'Step 1 of 3: Provider' }).waitFor();
      await page.locator('label.radio', { hasText: new RegExp(`^${p.label}$`) }).click();
      await page.getByLabel('Service URL', { exact: false }).first().fill(`${gw.fakes.openai.url}/v1`);
      if (p.label === 'Azure OpenAI') await page.getByLabel('API version').fill('2024-10-21');
      if (index === 0) await expectClean(tab, 'engineer-wizard-provider');
      await page.getByRole('button', { name: 'Next' }).click();
      await page.getByRole('heading', { name: 'Step 2 of 3: Details' }).waitFor();
      await page.getByLabel('Name', { exact: true }).fill(p.name);
      // Checked as typed: an upper-case path with a space is refused before any request.
      await page.getByLabel('Context path').fill('/Bad Path');
      await page.locator('[data-field="contextPath"][data-invalid]').waitFor();
      await page.getByLabel('Context path').fill(p.path);
      await page.locator('[data-field="contextPath"]:not([data-invalid])').waitFor();
      await page.getByLabel('Labels').fill('wizard, e2e');
      if (index === 0) await expectClean(tab, 'engineer-wizard-details');
      await page.getByRole('button', { name: 'Next' }).click();
      await page.getByRole('heading', { name: 'Step 3 of 3: Environments' }).waitFor();
      const development = page.locator('fieldset.environment[data-environment="development"]');
      await development.locator('label.checkbox', { hasText: 'Configure development now' }).click();
      await p.fill(page);
      const production = page.locator('fieldset.environment[data-environment="production"]');
      await production.locator('label.checkbox', { hasText: 'Limit tokens' }).click();
      await production.locator('[data-budget="production-limit"]').getByLabel('Max total tokens').fill('50000');
      if (index === 0) await expectClean(tab, 'engineer-wizard-environments');
      await page.getByRole('button', { name: 'Register service' }).click();
      await page.getByRole('heading', { name: p.name, level: 1 }).waitFor();
      await page.locator('#deployments [data-environment="production"][data-status="DEPLOYED"]').waitFor({ timeout: 60_000 });
    }
    await page.locator('#live-status', { hasText: 'Live' }).waitFor();
    await expectClean(tab, 'engineer-service');
  });

  it('refuses a context path already in use, on the field, and keeps the wizard filled', async () => {
    const { page } = tab;
    await page.evaluate("location.hash = '#/services/new'");
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Twice');
    await page.getByLabel('Context path').fill('/w-openai');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.locator('label.checkbox', { hasText: 'Configure development now' }).click();
    await page.locator('label.checkbox', { hasText: 'Configure production now' }).click();
    await page.getByRole('button', { name: 'Register service' }).click();
    await page.getByRole('heading', { name: 'Step 2 of 3: Details' }).waitFor();
    await page.locator('[data-field="contextPath"][data-invalid]').getByText('already').waitFor();
    expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('Twice');
  });

  it('edits the details and an environment (key replaced, write-only), live, then removes the service', async () => {
    const { page } = tab;
    await page.evaluate("location.hash = '#/services'");
    await page.getByRole('link', { name: 'Wizard OpenAI' }).click();
    await page.getByRole('heading', { name: 'Wizard OpenAI', level: 1 }).waitFor();
    await page.getByLabel('Summary').fill('Edited in the browser');
    await page.getByRole('button', { name: 'Save details' }).click();
    await page.getByText('Details saved.').waitFor();
    const production = page.locator('section.environment[data-environment="production"]');
    await production.getByRole('button', { name: 'Replace key' }).click();
    await production.getByLabel('OpenAI API key').fill('sk-wizard-openai-replaced-9999');
    await production.locator('[data-budget="production-limit"]').getByLabel('Max total tokens').fill('60000');
    await production.getByRole('button', { name: 'Save production' }).click();
    await page.locator('section.environment[data-environment="production"] .security-state', { hasText: '9999' }).waitFor();
    await page.locator('section.environment[data-environment="production"] .security-state', { hasText: '60,000' }).waitFor();
    await page.locator('#deployments [data-environment="production"][data-status="DEPLOYED"]').waitFor({ timeout: 60_000 });
    expect(await page.content()).not.toContain('sk-wizard-openai-replaced');

    await page.getByRole('button', { name: 'Remove from marketplace' }).click();
    const dialog = page.getByRole('alertdialog');
    await dialog.getByText('Existing connections keep working').waitFor();
    await expectClean(tab, 'engineer-remove-confirmation');
    await dialog.getByRole('button', { name: 'Remove from marketplace' }).click();
    await page.locator('#marketplace-status', { hasText: 'Removed from the marketplace' }).waitFor();
  });

  it('a developer with the service open learns it was removed when connecting', async () => {
    const developer = await browser.open(origin);
    await developer.signIn(gw.tenant.tokens.developer);
    const { page } = developer;
    await page.evaluate(`location.hash = '#/marketplace/${gw.services.mistral.id}'`);
    await page.getByRole('heading', { name: 'Mistral', level: 1 }).waitFor();
    await gw.cp.ok('mutation($s: ID!) { removeFromMarketplace(serviceId: $s) { id } }', { s: gw.services.mistral.id }, gw.tenant.tokens.engineer);
    await page.getByLabel('Connection name').fill('too-late');
    await page.getByRole('button', { name: 'Create connection' }).click();
    // The refusal reloads the service, which now says why nothing can be connected.
    await page.getByText('new connections are refused').waitFor();
    await developer.screenshot('developer-service-removed');
  });

  it('sees who used a service: its usage stacked by connection, each named', async () => {
    // A connection of the organization's other project: not the one the console has selected.
    const { createConnection } = await gw.cp.ok<{ createConnection: { keys: Array<{ environment: string; apiKey: string }> } }>(
      'mutation($i: CreateConnectionInput!) { createConnection(input: $i) { keys { environment apiKey } } }',
      { i: { projectId: gw.tenant.otherProjectId, serviceId: gw.services.openai.id, name: 'batch-reports' } },
      gw.tenant.tokens.developer,
    );
    await gw.settle();
    const response = await fetch(`${gw.services.openai.endpoint}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${createConnection.keys.find((k) => k.environment === 'production')!.apiKey}` },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] }),
    });
    expect(response.status).toBe(200);
    const { page } = tab;
    await page.locator('#project').selectOption(gw.tenant.projectId);
    await page.evaluate(`location.hash = '#/services/${gw.services.openai.id}'`);
    const chart = page.locator('#usage svg[role="img"]');
    await waitFor(async () => {
      await page.reload();
      await page.getByRole('heading', { name: 'OpenAI', level: 1 }).waitFor();
      await page.locator('#usage label.radio', { hasText: /^Connection$/ }).click();
      await page.locator('#usage .chart, #usage .empty-chart').first().waitFor();
      // The chart may show earlier tests' usage before this request's is reported: wait for its row.
      return (await chart.count()) > 0 && ((await chart.getAttribute('aria-label')) ?? '').includes('batch-reports');
    }, 'the request to show in the service usage chart', 60_000);
    // Named, though it belongs to a project other than the one selected.
    expect(await chart.getAttribute('aria-label')).toMatch(/stacked by Connection: batch-reports [1-9]/);
    await expectClean(tab, 'engineer-service-usage');
  });

  it('broke no policy and called nothing but the control plane', () => {
    expect(tab.pageErrors).toEqual([]);
    expect(tab.requests.filter((url) => !url.startsWith(`${origin}/`))).toEqual([]);
  });
});
