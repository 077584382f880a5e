import { Tiktoken } from 'js-tiktoken/lite';
import cl100kBase from 'js-tiktoken/ranks/cl100k_base';
import o200kBase from 'js-tiktoken/ranks/o200k_base';
import { countPromptTokens, countTextTokens, encodingFor, requestModel } from '../../tokens/prompt-tokens';
import { OPENAI_IMAGE_TOKENS } from './openai-compatible-prompt';

// Counted through countPromptTokens, as the token worker counts: OpenAI's own tallies and encodings
// (the base every OpenAI-compatible provider builds on), checked against OpenAI's cookbook.
const o200k = new Tiktoken(o200kBase);
const cl100k = new Tiktoken(cl100kBase);

// OpenAI cookbook, "How to count tokens with tiktoken", section 6: the API reported 129 prompt tokens
// for gpt-3.5-turbo, gpt-4-0613 and gpt-4, and 124 for gpt-4o and gpt-4o-mini.
const COOKBOOK_MESSAGES = [
  { role: 'system', content: 'You are a helpful, pattern-following assistant that translates corporate jargon into plain English.' },
  { role: 'system', name: 'example_user', content: 'New synergies will help drive top-line growth.' },
  { role: 'system', name: 'example_assistant', content: 'Things working well together will increase revenue.' },
  { role: 'system', name: 'example_user', content: "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage." },
  { role: 'system', name: 'example_assistant', content: "Let's talk later when we're less busy about how to do better." },
  { role: 'user', content: "This late pivot means we don't have time to boil the ocean for the client deliverable." },
];

// Same notebook, section 7: with this tool the API reported 105 prompt tokens (gpt-3.5-turbo, gpt-4)
// and 101 (gpt-4o, gpt-4o-mini).
const COOKBOOK_TOOLS = [
  {
    type: 'function',
    function: {
      name: 'get_current_weather',
      description: 'Get the current weather in a given location',
      parameters: {
        type: 'object',
        properties: {
          location: { type: 'string', description: 'The city and state, e.g. San Francisco, CA' },
          unit: { type: 'string', description: 'The unit of temperature to return', enum: ['celsius', 'fahrenheit'] },
        },
        required: ['location'],
      },
    },
  },
];
const COOKBOOK_TOOL_MESSAGES = [
  { role: 'system', content: 'You are a helpful assistant that can answer to questions about the weather.' },
  { role: 'user', content: "What's the weather like in San Francisco?" },
];

const encoderFor = (model: string) => (encodingFor('OPENAI', model) === 'o200k_base' ? o200k : cl100k);

describe('encodingFor', () => {
  it.each([
    ['gpt-4o', 'o200k_base'],
    ['gpt-4o-mini-2024-07-18', 'o200k_base'],
    ['chatgpt-4o-latest', 'o200k_base'],
    ['gpt-4.1-nano', 'o200k_base'],
    ['gpt-4.5-preview', 'o200k_base'],
    ['gpt-5-mini', 'o200k_base'],
    ['o1-preview', 'o200k_base'],
    ['o3-mini', 'o200k_base'],
    ['o4-mini', 'o200k_base'],
    ['ft:gpt-4o-mini:acme::abc123', 'o200k_base'],
    ['some-future-model', 'o200k_base'],
    ['gpt-4', 'cl100k_base'],
    ['gpt-4-0613', 'cl100k_base'],
    ['gpt-4-turbo', 'cl100k_base'],
    ['gpt-4-32k', 'cl100k_base'],
    ['gpt-3.5-turbo', 'cl100k_base'],
    ['gpt-35-turbo', 'cl100k_base'],
    ['ft:gpt-3.5-turbo-0125:acme::x', 'cl100k_base'],
    ['text-embedding-3-small', 'cl100k_base'],
    ['text-embedding-ada-002', 'cl100k_base'],
  ])('OpenAI %s → %s', (model, encoding) => {
    expect(encodingFor('OPENAI', model)).toBe(encoding);
    expect(encodingFor('AZURE_OPENAI', model)).toBe(encoding);
  });
});

