// `tokengate apply` and friends against a real control plane, through its GraphQL API only: called
// in-process (to read the CLI's own report) and as the compiled `tokengate` process (exit codes).
// What a run changed is proven twice: by the mutations the CLI sent and by the audit log.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { type ApplyReport, type CommandOutput, runApply } from '../../cli/apply/apply';
import { runAutomationCommand } from '../../cli/apply/commands';
import { loadDeclarativeFile } from '../../cli/apply/declarative-file';
import { REPO_ROOT, runCli } from '../support/processes';
import { seedEnvironments, seedTenant, startTestControlPlane, type Tenant, type TestControlPlane } from '../support/control-plane-harness';

interface Captured {
  output: CommandOutput;
  text(): string;
}

function capture(): Captured {
  const lines: string[] = [];
  return { output: { out: (line) => lines.push(line), err: (line) => lines.push(line) }, text: () => lines.join('\n') };
}

function occurrences(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

// Provider secrets of the tests (long enough for the API's "…last4" hint).
const OPENAI_DEV_KEY = `sk-dev-${randomBytes(12).toString('hex')}dev1`;
const OPENAI_PROD_KEY = `sk-prod-${randomBytes(12).toString('hex')}prd1`;
const ANTHROPIC_KEY = `sk-ant-${randomBytes(12).toString('hex')}ant1`;
/** The production key after the rotation test (the file then names OPENAI_PROD_KEY_2). */
const ROTATED_PROD_KEY = `sk-prod-${randomBytes(12).toString('hex')}prd2`;

interface AuditEvent {
  action: string;
  targetId: string;
  details: Record<string, unknown>;
}

interface ServiceView {
  id: string;
  contextPath: string;
  provider: string;
  name: string;
  scope: string;
  projectId: string | null;
  summary: string;
  labels: string[];
  marketplaceStatus: string;
  environmentConfigs: Array<{
    environment: string;
    serviceUrl: string | null;
    rateLimit: { timeUnit: string; maxPromptTokens: number | null; maxTotalTokens: number | null; enforce: boolean } | null;
    connectionQuota: { timeUnit: string; maxTotalTokens: number | null; enforce: boolean } | null;
    streamCutoff: boolean;
    backendSecurity: { configured: boolean; hint: string | null; headerName: string; apiVersion: string | null };
  }>;
}

describe('tokengate apply / get / remove / connect', () => {
  let cp: TestControlPlane;
  let tenant: Tenant;
  const dir = mkdtempSync(join(tmpdir(), 'tokengate-apply-'));
  const handle = `apply-${randomBytes(3).toString('hex')}`;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    cp = await startTestControlPlane();
    await seedEnvironments(cp);
    tenant = await seedTenant(cp, handle);
    env = {
      TOKENGATE_URL: cp.graphqlUrl,
      TOKENGATE_TOKEN: tenant.tokens.engineer,
      OPENAI_DEV_KEY,
      OPENAI_PROD_KEY,
      ANTHROPIC_KEY,
      OPENAI_PROD_KEY_2: ROTATED_PROD_KEY,
    };
  });

  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await cp?.stop();
  });

  function fileWith(name: string, content: string): string {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  }

  /** The declarative file the tests evolve: two services (one per scope) and a connection. */
  function manifest(
    overrides: { prodTotal?: number; openaiMarketplace?: 'PUBLISHED' | 'REMOVED'; prodKeyVariable?: string; quota?: string; cutoff?: boolean; devEnforce?: boolean } = {},
  ): string {
    return `
version: 1
organization: ${handle}
services:
  - contextPath: /openai
    provider: OPENAI
    name: OpenAI GPT
    serviceUrl: https://api.openai.com/v1/
    summary: Chat models
    description: GPT for every project
    labels: [chat, gpt]
${overrides.openaiMarketplace ? `    marketplace: ${overrides.openaiMarketplace}\n` : ''}    environments:
      development:
        backendSecurity:
          value: \${OPENAI_DEV_KEY}
        rateLimit: { timeUnit: MINUTE, maxTotalTokens: 20000, enforce: ${overrides.devEnforce ?? false} }
      production:
        backendSecurity:
          value: \${${overrides.prodKeyVariable ?? 'OPENAI_PROD_KEY'}}
        rateLimit:
          timeUnit: MINUTE
          maxPromptTokens: 80000
          maxTotalTokens: ${overrides.prodTotal ?? 100000}
        connectionQuota: ${overrides.quota ?? '{ timeUnit: HOUR, maxTotalTokens: 5000 }'}
        streamCutoff: ${overrides.cutoff ?? true}
        serviceUrl: https://eu.api.openai.com/v1
  - contextPath: /Claude
    provider: ANTHROPIC
    name: Claude for web
    serviceUrl: https://api.anthropic.com
    scope: PROJECT
    project: web
    environments:
      production:
        backendSecurity:
          value: \${ANTHROPIC_KEY}
          apiVersion: "2023-06-01"
connections:
  - project: web
    service: /openai
    name: web-frontend
    description: chat in the web app
`;
  }

  async function auditEvents(): Promise<AuditEvent[]> {
    const { auditEvents } = await cp.ok<{ auditEvents: AuditEvent[] }>(
      `query($o: ID!) { auditEvents(organizationId: $o, limit: 500) { action targetId details } }`,
      { o: tenant.organizationId },
      tenant.tokens.admin,
    );
    return auditEvents;
  }

  async function services(): Promise<ServiceView[]> {
    const { genAIServices } = await cp.ok<{ genAIServices: ServiceView[] }>(
      `query($o: ID!) { genAIServices(organizationId: $o) { id contextPath provider name scope projectId summary labels marketplaceStatus
        environmentConfigs { environment serviceUrl rateLimit { timeUnit maxPromptTokens maxTotalTokens enforce } connectionQuota { timeUnit maxTotalTokens enforce } streamCutoff
          backendSecurity { configured hint headerName apiVersion } } } }`,
      { o: tenant.organizationId },
    );
    return genAIServices;
  }

  async function apply(path: string, extra: string[] = [], overrideEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number; text: string }> {
    const captured = capture();
    const code = await runAutomationCommand(['apply', '-f', path, ...extra], captured.output, { ...env, ...overrideEnv });
    return { code, text: captured.text() };
  }

  async function applyReport(path: string, options: { rotateSecrets?: boolean; dryRun?: boolean; token?: string } = {}): Promise<{ report: ApplyReport; text: string }> {
    const captured = capture();
    const report = await runApply({ file: path, url: cp.graphqlUrl, token: options.token ?? tenant.tokens.engineer, env, rotateSecrets: options.rotateSecrets, dryRun: options.dryRun }, captured.output);
    return { report, text: captured.text() };
  }

  it('validates the example file of cli/apply', () => {
    const file = loadDeclarativeFile(join(REPO_ROOT, 'cli/apply/example.tokengate.yaml'), {
      OPENAI_API_KEY_DEV: 'sk-dev-0000000000000',
      OPENAI_API_KEY: 'sk-prod-000000000000',
      ANTHROPIC_API_KEY: 'sk-ant-0000000000000',
      AZURE_OPENAI_KEY: 'azure-00000000000000',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLETESTKEY01',
      AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    });
    expect(file.services.map((s) => s.contextPath)).toEqual(['/openai', '/claude', '/azure-gpt', '/bedrock', '/mistral-legacy']);
    expect(file.connections.map((c) => `${c.project}/${c.name}`)).toEqual(['web/web-frontend', 'web/web-summaries']);
    expect(file.services[0].environments).toEqual([
      expect.objectContaining({ handle: 'development', rateLimit: { timeUnit: 'MINUTE', maxPromptTokens: null, maxCompletionTokens: null, maxTotalTokens: 20000, enforce: false } }),
      expect.objectContaining({ handle: 'production', connectionQuota: { timeUnit: 'MINUTE', maxPromptTokens: null, maxCompletionTokens: null, maxTotalTokens: 20000, enforce: true }, streamCutoff: true }),
    ]);
  });

  it('dry run: prints the plan and sends nothing', async () => {
    const before = await auditEvents();
    const { report, text } = await applyReport(fileWith('dry.yaml', manifest()), { dryRun: true });
    expect(report.exitCode).toBe(0);
    expect(report.mutations).toEqual([]);
    expect(text).toMatch(/\+ service \/openai\s+create/);
    expect(text).toMatch(/\+ service \/claude\s+create/);
    expect(text).toMatch(/\+ connection web\/web-frontend\s+create/);
    expect(text).toContain('dry run: 3 mutations planned, nothing sent');
    expect(await auditEvents()).toEqual(before);
  });

  it('creates the services and the connection, prints the keys once and never a secret; a second apply sends no mutation', async () => {
    const path = fileWith('acme.yaml', manifest());
    const first = await applyReport(path);
    expect(first.report.exitCode).toBe(0);
    expect(first.report.mutations).toEqual([
      { name: 'registerGenAIService', target: '/openai' },
      { name: 'registerGenAIService', target: '/claude' },
      { name: 'createConnection', target: 'web/web-frontend' },
    ]);
    // One key per environment, each printed exactly once.
    expect(first.report.issuedKeys.map((k) => k.environment)).toEqual(['development', 'production']);
    for (const key of first.report.issuedKeys) {
      expect(key.apiKey).toMatch(/^tgk_/);
      expect(occurrences(first.text, key.apiKey)).toBe(1);
      expect(key.endpointUrl).toMatch(new RegExp(`/${handle}/openai$`));
    }
    for (const secret of [OPENAI_DEV_KEY, OPENAI_PROD_KEY, ANTHROPIC_KEY]) {
      expect(first.text).not.toContain(secret);
      expect(first.text).not.toContain(secret.slice(-4));
      expect(cp.logLines.join('\n')).not.toContain(secret);
    }

    const [claude, openai] = await services(); // ordered by name
    expect(openai).toMatchObject({ contextPath: '/openai', provider: 'OPENAI', scope: 'ORGANIZATION', summary: 'Chat models', labels: ['chat', 'gpt'], marketplaceStatus: 'PUBLISHED' });
    expect(openai.environmentConfigs).toEqual([
      {
        environment: 'development', serviceUrl: null, rateLimit: { timeUnit: 'MINUTE', maxPromptTokens: null, maxTotalTokens: 20000, enforce: false }, connectionQuota: null, streamCutoff: false,
        backendSecurity: { configured: true, hint: `…${OPENAI_DEV_KEY.slice(-4)}`, headerName: 'Authorization', apiVersion: null },
      },
      {
        environment: 'production', serviceUrl: 'https://eu.api.openai.com/v1', rateLimit: { timeUnit: 'MINUTE', maxPromptTokens: 80000, maxTotalTokens: 100000, enforce: true },
        connectionQuota: { timeUnit: 'HOUR', maxTotalTokens: 5000, enforce: true }, streamCutoff: true,
        backendSecurity: { configured: true, hint: `…${OPENAI_PROD_KEY.slice(-4)}`, headerName: 'Authorization', apiVersion: null },
      },
    ]);
    expect(claude).toMatchObject({ contextPath: '/claude', scope: 'PROJECT', projectId: tenant.projectId });
    expect(claude.environmentConfigs.find((c) => c.environment === 'production')?.backendSecurity).toMatchObject({ configured: true, headerName: 'x-api-key', apiVersion: '2023-06-01' });

    const auditBefore = await auditEvents();
    const second = await applyReport(path);
    expect(second.report.exitCode).toBe(0);
    expect(second.report.mutations).toEqual([]);
    expect(second.report.issuedKeys).toEqual([]);
    expect(second.text).toMatch(/^no changes$/m);
    expect(second.text).toMatch(/= service \/openai\s+unchanged/);
    expect(second.text).toMatch(/= connection web\/web-frontend\s+unchanged/);
    for (const key of first.report.issuedKeys) expect(second.text).not.toContain(key.apiKey);
    expect(await auditEvents()).toEqual(auditBefore);

    // The same desired state written as JSON is just as settled.
    const json = fileWith('acme.json', JSON.stringify(parseYaml(manifest()) as unknown, null, 2));
    const third = await apply(json);
    expect(third).toMatchObject({ code: 0 });
    expect(third.text).toMatch(/^no changes$/m);
    expect(await auditEvents()).toEqual(auditBefore);
  });

  it('a changed rate limit in the file is exactly one configureServiceEnvironment, and then nothing', async () => {
    const path = fileWith('acme-limit.yaml', manifest({ prodTotal: 150000 }));
    const auditBefore = await auditEvents();
    const { report, text } = await applyReport(path);
    expect(report.exitCode).toBe(0);
    expect(report.mutations).toEqual([{ name: 'configureServiceEnvironment', target: '/openai production' }]);
    expect(text).toMatch(/~ service \/openai\s+update: production: rateLimit prompt 80000 total 100000 per MINUTE → prompt 80000 total 150000 per MINUTE/);
    const after = await auditEvents(); // newest first
    const added = after.slice(0, after.length - auditBefore.length);
    expect(added).toEqual([expect.objectContaining({ action: 'genAIService.configureEnvironment', details: expect.objectContaining({ environment: 'production', credentialsReplaced: false, backendSecurityChanged: false }) })]);
    const openai = (await services()).find((s) => s.contextPath === '/openai');
    expect(openai?.environmentConfigs.find((c) => c.environment === 'production')?.rateLimit).toEqual({ timeUnit: 'MINUTE', maxPromptTokens: 80000, maxTotalTokens: 150000, enforce: true });

    const again = await applyReport(path);
    expect(again.report.mutations).toEqual([]);
    expect(again.text).toMatch(/^no changes$/m);
  });

  it('a connection quota, the stream cut-off and shadow mode are managed like the rate limit: one configure per environment that differs, then nothing', async () => {
    const production = () => services().then((all) => all.find((s) => s.contextPath === '/openai')?.environmentConfigs.find((c) => c.environment === 'production'));
    const changed = fileWith('acme-quota.yaml', manifest({ prodTotal: 150000, quota: '{ timeUnit: HOUR, maxTotalTokens: 7000, enforce: false }', cutoff: false, devEnforce: true }));
    const auditBefore = await auditEvents();
    const { report, text } = await applyReport(changed);
    expect(report.mutations).toEqual([
      { name: 'configureServiceEnvironment', target: '/openai development' },
      { name: 'configureServiceEnvironment', target: '/openai production' },
    ]);
    expect(text).toContain('development: rateLimit total 20000 per MINUTE (shadow) → total 20000 per MINUTE');
    expect(text).toContain('production: connectionQuota total 5000 per HOUR → total 7000 per HOUR (shadow), streamCutoff on → off');
    expect(await production()).toMatchObject({ connectionQuota: { timeUnit: 'HOUR', maxTotalTokens: 7000, enforce: false }, streamCutoff: false });
    const added = (await auditEvents()).slice(0, 2);
    expect(added.map((e) => e.details)).toEqual(
      expect.arrayContaining([expect.objectContaining({ environment: 'production', connectionQuota: { timeUnit: 'HOUR', maxPromptTokens: null, maxCompletionTokens: null, maxTotalTokens: 7000, enforce: false }, streamCutoff: false })]),
    );
    expect((await auditEvents()).length).toBe(auditBefore.length + 2);
    expect((await applyReport(changed)).report.mutations).toEqual([]);
    const listed = capture();
    expect(await runAutomationCommand(['get', 'services', '--organization', handle], listed.output, env)).toBe(0);
    expect(listed.text()).toMatch(/^ {2}production: .*; connection quota total 7000 per HOUR \(shadow\); serviceUrl https:\/\/eu\.api\.openai\.com\/v1$/m);

    // `connectionQuota: null` removes the default quota.
    const removed = fileWith('acme-no-quota.yaml', manifest({ prodTotal: 150000, quota: 'null', cutoff: false, devEnforce: true }));
    expect((await applyReport(removed)).report.mutations).toEqual([{ name: 'configureServiceEnvironment', target: '/openai production' }]);
    expect(await production()).toMatchObject({ connectionQuota: null, streamCutoff: false });
    expect((await applyReport(removed)).report.mutations).toEqual([]);

    // Back to the file the other tests apply.
    const base = fileWith('acme-limit.yaml', manifest({ prodTotal: 150000 }));
    expect((await applyReport(base)).report.mutations).toHaveLength(2);
    expect((await applyReport(base)).report.mutations).toEqual([]);
  });

  it('re-sends a secret only when it differs from the applied one (by the API hint), or when asked to rotate', async () => {
    const path = fileWith('acme-rotated.yaml', manifest({ prodTotal: 150000, prodKeyVariable: 'OPENAI_PROD_KEY_2' }));
    const { report, text } = await applyReport(path);
    expect(report.mutations).toEqual([{ name: 'configureServiceEnvironment', target: '/openai production' }]);
    expect(text).toContain('production: credentials replaced (the key differs from the one applied)');
    expect(text).not.toContain(ROTATED_PROD_KEY);
    const [latest] = await auditEvents();
    expect(latest).toMatchObject({ action: 'genAIService.configureEnvironment', details: { environment: 'production', credentialsReplaced: true } });
    const openai = (await services()).find((s) => s.contextPath === '/openai');
    expect(openai?.environmentConfigs.find((c) => c.environment === 'production')?.backendSecurity.hint).toBe(`…${ROTATED_PROD_KEY.slice(-4)}`);
    expect((await applyReport(path)).report.mutations).toEqual([]);

    // --rotate-secrets re-sends every secret of the file: one configure per environment holding one.
    const rotated = await apply(path, ['--rotate-secrets']);
    expect(rotated.code).toBe(0);
    expect(rotated.text).toContain('applying 3 mutations');
    for (const target of ['/openai development', '/openai production', '/claude production']) expect(rotated.text).toContain(`✓ configureServiceEnvironment ${target}`);
    for (const secret of [OPENAI_DEV_KEY, ROTATED_PROD_KEY, ANTHROPIC_KEY]) expect(rotated.text).not.toContain(secret);
    expect((await applyReport(path)).report.mutations).toEqual([]);
  });

  it('marketplace: REMOVED is one removeFromMarketplace; PUBLISHED afterwards is refused before anything is sent', async () => {
    const removed = fileWith('acme-removed.yaml', manifest({ prodTotal: 150000, openaiMarketplace: 'REMOVED', prodKeyVariable: 'OPENAI_PROD_KEY_2' }));
    const { report, text } = await applyReport(removed);
    expect(report.exitCode).toBe(0);
    expect(report.mutations).toEqual([{ name: 'removeFromMarketplace', target: '/openai' }]);
    expect(text).toMatch(/- service \/openai\s+remove: remove from the marketplace/);
    expect(text).toContain('done: 1 mutation applied');
    expect((await services()).find((s) => s.contextPath === '/openai')?.marketplaceStatus).toBe('REMOVED');
    const [latest] = await auditEvents();
    expect(latest.action).toBe('genAIService.removeFromMarketplace');
    expect((await applyReport(removed)).report.mutations).toEqual([]);

    const auditBefore = await auditEvents();
    const republish = await apply(fileWith('acme-republish.yaml', manifest({ prodTotal: 150000, openaiMarketplace: 'PUBLISHED', prodKeyVariable: 'OPENAI_PROD_KEY_2' })));
    expect(republish.code).toBe(1);
    expect(republish.text).toContain('error: CONFLICT at services[0].marketplace');
    expect(republish.text).toContain('nothing was sent');
    expect(await auditEvents()).toEqual(auditBefore);
  });

  it('refuses to change what the API cannot change (provider), naming the field, before anything is sent', async () => {
    const auditBefore = await auditEvents();
    const file = manifest({ prodTotal: 150000, openaiMarketplace: 'REMOVED', prodKeyVariable: 'OPENAI_PROD_KEY_2' }).replace('provider: ANTHROPIC', 'provider: MISTRAL').replace(/\s+apiVersion: "2023-06-01"/, '');
    const { code, text } = await apply(fileWith('acme-provider.yaml', file));
    expect(code).toBe(1);
    expect(text).toContain('error: CONFLICT at services[1].provider: provider cannot change (ANTHROPIC → MISTRAL)');
    expect(await auditEvents()).toEqual(auditBefore);
  });

  it('a bad file exits 2 with the path of each bad field and writes nothing', async () => {
    const auditBefore = await auditEvents();
    const bad = fileWith('bad.yaml', `
organization: ${handle}
services:
  - contextPath: /openai
    provider: OPENAII
    name: OpenAI GPT
    serviceUrl: ftp://example.com
    colour: blue
    environments:
      production:
        rateLimit: { timeUnit: MINUTE, maxTotalTokens: -5 }
        connectionQuota: { timeUnit: HOUR, maxTotalTokens: 0, enforce: 1 }
        streamCutoff: yes
        backendSecurity:
          awsAccessKeyId: AKIDEXAMPLETESTKEY01
connections:
  - project: web
    name: no-service
`);
    const { code, text } = await apply(bad);
    expect(code).toBe(2);
    for (const expected of [
      'services[0].provider: must be one of OPENAI, AZURE_OPENAI, ANTHROPIC, MISTRAL, AWS_BEDROCK, got "OPENAII"',
      'services[0].serviceUrl: service URL must use http or https',
      'services[0].colour: unknown field',
      'services[0].environments.production.rateLimit.maxTotalTokens: must be a positive integer',
      'services[0].environments.production.connectionQuota.maxTotalTokens: must be a positive integer',
      'services[0].environments.production.connectionQuota.enforce: must be true or false, got a number',
      'services[0].environments.production.streamCutoff: must be true or false, got a string',
      'services[0].environments.production.backendSecurity.awsSecretAccessKey: SigV4 needs both awsAccessKeyId and awsSecretAccessKey',
      'connections[0].service: is required',
      'nothing was sent',
    ]) expect(text).toContain(expected);
    expect(await auditEvents()).toEqual(auditBefore);

    const notYaml = await apply(fileWith('broken.yaml', 'organization: [unclosed\n'));
    expect(notYaml.code).toBe(2);
    expect(notYaml.text).toContain('invalid YAML');
    expect((await apply(join(dir, 'missing.yaml'))).text).toContain('missing.yaml is not a valid tokengate file:\n  file not found');
  });

  it('a secret naming an unset environment variable is a clear error and nothing is sent', async () => {
    const auditBefore = await auditEvents();
    const { code, text } = await apply(fileWith('unset.yaml', manifest({ prodKeyVariable: 'TOKENGATE_TEST_UNSET_KEY' })));
    expect(code).toBe(2);
    expect(text).toContain('services[0].environments.production.backendSecurity.value: environment variable TOKENGATE_TEST_UNSET_KEY is not set');
    expect(text).toContain('nothing was sent');
    expect(await auditEvents()).toEqual(auditBefore);
  });

  it('a wrong token exits 1 with UNAUTHENTICATED; a missing one is a usage error', async () => {
    const path = fileWith('wrong-token.yaml', manifest());
    const wrong = await apply(path, [], { TOKENGATE_TOKEN: 'tgp_not_a_real_token' });
    expect(wrong.code).toBe(1);
    expect(wrong.text).toMatch(/error: read organization \S+ failed: UNAUTHENTICATED: invalid API token/);
    const missing = await apply(path, [], { TOKENGATE_TOKEN: '' });
    expect(missing.code).toBe(2);
    expect(missing.text).toContain('no API token');
    const unknownFlag = await apply(path, ['--force']);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.text).toContain('unknown flag --force');
  });

  describe('as the compiled `tokengate` process', () => {
    async function run(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; output: string }> {
      const child = runCli(args, { ...env, ...extraEnv });
      const code = await child.exited;
      return { code, output: child.output() };
    }

    const mistralFile = () => `
organization: ${handle}
services:
  - contextPath: /mistral
    provider: MISTRAL
    name: Mistral
    serviceUrl: https://api.mistral.ai/v1
    environments:
      development:
        backendSecurity: { value: "\${MISTRAL_KEY}" }
        rateLimit: { timeUnit: HOUR, maxCompletionTokens: 5000 }
connections:
  - project: batch
    service: /mistral
    name: nightly
`;
    const MISTRAL_KEY = `mistral-${randomBytes(12).toString('hex')}`;

    it('apply: exit 0 and keys printed once, then "no changes"; exit 1 on a wrong token; exit 2 on a bad file', async () => {
      const path = fileWith('mistral.yaml', mistralFile());
      const first = await run(['apply', '-f', path], { MISTRAL_KEY });
      expect(first).toMatchObject({ code: 0 });
      expect(first.output).toMatch(/\+ service \/mistral\s+create/);
      const keys = [...first.output.matchAll(/^\s+(development|production)\s+(tgk_\S+)\s+(http\S+)$/gm)];
      expect(keys.map((k) => k[1])).toEqual(['development', 'production']);
      expect(first.output).not.toContain(MISTRAL_KEY);

      const second = await run(['apply', '--file', path, '--url', cp.graphqlUrl, '--token', tenant.tokens.engineer], { MISTRAL_KEY, TOKENGATE_URL: '', TOKENGATE_TOKEN: '' });
      expect(second).toMatchObject({ code: 0 });
      expect(second.output).toMatch(/^no changes$/m);
      for (const key of keys) expect(second.output).not.toContain(key[2]);

      const unauthenticated = await run(['apply', '-f', path], { MISTRAL_KEY, TOKENGATE_TOKEN: 'tgp_wrong' });
      expect(unauthenticated.code).toBe(1);
      expect(unauthenticated.output).toContain('UNAUTHENTICATED');

      const bad = await run(['apply', '-f', fileWith('mistral-bad.yaml', mistralFile().replace('HOUR', 'WEEK'))], { MISTRAL_KEY });
      expect(bad.code).toBe(2);
      expect(bad.output).toContain('services[0].environments.development.rateLimit.timeUnit: must be one of MINUTE, HOUR, DAY, got "WEEK"');

      expect((await run(['apply'])).code).toBe(2);
    });

    it('get services, connect, and remove service', async () => {
      const listed = await run(['get', 'services', '--organization', handle]);
      expect(listed.code).toBe(0);
      expect(listed.output).toMatch(/^\/mistral {2}MISTRAL {2}"Mistral" {2}organization {2}PUBLISHED/m);
      expect(listed.output).toMatch(/^ {2}development: Authorization …\w{4}; rate limit completion 5000 per HOUR$/m);

      const connected = await run(['connect', `${handle}/mistral`, '--project', 'web', '--name', 'from-cli', '--description', 'made by connect']);
      expect(connected.code).toBe(0);
      expect(connected.output).toContain(`connection web/from-cli created to ${handle}/mistral`);
      expect(connected.output).toMatch(/^\s+development\s+tgk_\S+\s+http\S+\/mistral$/m);
      const again = await run(['connect', `${handle}/mistral`, '--project', 'web', '--name', 'from-cli']);
      expect(again.code).toBe(1);
      expect(again.output).toContain('createConnection web/from-cli failed: CONFLICT (field input.name)');

      const removed = await run(['remove', 'service', `${handle}/mistral`]);
      expect(removed).toMatchObject({ code: 0 });
      expect(removed.output).toContain(`${handle}/mistral removed from the marketplace`);
      expect((await run(['remove', 'service', `${handle}/mistral`])).output).toContain('already removed from the marketplace: no changes');
      expect((await run(['remove', 'service', `${handle}/nothing-here`])).code).toBe(1);
      expect((await run(['remove', 'service', 'no-path'])).code).toBe(2);
    });
  });
});
