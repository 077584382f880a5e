import { Tiktoken } from 'js-tiktoken/lite';
import cl100kBase from 'js-tiktoken/ranks/cl100k_base';
import o200kBase from 'js-tiktoken/ranks/o200k_base';
import { CLAUDE_ESTIMATE_FACTOR, CLAUDE_TOOL_SYSTEM_PROMPT_TOKENS } from '../providers/anthropic/anthropic-prompt';
import { BEDROCK_ESTIMATE_FACTORS } from '../providers/aws-bedrock/bedrock-prompt';
import { MISTRAL_ESTIMATE_FACTOR } from '../providers/mistral/mistral-prompt';
import { UNKNOWN_TOKENIZER_ESTIMATE_FACTOR } from './encodings';
import { ESTIMATED_IMAGE_TOKENS } from './prompt-tally';
import { countCompletionTokens, countPromptTokens, countTextTokens, encodingFor, estimateFactorFor, expectedCompletionTokens } from './prompt-tokens';

const o200k = new Tiktoken(o200kBase);
const cl100k = new Tiktoken(cl100kBase);
const raw = (...texts: string[]) => texts.reduce((sum, text) => sum + countTextTokens(o200k, text), 0);
const bytes = (...texts: string[]) => texts.reduce((sum, text) => sum + Buffer.byteLength(text), 0);
const estimate = (factor: number, ...texts: string[]) => Math.min(Math.ceil(raw(...texts) * factor), bytes(...texts));

describe('countTextTokens', () => {
  it('counts the cookbook strings as documented for cl100k_base', () => {
    expect(cl100k.encode('tiktoken is great!')).toEqual([83, 1609, 5963, 374, 2294, 0]);
    expect(countTextTokens(cl100k, 'tiktoken is great!')).toBe(6);
    expect(countTextTokens(cl100k, 'antidisestablishmentarianism')).toBe(6);
    expect(countTextTokens(cl100k, '2 + 2 = 4')).toBe(7);
    expect(countTextTokens(cl100k, 'お誕生日おめでとう')).toBe(9);
  });

  it('counts special-token strings as plain text instead of throwing', () => {
    expect(countTextTokens(o200k, 'a <|endoftext|> b')).toBeGreaterThan(3);
    expect(countTextTokens(o200k, '')).toBe(0);
  });
});

describe('encodingFor', () => {
  it('uses o200k_base without a model and as the base of every estimate', () => {
    expect(encodingFor('OPENAI', null)).toBe('o200k_base');
    expect(encodingFor('ANTHROPIC', 'claude-sonnet-4-5')).toBe('o200k_base');
    expect(encodingFor('MISTRAL', 'mistral-large-latest')).toBe('o200k_base');
    expect(encodingFor('AWS_BEDROCK', 'anthropic.claude-3-haiku-20240307-v1:0')).toBe('o200k_base');
  });

  it('estimates only where no public tokenizer exists', () => {
    expect(estimateFactorFor('OPENAI', 'gpt-4o')).toBe(1);
    expect(estimateFactorFor('AZURE_OPENAI', 'my-deployment')).toBe(1);
    expect(estimateFactorFor('ANTHROPIC', 'claude-sonnet-4-5')).toBe(CLAUDE_ESTIMATE_FACTOR);
    expect(estimateFactorFor('MISTRAL', 'mistral-small-latest')).toBe(MISTRAL_ESTIMATE_FACTOR);
    expect(estimateFactorFor('AWS_BEDROCK', 'us.anthropic.claude-sonnet-4-20250514-v1%3A0')).toBe(CLAUDE_ESTIMATE_FACTOR);
    expect(estimateFactorFor('AWS_BEDROCK', 'mistral.mistral-large-2402-v1:0')).toBe(MISTRAL_ESTIMATE_FACTOR);
    expect(estimateFactorFor('AWS_BEDROCK', 'meta.llama3-70b-instruct-v1:0')).toBe(BEDROCK_ESTIMATE_FACTORS.llama);
    expect(estimateFactorFor('AWS_BEDROCK', 'openai.gpt-oss-120b-1:0')).toBe(1);
    expect(estimateFactorFor('AWS_BEDROCK', 'amazon.nova-pro-v1:0')).toBe(UNKNOWN_TOKENIZER_ESTIMATE_FACTOR);
    expect(estimateFactorFor('AWS_BEDROCK', null)).toBe(UNKNOWN_TOKENIZER_ESTIMATE_FACTOR);
  });
});


