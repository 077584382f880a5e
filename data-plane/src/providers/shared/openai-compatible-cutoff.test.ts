import firstChunkExample from '../../../../test/fixtures/providers/azure-openai/stream-first-chunk.json';
import { mistralStream } from '../../../../test/fakes/mistral';
import { openAIChatStream } from '../../../../test/fakes/openai';
import { defaultBehaviour, sse } from '../../../../test/fakes/recorder';
import { parseSse } from '../../../../test/fakes/wire';
import { azureOpenAiStreamCutoff } from '../azure-openai/azure-openai-cutoff';
import { azureOpenAiUsageAccounting } from '../azure-openai/azure-openai-usage';
import { mistralStreamCutoff } from '../mistral/mistral-cutoff';
import { mistralUsageAccounting } from '../mistral/mistral-usage';
import { openAiStreamCutoff } from '../openai/openai-cutoff';
import { openAiUsageAccounting } from '../openai/openai-usage';
import type { CutoffStreamReader, StreamCutoff } from '../stream-cutoff';
import type { PreparedRequest, UsageAccounting } from '../usage-accounting';
import { cutAfter, observe, openCutoffReader } from '../../../../test/support/data-plane/observer-harness';

const BEHAVIOUR = { ...defaultBehaviour(), content: 'one two three four five six', usage: { prompt: 11, completion: 6 } };
const TOKENS = { promptTokens: 11, completionTokens: 3 };

function prepare(accounting: UsageAccounting, body: object, path = '/v1/chat/completions', query?: string): PreparedRequest {
  return accounting.prepareRequest(path, Buffer.from(JSON.stringify(body)), 'application/json', query);
}

const open = (cutoff: StreamCutoff, prepared: PreparedRequest): CutoffStreamReader => openCutoffReader(cutoff, prepared, 'text/event-stream');

const stream = (chunks: readonly unknown[]): Buffer => Buffer.from(chunks.map((chunk) => sse(chunk)).join(''));
const json = (data: string): Record<string, unknown> => JSON.parse(data) as Record<string, unknown>;

describe('OpenAI chat completions', () => {
  it('closes after the events relayed with a length finish chunk like the stream, the usage chunk the proxy asked for, and [DONE]', () => {
    const prepared = prepare(openAiUsageAccounting, { model: 'gpt-4o-mini', messages: [], stream: true });
    expect(prepared.stripUsageChunk).toBe(true);
    const chunks = openAIChatStream(BEHAVIOUR, 'gpt-4o-mini', true);
    const reader = open(openAiStreamCutoff, prepared);
    expect(reader.needsPromptTokens).toBe(true);
    const { relayed, text } = cutAfter(reader, stream(chunks), 4, TOKENS); // role chunk + 3 words
    expect(text).toBe('one two three');
    const events = parseSse(relayed.toString()).map((event) => event.data);
    const first = chunks[0] as { id: string; created: number; system_fingerprint: string };
    expect(json(events[4])).toEqual({
      id: first.id,
      object: 'chat.completion.chunk',
      created: first.created,
      model: 'gpt-4o-mini',
      system_fingerprint: first.system_fingerprint,
      choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'length' }],
      usage: null,
    });
    expect(json(events[5])).toMatchObject({ id: first.id, choices: [], usage: { prompt_tokens: 11, completion_tokens: 3, total_tokens: 14 } });
    expect(events.slice(6)).toEqual(['[DONE]']);

    // The usage observer reads the closing events as the provider's: the usage chunk is hidden again.
    const observed = observe(openAiUsageAccounting.observeResponse(prepared, 200, 'text/event-stream'), [relayed]);
    expect(observed.result).toEqual({ usage: { promptTokens: 11, completionTokens: 3 }, responseModel: 'gpt-4o-mini', completionText: 'one two three', complete: true });
    expect(parseSse(observed.forwarded.toString()).some((event) => event.data.includes('"usage":{'))).toBe(false);
  });

  it('shows the usage chunk to a client that asked for it', () => {
    const prepared = prepare(openAiUsageAccounting, { model: 'gpt-4o-mini', messages: [], stream: true, stream_options: { include_usage: true } });
    const { relayed } = cutAfter(open(openAiStreamCutoff, prepared), stream(openAIChatStream(BEHAVIOUR, 'gpt-4o-mini', true)), 4, TOKENS);
    const observed = observe(openAiUsageAccounting.observeResponse(prepared, 200, 'text/event-stream'), [relayed]);
    expect(observed.forwarded).toEqual(relayed);
    expect(observed.result.usage).toEqual({ promptTokens: 11, completionTokens: 3 });
  });

  it('closes every choice still open, and only those (n > 1)', () => {
    const prepared = prepare(openAiUsageAccounting, { model: 'gpt-4o-mini', messages: [], stream: true, n: 3 });
    const head = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini' };
    const choice = (index: number, content: string, finish: string | null = null) => ({ ...head, choices: [{ index, delta: { content }, finish_reason: finish }] });
    const chunks = [choice(0, 'a'), choice(1, 'b'), choice(2, 'c'), choice(1, '', 'stop'), choice(0, 'more')];
    const { relayed } = cutAfter(open(openAiStreamCutoff, prepared), stream(chunks), 4, TOKENS);
    const closing = parseSse(relayed.toString()).slice(4).map((event) => event.data);
    expect(closing.slice(0, 2).map((data) => json(data).choices)).toEqual([[{ index: 0, delta: {}, finish_reason: 'length' }], [{ index: 2, delta: {}, finish_reason: 'length' }]]);
    expect(json(closing[2])).toMatchObject({ choices: [], usage: { completion_tokens: 3 } });
  });

  it('closes a legacy Completions stream with a text choice', () => {
    const prepared = prepare(openAiUsageAccounting, { model: 'gpt-3.5-turbo-instruct', prompt: 'x', stream: true }, '/v1/completions');
    const chunk = { id: 'cmpl-1', object: 'text_completion', created: 1, model: 'gpt-3.5-turbo-instruct', choices: [{ text: ' hi', index: 0, logprobs: null, finish_reason: null }] };
    const reader = open(openAiStreamCutoff, prepared);
    const { relayed, text } = cutAfter(reader, stream([chunk, chunk]), 1, TOKENS);
    expect(text).toBe(' hi');
    expect(json(parseSse(relayed.toString())[1].data)).toEqual({ ...chunk, choices: [{ text: '', index: 0, logprobs: null, finish_reason: 'length' }] });
  });

  it('cuts chat and legacy completions streams and Responses streams, nothing else', () => {
    const cuts = (body: object, path = '/v1/chat/completions') => openAiStreamCutoff.canCut(prepare(openAiUsageAccounting, body, path));
    expect(cuts({ model: 'gpt-4o', messages: [], stream: true })).toBe(true);
    expect(cuts({ model: 'gpt-4o', prompt: 'x', stream: true }, '/v1/completions')).toBe(true);
    expect(cuts({ model: 'gpt-4o', input: 'x', stream: true }, '/v1/responses')).toBe(true);
    expect(cuts({ model: 'gpt-4o', messages: [] })).toBe(false);
    expect(cuts({ model: 'text-embedding-3-small', input: 'x' }, '/v1/embeddings')).toBe(false);
    expect(openAiStreamCutoff.open(prepare(openAiUsageAccounting, { stream: true }), 'application/json')).toBeNull();
  });
});

