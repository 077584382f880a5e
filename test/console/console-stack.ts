// The stack most console tests sign in to: a control plane with the two environments, organization
// `acme` with a user per role, one OpenAI service ("Support Assistant" at /support) with a prompt budget
// in production, and a Chromium.
import { seedEnvironments, seedTenant, startTestControlPlane, type Tenant, type TestControlPlane } from '../support/control-plane-harness';
import { type ConsoleBrowser, launchConsoleBrowser } from './console-browser';

export interface ConsoleStack {
  cp: TestControlPlane;
  tenant: Tenant;
  /** The control plane's origin, where the console is served under /console. */
  origin: string;
  browser: ConsoleBrowser;
  serviceId: string;
  stop(): Promise<void>;
}

export async function startConsoleStack(): Promise<ConsoleStack> {
  const cp = await startTestControlPlane();
  await seedEnvironments(cp);
  const tenant = await seedTenant(cp, 'acme');
  const { registerGenAIService } = await cp.ok<{ registerGenAIService: { id: string } }>('mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id } }', {
    i: {
      organizationId: tenant.organizationId, scope: 'ORGANIZATION', provider: 'OPENAI', name: 'Support Assistant', contextPath: '/support',
      serviceUrl: 'https://api.openai.com/v1', labels: ['chat'],
      environments: [{ environment: 'production', backendSecurity: { value: 'sk-console-test-secret-9f3a' }, rateLimit: { timeUnit: 'MINUTE', maxPromptTokens: 2000 } }],
    },
  }, tenant.tokens.engineer);
  const browser = await launchConsoleBrowser();
  return {
    cp, tenant, browser, origin: new URL(cp.graphqlUrl).origin, serviceId: registerGenAIService.id,
    async stop() {
      await browser.close();
      await cp.stop();
    },
  };
}