describe('countPromptTokens: OpenAI chat completions, against the cookbook', () => {
  it.each([
    ['gpt-3.5-turbo', 129],
    ['gpt-4-0613', 129],
    ['gpt-4', 129],
    ['gpt-4o', 124],
    ['gpt-4o-mini', 124],
  ])('the example conversation costs %s the documented %i prompt tokens', (model, documented) => {
    expect(countPromptTokens(encoderFor(model), 'OPENAI', '/v1/chat/completions', { model, messages: COOKBOOK_MESSAGES })).toBe(documented);
  });

  it.each([
    ['gpt-3.5-turbo', 105],
    ['gpt-4', 105],
    ['gpt-4o', 101],
    ['gpt-4o-mini', 101],
  ])('the example with a function tool costs %s the documented %i prompt tokens', (model, documented) => {
    const body = { model, messages: COOKBOOK_TOOL_MESSAGES, tools: COOKBOOK_TOOLS };
    expect(countPromptTokens(encoderFor(model), 'OPENAI', '/v1/chat/completions', body)).toBe(documented);
  });

  it('counts the legacy `functions` parameter like tools', () => {
    const functions = COOKBOOK_TOOLS.map((tool) => tool.function);
    expect(countPromptTokens(o200k, 'OPENAI', '/v1/chat/completions', { model: 'gpt-4o', messages: COOKBOOK_TOOL_MESSAGES, functions })).toBe(101);
  });

  it('counts Azure deployments like the model they are named after, whatever the path prefix', () => {
    const body = { messages: COOKBOOK_MESSAGES };
    expect(countPromptTokens(cl100k, 'AZURE_OPENAI', '/openai/deployments/gpt-4/chat/completions?api-version=2024-10-21', body)).toBe(129);
    expect(countPromptTokens(o200k, 'AZURE_OPENAI', '/openai/deployments/gpt-4o/chat/completions', body)).toBe(124);
    expect(requestModel('AZURE_OPENAI', '/openai/deployments/prod-chat/chat/completions', { model: 'x' })).toBe('prod-chat');
    expect(requestModel('AZURE_OPENAI', '/openai/v1/chat/completions', { model: 'gpt-4o' })).toBe('gpt-4o');
  });

  it('counts text parts of array content exactly like string content, and images by the documented estimate', () => {
    const asString = countPromptTokens(o200k, 'OPENAI', '/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'Describe both pictures.' }] });
    const withImages = countPromptTokens(o200k, 'OPENAI', '/v1/chat/completions', {
      model: 'gpt-4o',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Describe both pictures.' },
            { type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'low' } },
            { type: 'image_url', image_url: { url: 'https://example.com/b.png' } },
          ],
        },
      ],
    });
    expect(withImages).toBe(asString + OPENAI_IMAGE_TOKENS.low + OPENAI_IMAGE_TOKENS.high);
  });

  it('counts assistant tool calls and tool results, not their ids', () => {
    const base = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Weather in Paris?' }] };
    const args = '{"location":"Paris, France"}';
    const withCalls = {
      model: 'gpt-4o',
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_abc', type: 'function', function: { name: 'get_current_weather', arguments: args } }] },
        { role: 'tool', tool_call_id: 'call_abc', content: '18 degrees' },
      ],
    };
    const expected =
      countPromptTokens(o200k, 'OPENAI', '/v1/chat/completions', base) +
      3 + countTextTokens(o200k, 'assistant') + countTextTokens(o200k, 'get_current_weather') + countTextTokens(o200k, args) +
      3 + countTextTokens(o200k, 'tool') + countTextTokens(o200k, '18 degrees');
    expect(countPromptTokens(o200k, 'OPENAI', '/v1/chat/completions', withCalls)).toBe(expected);
  });

  it('adds a json_schema response format: name, description and the schema as JSON', () => {
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
    const base = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] };
    const withFormat = { ...base, response_format: { type: 'json_schema', json_schema: { name: 'reply', schema, strict: true } } };
    expect(countPromptTokens(o200k, 'OPENAI', '/v1/chat/completions', withFormat)).toBe(
      countPromptTokens(o200k, 'OPENAI', '/v1/chat/completions', base) + countTextTokens(o200k, 'reply') + countTextTokens(o200k, JSON.stringify(schema)),
    );
  });

  it('counts nested property schemas beyond the cookbook fields as JSON', () => {
    const tool = (properties: object) => ({ model: 'gpt-4o', messages: [], tools: [{ type: 'function', function: { name: 'f', description: 'd', parameters: { type: 'object', properties } } }] });
    const flat = countPromptTokens(o200k, 'OPENAI', '/v1/chat/completions', tool({ tags: { type: 'array', description: 'Tags' } }));
    const nested = countPromptTokens(o200k, 'OPENAI', '/v1/chat/completions', tool({ tags: { type: 'array', description: 'Tags', items: { type: 'string' } } }));
    expect(nested).toBe(flat + countTextTokens(o200k, '{"items":{"type":"string"}}'));
  });
});

