// `tokengate rotate-secret-key` as the compiled process against a real database. Provider credentials
// sealed with key A are re-sealed with key B (read back from the table), refusals change nothing, and
// then a control plane that knows only key B still gets every credential to the providers.
import Anthropic from '@anthropic-ai/sdk';
import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import { Client } from 'pg';
import { pino } from 'pino';
import { SecretBox, parseSecretKeys } from '../../control-plane/src/secrets/secret-box';
import { type DataPlaneHandle, startDataPlane } from '../../data-plane/src/main';
import { verifySigV4 } from '../fakes';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane-harness';
import { currentRevision, type Gateway, PROVIDER_SECRETS, startGateway } from '../support/gateway-harness';
import { runCli } from '../support/processes';
import { waitFor } from '../support/wait';

const KEY_A = randomBytes(32).toString('base64');
const KEY_B = randomBytes(32).toString('base64');
const ID_A = parseSecretKeys(KEY_A, undefined, false)[0].id;
const ID_B = parseSecretKeys(KEY_B, undefined, false)[0].id;
/** Written through the control plane that already runs with key B (before the rotation command). */
const OPENAI_DEVELOPMENT_KEY = `sk-dev-${randomBytes(12).toString('hex')}`;
/** The gateway's six services each hold production credentials sealed with A; the development one has B. */
const SEALED_WITH_A = 6;

interface SealedRow {
  id: string;
  sealed: string;
  owner: string;
}

let gw: Gateway;
let cpB: TestControlPlane | undefined;
let cpOnlyB: TestControlPlane | undefined;
let proxy: DataPlaneHandle | undefined;
const outputs: string[] = [];

async function withClient<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: gw.cp.databaseUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function query<T>(sql: string): Promise<T[]> {
  return withClient(async (client) => (await client.query(sql)).rows as T[]);
}

function sealedRows(): Promise<SealedRow[]> {
  return query<SealedRow>(`
    SELECT c.id, c.credentials_sealed AS sealed, s.context_path || ' ' || e.handle AS owner
      FROM service_environment_configs c
      JOIN genai_services s ON s.id = c.service_id
      JOIN environments e ON e.id = c.environment_id
     WHERE c.credentials_sealed IS NOT NULL
     ORDER BY c.id`);
}

function keyIds(rows: SealedRow[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const row of rows) counts[row.sealed.split(':')[1]] = (counts[row.sealed.split(':')[1]] ?? 0) + 1;
  return counts;
}

async function rotate(args: string[], keys: { current: string; previous?: string }): Promise<{ code: number | null; output: string }> {
  const run = runCli(['rotate-secret-key', ...args], {
    DATABASE_URL: gw.cp.databaseUrl,
    TOKENGATE_SECRET_KEY: keys.current,
    TOKENGATE_PREVIOUS_SECRET_KEYS: keys.previous ?? '',
  });
  const code = await run.exited;
  outputs.push(run.output());
  return { code, output: run.output().trim() };
}

function openWith(key: string, sealed: string): string {
  return new SecretBox(parseSecretKeys(key, undefined, false)).open(sealed);
}

beforeAll(async () => {
  gw = await startGateway({}, { TOKENGATE_SECRET_KEY: KEY_A });
  // Rolling restart onto key B: the control plane on A stops, one with B current and A previous starts.
  await gw.cp.plane.stop();
  cpB = await startTestControlPlane({ TOKENGATE_SECRET_KEY: KEY_B, TOKENGATE_PREVIOUS_SECRET_KEYS: KEY_A }, gw.cp);
  await cpB.ok(
    `mutation($s: ID!, $e: String!, $i: ConfigureServiceEnvironmentInput!) { configureServiceEnvironment(serviceId: $s, environment: $e, input: $i) { id } }`,
    { s: gw.services.openai.id, e: 'development', i: { backendSecurity: { value: OPENAI_DEVELOPMENT_KEY } } },
    gw.tenant.tokens.engineer,
  );
});

afterAll(async () => {
  await proxy?.close();
  await cpOnlyB?.stop();
  await cpB?.stop();
  // Last: it drops the database the other control planes share.
  await gw?.stop();
});

it('finds sealed values in service_environment_configs.credentials_sealed only (the one column the command re-encrypts)', async () => {
  const columns = await query<{ table_name: string; column_name: string }>(`
    SELECT table_name, column_name FROM information_schema.columns
     WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'ARRAY', 'bytea')`);
  const holding = await withClient(async (client) => {
    const found: string[] = [];
    for (const { table_name: table, column_name: column } of columns) {
      const { rows } = await client.query<{ count: string }>(`SELECT count(*) FROM "${table}" WHERE "${column}"::text ~ 'v1:[0-9a-f]{12}:'`);
      if (Number(rows[0].count) > 0 || /seal|encrypt|cipher/i.test(column)) found.push(`${table}.${column}`);
    }
    return found;
  });
  expect(holding).toEqual(['service_environment_configs.credentials_sealed']);
});

