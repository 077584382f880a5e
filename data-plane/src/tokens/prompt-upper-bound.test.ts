import fc from 'fast-check';
import { Tiktoken } from 'js-tiktoken/lite';
import cl100kBase from 'js-tiktoken/ranks/cl100k_base';
import o200kBase from 'js-tiktoken/ranks/o200k_base';
import type { ProviderName } from '../config-stream/wire-types';
import { countPromptTokens, promptUpperBound, promptUpperBoundHolds } from './prompt-tokens';

const o200k = new Tiktoken(o200kBase);
const cl100k = new Tiktoken(cl100kBase);

// Fragments that stress byte/token ratios: dense one-token-per-byte runs, multi-byte scripts, emoji,
// combining marks, special-token text, control characters (escaped in JSON), long runs.
const fragment = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom('x9x9x9x9', '!?!?', '中文汉字', 'お誕生日おめでとう', '😀🦊', 'e\u0301', '<|endoftext|>', '<|im_start|>', '\u0000\u001f', '\n\n', '   ', 'a'.repeat(200), '中'.repeat(150), 'https://example.com/a/b?c=d', ''),
);
const text = fc.array(fragment, { maxLength: 6 }).map((parts) => parts.join(''));

const chatMessage = fc.record({ role: fc.constantFrom('system', 'user', 'assistant', 'developer'), content: text }, { requiredKeys: ['role', 'content'] });
const namedMessage = fc.record({ role: fc.constant('user'), name: text, content: text });
const property = fc.record({ type: fc.constantFrom('string', 'number'), description: text, enum: fc.array(text, { maxLength: 4 }) }, { requiredKeys: ['type'] });
const openAiTool = fc.record({
  type: fc.constant('function'),
  function: fc.record({ name: text, description: text, parameters: fc.record({ type: fc.constant('object'), properties: fc.dictionary(text, property, { maxKeys: 3 }) }) }),
});
const openAiChat = fc.record(
  { model: fc.constantFrom('gpt-4o', 'gpt-4'), messages: fc.array(fc.oneof(chatMessage, namedMessage), { maxLength: 6 }), tools: fc.array(openAiTool, { maxLength: 2 }) },
  { requiredKeys: ['model', 'messages'] },
);
const anthropicBlock = fc.oneof(
  fc.record({ type: fc.constant('text'), text }),
  fc.record({ type: fc.constant('tool_use'), id: fc.constant('toolu_1'), name: text, input: fc.dictionary(text, text, { maxKeys: 3 }) }),
  fc.record({ type: fc.constant('tool_result'), tool_use_id: fc.constant('toolu_1'), content: text }),
);
const anthropicMessages = fc.record({
  model: fc.constant('claude-sonnet-4-5'),
  max_tokens: fc.constant(1024),
  system: fc.oneof(text, fc.array(fc.record({ type: fc.constant('text'), text }), { maxLength: 2 })),
  messages: fc.array(fc.record({ role: fc.constantFrom('user', 'assistant'), content: fc.oneof(text, fc.array(anthropicBlock, { maxLength: 3 })) }), { maxLength: 5 }),
});
const converse = fc.record({
  system: fc.array(fc.record({ text }), { maxLength: 2 }),
  messages: fc.array(fc.record({ role: fc.constantFrom('user', 'assistant'), content: fc.array(fc.record({ text }), { maxLength: 3 }) }), { maxLength: 5 }),
});
const embeddings = fc.record({ model: fc.constant('text-embedding-3-small'), input: fc.oneof(text, fc.array(text, { maxLength: 5 }), fc.array(fc.nat(200_000), { maxLength: 20 })) });

type Body = Record<string, unknown>;

function holds(provider: ProviderName, path: string, encoder: (body: Body) => Tiktoken) {
  return (body: Body) => {
    const count = countPromptTokens(encoder(body), provider, path, body);
    const bound = promptUpperBound(Buffer.byteLength(JSON.stringify(body), 'utf8'));
    if (count > bound) throw new Error(`${count} tokens > bound ${bound} for ${JSON.stringify(body)}`);
  };
}

