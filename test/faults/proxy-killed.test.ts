// A data-plane proxy process SIGKILLed while the official OpenAI SDK is mid-exchange: the client gets
// an error it can act on (never a hang, never a stream that looks complete), the chunks it got before
// are intact, and a proxy started again on the same port serves the same client.
import { isNativeError } from 'node:util/types';
import OpenAI from 'openai';
import { field, type FakeServer, openAIChatCompletion, openAIChatStream, openAIError, sendJson, sse, SSE_HEADERS, startFake, stringField } from '../fakes';
import { seedEnvironments, seedTenant, registerOpenAIService, startTestControlPlane, type TestControlPlane } from '../support/control-plane-harness';
import { freePort } from '../support/free-port';
import { type RunningProcess, runCli } from '../support/processes';
import { waitFor, withinBound } from '../support/wait';

/** Stream frames the fake sends before it holds the stream open: the role chunk and two words. */
const FRAMES_BEFORE_HOLD = 3;

let cp: TestControlPlane;
let upstream: FakeServer;
let key: string;
let port: number;
let proxy: RunningProcess | null = null;
let client: OpenAI;

/**
 * An OpenAI upstream (the fakes' wire format) whose streams send FRAMES_BEFORE_HOLD chunks and then
 * stay open until the connection goes away; `behaviour.hang` holds non-streaming calls unanswered.
 */
function startHoldingOpenAI(): Promise<FakeServer> {
  return startFake(
    async ({ req, res, behaviour }) => {
      const model = stringField(req.json, 'model') ?? 'gpt-4o-mini';
      if (field(req.json, 'stream') !== true) {
        sendJson(res, 200, openAIChatCompletion(behaviour, model));
        return;
      }
      const includeUsage = field(field(req.json, 'stream_options'), 'include_usage') === true;
      res.writeHead(200, SSE_HEADERS);
      for (const chunk of openAIChatStream(behaviour, model, includeUsage).slice(0, FRAMES_BEFORE_HOLD)) res.write(sse(chunk));
      await new Promise<void>((resolve) => res.once('close', () => resolve()));
    },
    { errorFor: openAIError },
  );
}

/** Starts `tokengate data-plane` on `port` (killing the previous one, if any) and waits until it is ready. */
async function startProxy(): Promise<RunningProcess> {
  await killProxy();
  const started = runCli(
    ['data-plane', '--environment', 'production', '--port', String(port), '--control-plane', cp.grpcAddress, '--proxy-id', 'killable-proxy', '--log-level', 'warn'],
    { TOKENGATE_DATAPLANE_TOKEN: cp.dataPlaneToken },
  );
  proxy = started;
  const state = await waitFor(
    async () => {
      if (started.child.exitCode !== null || started.child.signalCode !== null) return 'exited';
      return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200 && 'ready';
    },
    'the proxy to apply its first snapshot',
    30_000,
  );
  if (state === 'exited') throw new Error(`the proxy exited:\n${started.output()}`);
  return started;
}

async function killProxy(): Promise<void> {
  const running = proxy;
  proxy = null;
  await running?.stop('SIGKILL');
}

beforeAll(async () => {
  cp = await startTestControlPlane();
  await seedEnvironments(cp);
  const tenant = await seedTenant(cp, 'acme');
  upstream = await startHoldingOpenAI();
  const serviceId = await registerOpenAIService(cp, tenant, `${upstream.url}/v1`);
  const { createConnection } = await cp.ok<{ createConnection: { keys: Array<{ environment: string; apiKey: string }> } }>(
    'mutation($i: CreateConnectionInput!) { createConnection(input: $i) { keys { environment apiKey } } }',
    { i: { projectId: tenant.projectId, serviceId: serviceId, name: 'app' } },
    tenant.tokens.developer,
  );
  key = createConnection.keys.find((k) => k.environment === 'production')!.apiKey;
  port = await freePort();
  client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/acme/openai`, apiKey: key, maxRetries: 0 });
});
afterAll(async () => {
  await killProxy();
  await upstream?.close();
  await cp?.stop();
});
afterEach(() => upstream?.reset());

const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hi' }] };

it('a stream cut by a killed proxy makes the SDK iteration reject; the chunks before it are intact', async () => {
  await startProxy();
  const stream = await client.chat.completions.create({ ...chat, stream: true });
  const received: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
  // The outcome is settled as soon as the iteration ends, so its rejection is never unhandled.
  const iteration = (async () => {
    for await (const chunk of stream) received.push(chunk);
  })().then(
    () => 'ended cleanly',
    (error: unknown) => error,
  );
  await waitFor(() => received.length >= FRAMES_BEFORE_HOLD, 'the first chunks');
  await killProxy();

  const outcome = await withinBound(iteration, 'the SDK iteration after the proxy was killed');
  console.log(`stream cut by a killed proxy: ${describeOutcome(outcome)}`);
  // undici's own error (Node's realm, so not instanceof this sandbox's Error): the SDK passes it on.
  expect(isNativeError(outcome)).toBe(true);
  expect(received).toHaveLength(FRAMES_BEFORE_HOLD);
  expect(new Set(received.map((c) => c.id)).size).toBe(1);
  expect(received[0].choices[0].delta.role).toBe('assistant');
  expect(received.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello from');
  expect(received.every((c) => c.choices[0]?.finish_reason === null)).toBe(true);
});

it('a pending non-streaming call fails with APIConnectionError when the proxy is killed', async () => {
  await startProxy();
  upstream.behaviour.hang = true;
  const call = client.chat.completions.create(chat).then(
    () => 'answered',
    (error: unknown) => error,
  );
  await waitFor(() => upstream.received.length === 1, 'the call to reach the upstream');
  await killProxy();

  const outcome = await withinBound(call, 'the pending call after the proxy was killed');
  console.log(`pending call on a killed proxy: ${describeOutcome(outcome)}`);
  expect(outcome).toBeInstanceOf(OpenAI.APIConnectionError);
  expect(outcome).not.toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
});

it('a proxy started again on the same port serves the same client', async () => {
  await startProxy();
  const completion = await client.chat.completions.create(chat);
  expect(completion.choices[0].message.content).toBe('Hello from the fake');
  // The held stream now runs to the hold point again through the new process.
  const stream = await client.chat.completions.create({ ...chat, stream: true });
  const received: string[] = [];
  for await (const chunk of stream) {
    received.push(chunk.choices[0]?.delta.content ?? '');
    if (received.length === FRAMES_BEFORE_HOLD) break;
  }
  expect(received.join('')).toBe('Hello from');
});

function describeOutcome(outcome: unknown): string {
  if (!isNativeError(outcome)) return String(outcome);
  const cause = (outcome as { cause?: unknown }).cause;
  return `${outcome.constructor.name}: ${outcome.message}${isNativeError(cause) ? ` (cause ${cause.constructor.name}: ${cause.message})` : ''}`;
}