it('starts from credentials sealed with the old key A and one already sealed with the new key B', async () => {
  expect(keyIds(await sealedRows())).toEqual({ [ID_A]: SEALED_WITH_A, [ID_B]: 1 });
});

it('refuses when a secret was sealed with a key that is not configured, naming it and the rows, and changes nothing', async () => {
  const before = await sealedRows();
  const { code, output } = await rotate([], { current: KEY_B });
  expect(code).toBe(1);
  expect(output).toContain('tokengate rotate-secret-key: nothing was changed:');
  expect(output).toContain(`${SEALED_WITH_A} provider secrets sealed with key ${ID_A}, which is not configured (add that key to TOKENGATE_PREVIOUS_SECRET_KEYS and run again)`);
  expect(output).toContain('service acme/openai in environment production');
  expect(output).toContain('service acme/bedrock in environment production');
  expect(output).not.toContain('acme/openai in environment development');
  expect(await sealedRows()).toEqual(before);
});

it('refuses an unknown flag (a mistyped --dry-run must not rotate) and changes nothing', async () => {
  const before = await sealedRows();
  const { code, output } = await rotate(['--dryrun'], { current: KEY_B, previous: KEY_A });
  expect(code).toBe(2);
  expect(output).toMatch(/unexpected argument --dryrun/);
  expect(await sealedRows()).toEqual(before);
});

it('--dry-run reports what a run would do and changes nothing', async () => {
  const before = await sealedRows();
  const { code, output } = await rotate(['--dry-run'], { current: KEY_B, previous: KEY_A });
  expect(code).toBe(0);
  expect(output).toBe(
    `dry run, nothing changed: would re-encrypt ${SEALED_WITH_A} provider secrets with key ${ID_B} (from key ${ID_A}: ${SEALED_WITH_A}); ` +
      `1 already current; TOKENGATE_PREVIOUS_SECRET_KEYS could then drop keys: ${ID_A}`,
  );
  expect(await sealedRows()).toEqual(before);
});

it('re-encrypts everything sealed with A with B, leaving what B sealed untouched', async () => {
  const before = await sealedRows();
  const { code, output } = await rotate([], { current: KEY_B, previous: KEY_A });
  expect(code).toBe(0);
  expect(output).toBe(
    `re-encrypted ${SEALED_WITH_A} provider secrets with key ${ID_B} (from key ${ID_A}: ${SEALED_WITH_A}); 1 already current; ` +
      `TOKENGATE_PREVIOUS_SECRET_KEYS may now drop keys: ${ID_A}`,
  );
  const after = await sealedRows();
  expect(keyIds(after)).toEqual({ [ID_B]: SEALED_WITH_A + 1 });
  expect(after.map((r) => r.owner)).toEqual(before.map((r) => r.owner));
  for (const [index, row] of after.entries()) {
    if (before[index].sealed.split(':')[1] === ID_B) expect(row.sealed).toBe(before[index].sealed);
    else expect(row.sealed).not.toBe(before[index].sealed);
  }
});

it('is idempotent: a second run re-encrypts nothing and changes nothing', async () => {
  const before = await sealedRows();
  const { code, output } = await rotate([], { current: KEY_B, previous: KEY_A });
  expect(code).toBe(0);
  expect(output).toBe(`re-encrypted 0 provider secrets with key ${ID_B}; ${SEALED_WITH_A + 1} already current; TOKENGATE_PREVIOUS_SECRET_KEYS may now drop keys: ${ID_A}`);
  expect(await sealedRows()).toEqual(before);
  // Once A is dropped there is nothing left to do, and nothing refers to it.
  const { code: dropped, output: droppedOutput } = await rotate([], { current: KEY_B });
  expect(dropped).toBe(0);
  expect(droppedOutput).toBe(`re-encrypted 0 provider secrets with key ${ID_B}; ${SEALED_WITH_A + 1} already current; TOKENGATE_PREVIOUS_SECRET_KEYS may now drop keys: none`);
});