describe('Azure OpenAI', () => {
  it('takes the closing chunk head from the chat chunks, not the opening prompt-filter chunk', () => {
    const prepared = prepare(azureOpenAiUsageAccounting, { messages: [], stream: true }, '/openai/deployments/gpt-4o/chat/completions', '?api-version=2024-10-21');
    const chunks = [firstChunkExample, ...openAIChatStream(BEHAVIOUR, 'gpt-4o-2024-11-20', true)];
    const { relayed } = cutAfter(open(azureOpenAiStreamCutoff, prepared), stream(chunks), 3, TOKENS);
    const finish = json(parseSse(relayed.toString())[3].data);
    expect(finish).toMatchObject({ id: (chunks[1] as { id: string }).id, model: 'gpt-4o-2024-11-20', choices: [{ index: 0, finish_reason: 'length' }] });
  });

  it('adds no usage chunk where the stream reports none (api-versions without stream_options)', () => {
    const prepared = prepare(azureOpenAiUsageAccounting, { messages: [], stream: true }, '/openai/deployments/gpt-4o/chat/completions', '?api-version=2024-06-01');
    const reader = open(azureOpenAiStreamCutoff, prepared);
    expect(reader.needsPromptTokens).toBe(false);
    const { relayed } = cutAfter(reader, stream(openAIChatStream(BEHAVIOUR, 'gpt-4o', false)), 3, TOKENS);
    const closing = parseSse(relayed.toString()).slice(3).map((event) => event.data);
    expect(closing).toHaveLength(2);
    expect(json(closing[0])).not.toHaveProperty('usage');
    expect(closing[1]).toBe('[DONE]');
  });
});

describe('Mistral', () => {
  it('reports the usage on the finish chunk and never writes null for a field', () => {
    const prepared = prepare(mistralUsageAccounting, { model: 'mistral-small-latest', messages: [], stream: true });
    const reader = open(mistralStreamCutoff, prepared);
    expect(reader.needsPromptTokens).toBe(true);
    const { relayed } = cutAfter(reader, stream(mistralStream(BEHAVIOUR, 'mistral-small-latest')), 4, TOKENS);
    const closing = parseSse(relayed.toString()).slice(4).map((event) => event.data);
    expect(closing[0]).not.toContain('null');
    expect(json(closing[0])).toMatchObject({ choices: [{ index: 0, delta: {}, finish_reason: 'length' }], usage: { prompt_tokens: 11, completion_tokens: 3, total_tokens: 14 } });
    expect(closing.slice(1)).toEqual(['[DONE]']);
    const observed = observe(mistralUsageAccounting.observeResponse(prepared, 200, 'text/event-stream'), [relayed]);
    expect(observed.result).toMatchObject({ usage: { promptTokens: 11, completionTokens: 3 }, completionText: 'one two three', complete: true });
  });
});