describe('promptUpperBound', () => {
  const openAiEncoder = (body: Body) => (body.model === 'gpt-4' ? cl100k : o200k);
  const numRuns = 300;

  it('bounds the exact OpenAI chat count (messages, names, tools) on o200k_base and cl100k_base', () => {
    fc.assert(fc.property(openAiChat, holds('OPENAI', '/v1/chat/completions', openAiEncoder)), { numRuns });
  });

  it('bounds the exact OpenAI Responses count (instructions, string or message input)', () => {
    const responses = fc.record({ model: fc.constant('gpt-4o'), instructions: text, input: fc.oneof(text, fc.array(chatMessage, { maxLength: 4 })) }, { requiredKeys: ['model'] });
    fc.assert(fc.property(responses, holds('OPENAI', '/v1/responses', () => o200k)), { numRuns });
  });

  it('bounds OpenAI embeddings inputs (strings and token ids)', () => {
    fc.assert(fc.property(embeddings, holds('OPENAI', '/v1/embeddings', () => cl100k)), { numRuns });
  });

  it('bounds the Mistral chat estimate', () => {
    const mistral = fc.record({ model: fc.constant('mistral-large-latest'), messages: fc.array(chatMessage, { maxLength: 6 }) });
    fc.assert(fc.property(mistral, holds('MISTRAL', '/v1/chat/completions', () => o200k)), { numRuns });
  });

  it('bounds the Anthropic Messages estimate without tools', () => {
    fc.assert(fc.property(anthropicMessages, holds('ANTHROPIC', '/v1/messages', () => o200k)), { numRuns });
  });

  it('bounds the Bedrock Converse estimate without tools', () => {
    fc.assert(fc.property(converse, holds('AWS_BEDROCK', '/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse', () => o200k)), { numRuns });
  });

  it('does not bound what costs tokens without bytes: an image by URL (documented exception)', () => {
    const body = { model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x.io/a.png' } }] }] };
    expect(countPromptTokens(o200k, 'OPENAI', '/v1/chat/completions', body)).toBeGreaterThan(promptUpperBound(Buffer.byteLength(JSON.stringify(body))));
  });
});

describe('promptUpperBoundHolds', () => {
  const markers = ['"image_url"', '"input_image"', '"document"', '"video_url"', '"file_id"', '"input_file"', '"input_audio"', '"previous_response_id"', '"conversation"', '"tools"', '"toolConfig"'];
  /** The plainest search: each marker's bytes anywhere in the body (what the function did before its one-pass form). */
  function expected(provider: ProviderName, body: Buffer): boolean {
    const prefixes = ['"image', '"input_image', '"document', '"video', '"file', '"input_file', '"input_audio', '"previous_response_id', '"conversation'];
    if (prefixes.some((m) => body.includes(m))) return false;
    return !((provider === 'ANTHROPIC' || provider === 'AWS_BEDROCK') && (body.includes('"tools"') || body.includes('"toolConfig"')));
  }

  it('finds each marker in small bodies (one pass) and large ones (one search per marker) alike, past multi-byte text', () => {
    const provider = fc.constantFrom<ProviderName>('OPENAI', 'ANTHROPIC', 'AWS_BEDROCK', 'MISTRAL');
    const body = fc.tuple(text, fc.option(fc.constantFrom(...markers), { nil: undefined }), text, fc.constantFrom(0, 20_000)).map(([before, marker, after, padding]) =>
      Buffer.from(`{"model":"m","messages":[{"role":"user","content":${JSON.stringify(before + '中'.repeat(padding / 3))}}]${marker === undefined ? '' : `,${marker}:1`},"x":${JSON.stringify(after)}}`),
    );
    fc.assert(fc.property(provider, body, (p, b) => promptUpperBoundHolds(p, b) === expected(p, b)), { numRuns: 300 });
  });

  it('is false for an image by URL and for Claude tools, true for a plain chat', () => {
    const chat = (extra: string) => Buffer.from(`{"model":"m","messages":[{"role":"user","content":"hi"}]${extra}}`);
    expect(promptUpperBoundHolds('OPENAI', chat(''))).toBe(true);
    expect(promptUpperBoundHolds('OPENAI', chat(',"image_url":{"url":"https://x.io/a.png"}'))).toBe(false);
    expect(promptUpperBoundHolds('OPENAI', chat(',"tools":[]'))).toBe(true);
    expect(promptUpperBoundHolds('ANTHROPIC', chat(',"tools":[]'))).toBe(false);
    expect(promptUpperBoundHolds('AWS_BEDROCK', Buffer.concat([chat(',"toolConfig":{}'), Buffer.alloc(20_000, 0x20)]))).toBe(false);
  });
});