it('waits for a control-plane write in flight and re-encrypts what it committed (SELECT ... FOR UPDATE)', async () => {
  // A straggler control plane still on key A replaces the development credential; its transaction
  // holds the row while the command starts. Read without the lock, the row would look current (B).
  const replacement = `sk-dev-${randomBytes(12).toString('hex')}`;
  const [development] = (await sealedRows()).filter((r) => r.owner === '/openai development');
  const writer = new Client({ connectionString: gw.cp.databaseUrl });
  await writer.connect();
  try {
    await writer.query('BEGIN');
    await writer.query('UPDATE service_environment_configs SET credentials_sealed = $2 WHERE id = $1', [
      development.id,
      new SecretBox(parseSecretKeys(KEY_A, undefined, false)).seal(JSON.stringify({ apiKey: replacement })),
    ]);
    const rotation = rotate([], { current: KEY_B, previous: KEY_A });
    await waitFor(
      async () => (await query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE OF c%'`)).length > 0,
      'the command to wait for the row lock',
    );
    await writer.query('COMMIT');
    const { code, output } = await rotation;
    expect(code).toBe(0);
    expect(output).toBe(
      `re-encrypted 1 provider secret with key ${ID_B} (from key ${ID_A}: 1); ${SEALED_WITH_A} already current; TOKENGATE_PREVIOUS_SECRET_KEYS may now drop keys: ${ID_A}`,
    );
  } finally {
    await writer.end();
  }
  const [after] = (await sealedRows()).filter((r) => r.id === development.id);
  expect(after.sealed.split(':')[1]).toBe(ID_B);
  expect(JSON.parse(openWith(KEY_B, after.sealed))).toEqual({ apiKey: replacement });
});

it('a control plane with only key B serves every credential to the providers', async () => {
  await cpB!.stop();
  cpOnlyB = await startTestControlPlane({ TOKENGATE_SECRET_KEY: KEY_B }, gw.cp);
  proxy = await startDataPlane({
    environment: 'production',
    controlPlane: { address: cpOnlyB.grpcAddress, token: cpOnlyB.dataPlaneToken, backoff: { initialDelayMs: 20, maxDelayMs: 200 } },
    port: 0,
    logger: pino({ level: 'silent' }),
  });
  // The snapshot holds the opened credentials: it only arrives if key B opens every one of them.
  await proxy.waitForRevision(BigInt(await currentRevision(cpOnlyB)));
  for (const fake of Object.values(gw.fakes)) fake.reset();
  const endpoint = (contextPath: string) => `${proxy!.url}/acme${contextPath}`;

  const openai = new OpenAI({ baseURL: endpoint('/openai'), apiKey: gw.services.openai.key, maxRetries: 0 });
  const chat = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
  expect(chat.choices[0].message.content).toBe('Hello from the fake');
  expect(gw.fakes.openai.received[0].headers.authorization).toBe(`Bearer ${PROVIDER_SECRETS.openai}`);

  const anthropic = new Anthropic({ baseURL: endpoint('/claude'), apiKey: gw.services.anthropic.key, maxRetries: 0 });
  const message = await anthropic.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] });
  expect(message.content).toEqual([{ type: 'text', text: 'Hello from the fake' }]);
  expect(gw.fakes.anthropic.received[0].headers['x-api-key']).toBe(PROVIDER_SECRETS.anthropic);

  const bedrock = new BedrockRuntimeClient({ endpoint: endpoint('/bedrock'), region: 'us-east-1', token: { token: gw.services.bedrock.key }, authSchemePreference: ['httpBearerAuth'], maxAttempts: 1 });
  const converse = await bedrock.send(new ConverseCommand({ modelId: 'anthropic.claude-3-haiku-20240307-v1:0', messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }));
  bedrock.destroy();
  expect(converse.output?.message?.content).toEqual([{ text: 'Hello from the fake' }]);
  const [signed] = gw.fakes.bedrock.received;
  expect(signed.headers['x-amz-security-token']).toBe(PROVIDER_SECRETS.aws.sessionToken);
  expect(await verifySigV4(signed, PROVIDER_SECRETS.aws, 'us-east-1')).toBe(true);
});

it('never printed a key, a credential or a ciphertext', async () => {
  const printed = outputs.join('\n');
  expect(outputs.length).toBeGreaterThanOrEqual(6);
  const ciphertexts = (await sealedRows()).flatMap((r) => r.sealed.split(':').slice(2));
  const secrets = [KEY_A, KEY_B, OPENAI_DEVELOPMENT_KEY, PROVIDER_SECRETS.openai, PROVIDER_SECRETS.anthropic, PROVIDER_SECRETS.aws.secretAccessKey, PROVIDER_SECRETS.aws.sessionToken, ...ciphertexts];
  for (const secret of secrets) expect(printed).not.toContain(secret);
});
