// Prompts that cost more tokens than bytes (Claude's tool-use system prompt, images given by URL) are
// still judged on their count: one larger than the whole window budget is refused outright, never
// admitted on the body's byte length and charged past the budget afterwards.
import Anthropic from '@anthropic-ai/sdk';
import { getEncoding } from 'js-tiktoken';
import OpenAI from 'openai';
import { countPromptTokens } from '../../data-plane/src/tokens/prompt-tokens';
import { type Gateway, HEALTHY_REDIS_TIMEOUT_MS, startGateway } from '../support/gateway-harness';

const CLOCK = Date.UTC(2031, 0, 15, 12, 0, 30);
const encoder = getEncoding('o200k_base');
let gw: Gateway;

beforeAll(async () => {
  gw = await startGateway({ rateLimiting: { redisTimeoutMs: HEALTHY_REDIS_TIMEOUT_MS, clock: () => CLOCK, usageReportIntervalMs: 100 } });
});
afterAll(async () => {
  await gw?.stop();
});
beforeEach(() => {
  for (const fake of Object.values(gw.fakes)) fake.reset();
});

async function setPromptLimit(serviceId: string, maxPromptTokens: number): Promise<void> {
  await gw.cp.ok(
    'mutation($s: ID!, $p: Int) { configureServiceEnvironment(serviceId: $s, environment: "production", input: {rateLimit: {timeUnit: DAY, maxPromptTokens: $p}}) { id } }',
    { s: serviceId, p: maxPromptTokens },
    gw.tenant.tokens.engineer,
  );
  await gw.settle();
}

it('an Anthropic request with a tool, whose prompt exceeds the whole budget, is refused before forwarding', async () => {
  const body = {
    model: 'claude-sonnet-5-5',
    max_tokens: 10,
    messages: [{ role: 'user' as const, content: 'Hi' }],
    tools: [{ name: 'f', input_schema: { type: 'object' as const } }],
  };
  const prompt = countPromptTokens(encoder, 'ANTHROPIC', '/v1/messages', body);
  const bytes = Buffer.byteLength(JSON.stringify(body));
  expect(prompt).toBeGreaterThan(bytes + 100); // Claude's tool-use system prompt costs tokens, not bytes
  await setPromptLimit(gw.services.anthropic.id, bytes + 50);
  const client = new Anthropic({ baseURL: gw.services.anthropic.endpoint, apiKey: gw.services.anthropic.key, maxRetries: 0 });
  const error = await client.messages.create(body).then(() => null, (e: unknown) => e as InstanceType<typeof Anthropic.APIError>);
  expect(error).toBeInstanceOf(Anthropic.RateLimitError);
  expect(error?.headers?.get('x-should-retry')).toBe('false');
  expect(error?.message).toContain(`The prompt has ${prompt} tokens`);
  expect(gw.fakes.anthropic.received).toHaveLength(0);
});

it('an OpenAI request with images by URL, whose prompt exceeds the whole budget, is refused before forwarding', async () => {
  const body = {
    model: 'gpt-4o-mini',
    max_tokens: 10,
    messages: [{ role: 'user' as const, content: [{ type: 'text' as const, text: 'Compare' }, { type: 'image_url' as const, image_url: { url: 'https://example.com/a.png', detail: 'high' as const } }] }],
  };
  const prompt = countPromptTokens(encoder, 'OPENAI', '/chat/completions', body);
  const bytes = Buffer.byteLength(JSON.stringify(body));
  expect(prompt).toBeGreaterThan(bytes + 100);
  await setPromptLimit(gw.services.openai.id, bytes + 50);
  const client = new OpenAI({ baseURL: gw.services.openai.endpoint, apiKey: gw.services.openai.key, maxRetries: 0 });
  const error = await client.chat.completions.create(body).then(() => null, (e: unknown) => e as InstanceType<typeof OpenAI.APIError>);
  expect(error).toBeInstanceOf(OpenAI.RateLimitError);
  expect(error?.message).toContain(`The prompt has ${prompt} tokens`);
  expect(gw.fakes.openai.received).toHaveLength(0);
});
