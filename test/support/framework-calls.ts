// What the framework tests (test/proxy/frameworks-*.test.ts) share: the usage the fakes report, the
// prompt, and the check of the one request a fake provider received.
import type { FakeServer, FakeUsage, RecordedRequest } from '../fakes';

/** What the fakes report for every framework call: cache and reasoning tokens included. */
export const BILLED: Required<FakeUsage> = { prompt: 4561, completion: 58, cachedRead: 1024, cachedWrite: 512, reasoning: 24 };
export const BEDROCK_MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';
export const PROMPT = 'Summarize the quarterly report.';

/** What Tokengate charges for one Mistral chat call of `mistral-small-latest`, the fake prepared without cache or reasoning tokens. */
export const MISTRAL_CHAT_CHARGED = {
  operation: 'chat_completions',
  requestModel: 'mistral-small-latest',
  requests: 1,
  errors4xx: 0,
  promptTokens: BILLED.prompt,
  completionTokens: BILLED.completion,
  cachedPromptReadTokens: 0,
  reasoningTokens: 0,
};

/** Forgets what the fake received and makes it report `usage`. */
export function prepare(fake: FakeServer, usage: FakeUsage = BILLED): void {
  fake.reset();
  fake.behaviour.usage = { ...usage };
}

/** The one request the provider received: never the consumer key (the caller checks the provider's own credential). */
export function upstreamOf(fake: FakeServer, consumerKey: string): RecordedRequest {
  expect(fake.received).toHaveLength(1);
  const [upstream] = fake.received;
  expect(JSON.stringify(upstream.headers)).not.toContain(consumerKey);
  expect(JSON.stringify(upstream.json ?? null)).not.toContain(consumerKey);
  return upstream;
}

/** The one request the provider received (see upstreamOf), with the app's Accept-Encoding: the fake answered gzip, as the real API would. */
export function compressedUpstreamOf(fake: FakeServer, consumerKey: string): RecordedRequest {
  const upstream = upstreamOf(fake, consumerKey);
  expect(upstream.headers['accept-encoding']).toMatch(/gzip/);
  return upstream;
}