describe('countPromptTokens: estimated providers', () => {
  const system = 'You are a careful assistant for a weather service.';
  const question = 'What is the weather like in Paris today? Answer in one sentence.';
  const answer = 'Let me look that up.';
  const toolName = 'get_weather';
  const toolDescription = 'Current weather for a city.';
  const inputSchema = { type: 'object', properties: { city: { type: 'string', description: 'City name' } }, required: ['city'] };
  const toolInput = { city: 'Paris' };
  const toolJson = JSON.stringify({ name: toolName, description: toolDescription, input_schema: inputSchema });
  const toolResult = '18 °C and sunny';

  const anthropicBody = {
    model: 'claude-sonnet-4-5',
    max_tokens: 1024,
    system: [{ type: 'text', text: system, cache_control: { type: 'ephemeral' } }],
    tools: [{ name: toolName, description: toolDescription, input_schema: inputSchema }],
    messages: [
      { role: 'user', content: question },
      { role: 'assistant', content: [{ type: 'text', text: answer }, { type: 'tool_use', id: 'toolu_1', name: toolName, input: toolInput }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: toolResult }] }] },
    ],
  };
  const counted = [system, question, answer, toolName, JSON.stringify(toolInput), toolResult, toolJson];
  const framing = 3 * 3 + 3;

  it('Anthropic: system blocks, message blocks, tool_use input, tool_result content and tools, scaled, plus framing and the tool system prompt', () => {
    const expected = estimate(CLAUDE_ESTIMATE_FACTOR, ...counted) + framing + CLAUDE_TOOL_SYSTEM_PROMPT_TOKENS.auto;
    expect(countPromptTokens(o200k, 'ANTHROPIC', '/v1/messages', anthropicBody)).toBe(expected);
    const forced = { ...anthropicBody, tool_choice: { type: 'tool', name: toolName } };
    expect(countPromptTokens(o200k, 'ANTHROPIC', '/v1/messages', forced)).toBe(expected - CLAUDE_TOOL_SYSTEM_PROMPT_TOKENS.auto + CLAUDE_TOOL_SYSTEM_PROMPT_TOKENS.forced);
  });

  it('Anthropic: a string system prompt counts like a text block; images by the documented estimate', () => {
    const plain = { model: 'claude-haiku-4-5', max_tokens: 10, system, messages: [{ role: 'user', content: question }] };
    expect(countPromptTokens(o200k, 'ANTHROPIC', '/v1/messages', plain)).toBe(estimate(CLAUDE_ESTIMATE_FACTOR, system, question) + 3 + 3);
    const withImage = {
      ...plain,
      messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }, { type: 'text', text: question }] }],
    };
    expect(countPromptTokens(o200k, 'ANTHROPIC', '/v1/messages', withImage)).toBe(estimate(CLAUDE_ESTIMATE_FACTOR, system, question) + 3 + 3 + ESTIMATED_IMAGE_TOKENS);
  });

  it('Bedrock Converse with a Claude model counts the same conversation as the Anthropic API', () => {
    const converse = {
      system: [{ text: system }],
      messages: [
        { role: 'user', content: [{ text: question }] },
        { role: 'assistant', content: [{ text: answer }, { toolUse: { toolUseId: 'tooluse_1', name: toolName, input: toolInput } }] },
        { role: 'user', content: [{ toolResult: { toolUseId: 'tooluse_1', content: [{ text: toolResult }] } }] },
      ],
      toolConfig: { tools: [{ toolSpec: { name: toolName, description: toolDescription, inputSchema: { json: inputSchema } } }], toolChoice: { auto: {} } },
      inferenceConfig: { maxTokens: 512 },
    };
    const anthropic = countPromptTokens(o200k, 'ANTHROPIC', '/v1/messages', anthropicBody);
    expect(countPromptTokens(o200k, 'AWS_BEDROCK', '/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse', converse)).toBe(anthropic);
    expect(countPromptTokens(o200k, 'AWS_BEDROCK', '/model/us.anthropic.claude-sonnet-4-20250514-v1:0/converse-stream', converse)).toBe(anthropic);
    // Llama: its own factor, and no Claude tool-use system prompt.
    expect(countPromptTokens(o200k, 'AWS_BEDROCK', '/model/meta.llama3-1-70b-instruct-v1:0/converse', converse)).toBe(estimate(BEDROCK_ESTIMATE_FACTORS.llama, ...counted) + framing);
  });

  it('Bedrock InvokeModel: Claude bodies as Anthropic messages, other vendors by all their strings', () => {
    const { model: _model, ...claudeBody } = anthropicBody;
    expect(countPromptTokens(o200k, 'AWS_BEDROCK', '/model/anthropic.claude-3-haiku-20240307-v1:0/invoke', { anthropic_version: 'bedrock-2023-05-31', ...claudeBody })).toBe(
      countPromptTokens(o200k, 'ANTHROPIC', '/v1/messages', anthropicBody),
    );
    const llama = { prompt: `<|begin_of_text|>${question}`, max_gen_len: 256, temperature: 0.5 };
    expect(countPromptTokens(o200k, 'AWS_BEDROCK', '/model/meta.llama3-8b-instruct-v1:0/invoke-with-response-stream', llama)).toBe(estimate(BEDROCK_ESTIMATE_FACTORS.llama, llama.prompt));
  });

  it('Mistral chat: OpenAI framing, tools as JSON plus their 2 control tokens, the Mistral factor', () => {
    const tools = [{ type: 'function', function: { name: toolName, description: toolDescription, parameters: inputSchema } }];
    const body = { model: 'mistral-large-latest', messages: [{ role: 'system', content: system }, { role: 'user', content: question }], tools };
    expect(countPromptTokens(o200k, 'MISTRAL', '/v1/chat/completions', body)).toBe(estimate(MISTRAL_ESTIMATE_FACTOR, 'system', system, 'user', question, JSON.stringify(tools)) + 3 * 2 + 3 + 2);
    expect(countPromptTokens(o200k, 'MISTRAL', '/v1/embeddings', { model: 'mistral-embed', input: [question, answer] })).toBe(estimate(MISTRAL_ESTIMATE_FACTOR, question, answer));
    expect(countPromptTokens(o200k, 'MISTRAL', '/v1/fim/completions', { model: 'codestral-latest', prompt: 'def f(', suffix: 'return x' })).toBe(estimate(MISTRAL_ESTIMATE_FACTOR, 'def f(', 'return x'));
  });

  it('Mistral OCR: its document (a URL or base64 data) is no prompt, and it produces no completion tokens', () => {
    const ocr = { model: 'mistral-ocr-latest', document: { type: 'document_url', document_url: `data:application/pdf;base64,${'JVBERi0xLjQK'.repeat(500)}` } };
    expect(countPromptTokens(o200k, 'MISTRAL', '/v1/ocr', ocr)).toBe(0);
    expect(expectedCompletionTokens('MISTRAL', '/v1/ocr', ocr)).toBe(0);
  });

  it('never scales an estimate above the byte length of the strings it counts', () => {
    // Alternating letters and digits: one o200k token per byte, so 1.25 × tokens would exceed the bytes.
    const dense = 'x9'.repeat(40);
    const body = { model: 'claude-sonnet-4-5', max_tokens: 1, messages: [{ role: 'user', content: dense }] };
    expect(Math.ceil(countTextTokens(o200k, dense) * CLAUDE_ESTIMATE_FACTOR)).toBeGreaterThan(Buffer.byteLength(dense));
    expect(countPromptTokens(o200k, 'ANTHROPIC', '/v1/messages', body)).toBe(Buffer.byteLength(dense) + 6);
  });
});

