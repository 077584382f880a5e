import { Tiktoken } from 'js-tiktoken/lite';
import cl100kBase from 'js-tiktoken/ranks/cl100k_base';
import o200kBase from 'js-tiktoken/ranks/o200k_base';
import type { ProviderName } from '../config-stream/wire-types';
import { countCompletionTokens, countPromptTokens } from './prompt-tokens';
import { TokenCounter, TokenCounterError } from './token-counter';

const o200k = new Tiktoken(o200kBase);
const cl100k = new Tiktoken(cl100kBase);

const requests: Array<{ provider: ProviderName; path: string; body: unknown; model: string | null; encoder: Tiktoken }> = [
  {
    provider: 'OPENAI',
    path: '/v1/chat/completions',
    body: { model: 'gpt-4o', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', name: 'ada', content: 'Hello there, how are you?' }] },
    model: 'gpt-4o',
    encoder: o200k,
  },
  {
    provider: 'OPENAI',
    path: '/v1/chat/completions',
    body: { model: 'gpt-4', messages: [{ role: 'user', content: 'tiktoken is great!' }] },
    model: null, // taken from the body
    encoder: cl100k,
  },
  {
    provider: 'AZURE_OPENAI',
    path: '/openai/deployments/gpt-35-turbo/chat/completions',
    body: { messages: [{ role: 'user', content: 'Summarize: the quick brown fox.' }] },
    model: 'gpt-35-turbo',
    encoder: cl100k,
  },
  {
    provider: 'ANTHROPIC',
    path: '/v1/messages',
    body: { model: 'claude-sonnet-4-5', max_tokens: 100, system: 'Be brief.', messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi!' }] }] },
    model: 'claude-sonnet-4-5',
    encoder: o200k,
  },
  {
    provider: 'AWS_BEDROCK',
    path: '/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse',
    body: { messages: [{ role: 'user', content: [{ text: 'Bonjour à tous, ça va ?' }] }] },
    model: 'anthropic.claude-3-haiku-20240307-v1%3A0',
    encoder: o200k,
  },
  { provider: 'MISTRAL', path: '/v1/embeddings', body: { model: 'mistral-embed', input: ['一', '二三'] }, model: 'mistral-embed', encoder: o200k },
];

describe('TokenCounter', () => {
  let counter: TokenCounter;

  beforeAll(async () => {
    counter = TokenCounter.start();
    await counter.warm(['o200k_base', 'cl100k_base']);
  });

  afterAll(async () => {
    await counter.close();
  });

  it('counts prompts in the worker exactly as the synchronous functions do', async () => {
    for (const request of requests) {
      const expected = countPromptTokens(request.encoder, request.provider, request.path, request.body, request.model);
      await expect(counter.countPrompt(request.provider, request.path, request.body, request.model)).resolves.toBe(expected);
    }
  });

  it('counts completion text with the model encoding and the provider factor', async () => {
    const text = 'The quick brown fox jumps over the lazy dog. '.repeat(20);
    await expect(counter.countText('OPENAI', 'gpt-4', text)).resolves.toBe(countCompletionTokens(cl100k, 'OPENAI', 'gpt-4', text));
    await expect(counter.countText('ANTHROPIC', 'claude-haiku-4-5', text)).resolves.toBe(countCompletionTokens(o200k, 'ANTHROPIC', 'claude-haiku-4-5', text));
  });

  it('resolves concurrent calls each with its own answer', async () => {
    const texts = Array.from({ length: 60 }, (_, i) => `${'word '.repeat(i)}${i % 3 === 0 ? '中文' : 'end'}`);
    const counts = await Promise.all(texts.map((text) => counter.countText('OPENAI', 'gpt-4o', text)));
    expect(counts).toEqual(texts.map((text) => countCompletionTokens(o200k, 'OPENAI', 'gpt-4o', text)));
  });

  it('warms idempotently', async () => {
    await expect(Promise.all([counter.warm(), counter.warm(['o200k_base', 'cl100k_base']), counter.warm()])).resolves.toEqual([undefined, undefined, undefined]);
  });

  it('rejects a body that cannot be sent to the worker, and keeps working', async () => {
    await expect(counter.countPrompt('OPENAI', '/v1/chat/completions', { messages: [() => 1] }, null)).rejects.toThrow(TokenCounterError);
    await expect(counter.countText('OPENAI', 'gpt-4o', 'still here')).resolves.toBe(countCompletionTokens(o200k, 'OPENAI', 'gpt-4o', 'still here'));
  });

  it('rejects the calls of a crashed worker with a clear error, then starts a new worker for later calls', async () => {
    counter.crashWorkerForTesting();
    const lost = counter.countText('OPENAI', 'gpt-4o', 'lost with the worker');
    await expect(lost).rejects.toThrow(TokenCounterError);
    await expect(lost).rejects.toThrow(/token counter worker failed: token worker crash requested/);
    await expect(counter.countText('OPENAI', 'gpt-4', 'tiktoken is great!')).resolves.toBe(6);
    await expect(counter.warm()).resolves.toBeUndefined();
  });
});

describe('TokenCounter.close', () => {
  it('rejects calls still pending and every later call', async () => {
    const counter = TokenCounter.start();
    const pending = expect(counter.countText('OPENAI', 'gpt-4o', 'never answered')).rejects.toThrow('the token counter is closed');
    expect(counter.isClosed).toBe(false);
    await counter.close();
    expect(counter.isClosed).toBe(true);
    await pending;
    await expect(counter.countText('OPENAI', 'gpt-4o', 'too late')).rejects.toThrow(TokenCounterError);
    await expect(counter.countPrompt('OPENAI', '/v1/embeddings', { input: 'x' }, null)).rejects.toThrow('the token counter is closed');
    await expect(counter.warm()).rejects.toThrow('the token counter is closed');
    await expect(counter.close()).resolves.toBeUndefined();
  });
});
