// Defects of the console's forms, chart and navigation found by a second audit, each pinned in the
// browser: limits checked before sending, budgets without a maximum, empty usage periods, stale
// errors, Enter on an empty required field, the wizard's focus, unknown addresses, credential hints.
import {
  MAX_CONNECTION_DESCRIPTION_LENGTH, MAX_DESCRIPTION_LENGTH, MAX_LABEL_LENGTH, MAX_NAME_LENGTH, MAX_SUMMARY_LENGTH, MAX_URL_LENGTH,
} from '../../control-plane/src/common/validation';
import { MAX_API_VERSION_LENGTH, MAX_AWS_REGION_LENGTH, MAX_HEADER_NAME_LENGTH, MAX_SECRET_LENGTH } from '../../control-plane/src/genai-service/backend-security';
import { MAX_SEARCH_LENGTH } from '../../control-plane/src/marketplace/marketplace.service';
import { LIMITS } from '../../console/src/ui/limits';
import { seedEnvironments, seedTenant, startTestControlPlane, type Tenant, type TestControlPlane } from '../support/control-plane-harness';
import { type ConsoleBrowser, type ConsolePage, launchConsoleBrowser } from './console-browser';

jest.setTimeout(180_000);

const REGISTER = 'mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id } }';

let cp: TestControlPlane;
let tenant: Tenant;
let origin: string;
let browser: ConsoleBrowser;
let serviceId: string;

beforeAll(async () => {
  cp = await startTestControlPlane();
  await seedEnvironments(cp);
  tenant = await seedTenant(cp, 'acme');
  origin = new URL(cp.graphqlUrl).origin;
  ({ registerGenAIService: { id: serviceId } } = await cp.ok<{ registerGenAIService: { id: string } }>(REGISTER, {
    i: {
      organizationId: tenant.organizationId, scope: 'ORGANIZATION', provider: 'OPENAI', name: 'Support Assistant', contextPath: '/support',
      serviceUrl: 'https://api.openai.com/v1', labels: ['chat'],
      environments: [{ environment: 'production', backendSecurity: { value: 'sk-console-test-secret-9f3a' }, rateLimit: { timeUnit: 'MINUTE', maxPromptTokens: 2000 } }],
    },
  }, tenant.tokens.engineer));
  browser = await launchConsoleBrowser();
});

afterAll(async () => {
  await browser?.close();
  await cp?.stop();
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