describe('countCompletionTokens', () => {
  it('is exact for OpenAI models and scaled for estimated providers', () => {
    const text = 'The weather in Paris is mild and sunny today.';
    expect(countCompletionTokens(o200k, 'OPENAI', 'gpt-4o', text)).toBe(countTextTokens(o200k, text));
    expect(countCompletionTokens(o200k, 'ANTHROPIC', 'claude-sonnet-4-5', text)).toBe(estimate(CLAUDE_ESTIMATE_FACTOR, text));
    expect(countCompletionTokens(o200k, 'MISTRAL', 'mistral-small-latest', text)).toBe(estimate(MISTRAL_ESTIMATE_FACTOR, text));
    expect(countCompletionTokens(o200k, 'ANTHROPIC', null, '')).toBe(0);
  });
});

describe('expectedCompletionTokens', () => {
  it.each([
    ['OPENAI', '/v1/chat/completions', { max_tokens: 100 }, 100],
    ['OPENAI', '/v1/chat/completions', { max_completion_tokens: 200, max_tokens: 100 }, 200],
    ['OPENAI', '/v1/chat/completions', { max_completion_tokens: 200, n: 3 }, 600],
    ['OPENAI', '/v1/completions', { max_tokens: 16, n: 2, best_of: 5 }, 80],
    ['OPENAI', '/v1/responses', { max_output_tokens: 300 }, 300],
    ['OPENAI', '/v1/chat/completions', { messages: [] }, null],
    ['OPENAI', '/v1/chat/completions', { max_tokens: -1 }, null],
    ['OPENAI', '/v1/chat/completions', { max_tokens: 1.5 }, null],
    ['OPENAI', '/v1/chat/completions', { max_tokens: '100' }, null],
    ['OPENAI', '/v1/embeddings', { input: 'x' }, 0],
    ['AZURE_OPENAI', '/openai/deployments/gpt-4o/chat/completions', { max_tokens: 50 }, 50],
    ['MISTRAL', '/v1/chat/completions', { max_tokens: 70 }, 70],
    ['MISTRAL', '/v1/embeddings', { input: ['x'] }, 0],
    ['ANTHROPIC', '/v1/messages', { max_tokens: 1024 }, 1024],
    ['ANTHROPIC', '/v1/complete', { max_tokens_to_sample: 256 }, 256],
    ['AWS_BEDROCK', '/model/anthropic.claude-3-haiku-20240307-v1:0/converse', { inferenceConfig: { maxTokens: 512 } }, 512],
    ['AWS_BEDROCK', '/model/anthropic.claude-3-haiku-20240307-v1:0/converse-stream', { max_tokens: 512 }, null],
    ['AWS_BEDROCK', '/model/anthropic.claude-3-haiku-20240307-v1:0/invoke', { max_tokens: 400 }, 400],
    ['AWS_BEDROCK', '/model/meta.llama3-8b-instruct-v1:0/invoke', { max_gen_len: 256 }, 256],
    ['AWS_BEDROCK', '/model/amazon.titan-text-express-v1/invoke', { textGenerationConfig: { maxTokenCount: 128 } }, 128],
    ['AWS_BEDROCK', '/model/amazon.nova-lite-v1:0/invoke', { inferenceConfig: { max_new_tokens: 64 } }, 64],
    ['ANTHROPIC', '/v1/messages', null, null],
  ] as const)('%s %s %j → %p', (provider, path, body, expected) => {
    expect(expectedCompletionTokens(provider, path, body)).toBe(expected);
  });
});