describe('countPromptTokens: other OpenAI endpoints', () => {
  it('counts embeddings input given as a string, strings, token ids or arrays of token ids, without framing', () => {
    const path = '/v1/embeddings';
    expect(countPromptTokens(cl100k, 'OPENAI', path, { model: 'text-embedding-3-small', input: 'tiktoken is great!' })).toBe(6);
    expect(countPromptTokens(cl100k, 'OPENAI', path, { model: 'text-embedding-3-small', input: ['tiktoken is great!', '2 + 2 = 4'] })).toBe(13);
    expect(countPromptTokens(cl100k, 'OPENAI', path, { model: 'text-embedding-3-small', input: [83, 1609, 5963] })).toBe(3);
    expect(countPromptTokens(cl100k, 'OPENAI', path, { model: 'text-embedding-3-small', input: [[83, 1609], [5963, 374, 2294]] })).toBe(5);
    expect(countPromptTokens(cl100k, 'AZURE_OPENAI', '/openai/deployments/text-embedding-3-small/embeddings', { input: 'tiktoken is great!' })).toBe(6);
  });

  it('counts legacy completions prompt and suffix', () => {
    expect(countPromptTokens(cl100k, 'OPENAI', '/v1/completions', { model: 'gpt-3.5-turbo-instruct', prompt: 'tiktoken is great!', suffix: '2 + 2 = 4' })).toBe(13);
    expect(countPromptTokens(cl100k, 'OPENAI', '/v1/completions', { model: 'gpt-3.5-turbo-instruct', prompt: ['tiktoken is great!', 'tiktoken is great!'] })).toBe(12);
  });

  it('counts the Responses API like the equivalent chat: instructions as a developer message, input, function tools', () => {
    const tool = COOKBOOK_TOOLS[0]!.function;
    const responses = countPromptTokens(o200k, 'OPENAI', '/v1/responses', {
      model: 'gpt-4o',
      instructions: COOKBOOK_TOOL_MESSAGES[0]!.content,
      input: COOKBOOK_TOOL_MESSAGES[1]!.content,
      tools: [{ type: 'function', ...tool }],
    });
    const chat = countPromptTokens(o200k, 'OPENAI', '/v1/chat/completions', {
      model: 'gpt-4o',
      messages: [{ role: 'developer', content: COOKBOOK_TOOL_MESSAGES[0]!.content }, COOKBOOK_TOOL_MESSAGES[1]],
      tools: COOKBOOK_TOOLS,
    });
    expect(responses).toBe(chat);
    const items = countPromptTokens(o200k, 'OPENAI', '/v1/responses', {
      model: 'gpt-4o',
      input: [{ role: 'user', content: [{ type: 'input_text', text: COOKBOOK_TOOL_MESSAGES[1]!.content }] }],
    });
    expect(items).toBe(countPromptTokens(o200k, 'OPENAI', '/v1/chat/completions', { model: 'gpt-4o', messages: [COOKBOOK_TOOL_MESSAGES[1]] }));
  });

  it('counts every string of a body of unknown shape', () => {
    expect(countPromptTokens(o200k, 'OPENAI', '/v1/moderations', { input: 'tiktoken is great!', model: 'omni-moderation-latest' })).toBe(
      countTextTokens(o200k, 'tiktoken is great!') + countTextTokens(o200k, 'omni-moderation-latest'),
    );
    expect(countPromptTokens(o200k, 'OPENAI', '/v1/chat/completions', null)).toBe(0);
    expect(countPromptTokens(o200k, 'OPENAI', '/v1/chat/completions', 'just text')).toBe(countTextTokens(o200k, 'just text'));
  });
});