describe('robustness', () => {
  it('counts bodies nested deeper than the call stack without throwing', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(countPromptTokens(o200k, 'OPENAI', '/v1/chat/completions', { messages: [{ role: 'user', content: deep }] })).toBe(3 + 1 + 1 + 3);
    expect(countPromptTokens(o200k, 'ANTHROPIC', '/v1/messages', { tools: [{ name: 't', input_schema: deep }] })).toBeGreaterThan(CLAUDE_TOOL_SYSTEM_PROMPT_TOKENS.auto);
  });

  it('accepts malformed shapes everywhere', () => {
    const shapes: unknown[] = [
      { messages: 'x', tools: 'y', response_format: { type: 'json_schema', json_schema: 3 } },
      { messages: [null, 1, { role: 7, content: [null, { type: 'image_url' }, { type: 'text', text: 5 }] }] },
      { tools: [{ type: 'function', function: { parameters: { properties: { a: 1, b: { enum: 'x', type: [1, 'string'] } } } } }] },
      { system: 5, messages: [{ content: [{ type: 'tool_result', content: { nested: true } }] }], tools: [null], tool_choice: 'any' },
      { system: [null, { text: 1 }], messages: [{ content: [{ toolUse: 'x' }, { toolResult: { content: 'y' } }, { document: null }] }], toolConfig: { tools: [{ toolSpec: null }] } },
      { input: [[1, 'a'], null, { x: 'y' }], instructions: 4 },
    ];
    const paths: Array<[Parameters<typeof countPromptTokens>[1], string]> = [
      ['OPENAI', '/v1/chat/completions'],
      ['OPENAI', '/v1/responses'],
      ['OPENAI', '/v1/embeddings'],
      ['MISTRAL', '/v1/chat/completions'],
      ['ANTHROPIC', '/v1/messages'],
      ['AWS_BEDROCK', '/model/anthropic.claude-v2/converse'],
      ['AWS_BEDROCK', '/model/anthropic.claude-v2/invoke'],
      ['PROVIDER_UNSPECIFIED', '/anything'],
      [42, '/anything'],
    ];
    for (const body of shapes) {
      for (const [provider, path] of paths) {
        const count = countPromptTokens(o200k, provider, path, body);
        expect(Number.isSafeInteger(count) && count >= 0).toBe(true);
        expect(() => expectedCompletionTokens(provider, path, body)).not.toThrow();
      }
    }
  });
});
