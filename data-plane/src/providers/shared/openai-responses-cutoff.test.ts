import { openAIResponseStream } from '../../../../test/fakes/openai-responses';
import { defaultBehaviour } from '../../../../test/fakes/recorder';
import { parseSse } from '../../../../test/fakes/wire';
import { openAiStreamCutoff } from '../openai/openai-cutoff';
import { openAiUsageAccounting as accounting } from '../openai/openai-usage';
import { cutAfter, observe, openCutoffReader } from '../../../../test/support/data-plane/observer-harness';

const BEHAVIOUR = { ...defaultBehaviour(), content: 'one two three four five', usage: { prompt: 30, completion: 5 } };
const EVENTS = openAIResponseStream(BEHAVIOUR, 'gpt-5-mini');
const STREAM = Buffer.from(EVENTS.join(''));
const prepared = accounting.prepareRequest('/v1/responses', Buffer.from('{"model":"gpt-5-mini","input":"x","stream":true}'), 'application/json');

const reader = () => openCutoffReader(openAiStreamCutoff, prepared, 'text/event-stream');

const data = (event: { data: string }): Record<string, unknown> => JSON.parse(event.data) as Record<string, unknown>;

describe('Responses API stream cut-off', () => {
  it('finishes the open part and item with the text streamed, then response.incomplete with max_output_tokens, output and usage', () => {
    // created, in_progress, item added, part added, 3 deltas
    const { relayed, text } = cutAfter(reader(), STREAM, 7, { promptTokens: 30, completionTokens: 3 });
    expect(text).toBe('one two three');
    const events = parseSse(relayed.toString());
    const closing = events.slice(7);
    expect(closing.map((event) => event.event)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.incomplete']);
    expect(closing.map((event) => data(event).sequence_number)).toEqual([7, 8, 9, 10]);
    const item = data(events[2]).item as { id: string };
    expect(data(closing[0])).toMatchObject({ item_id: item.id, output_index: 0, content_index: 0, text: 'one two three' });
    const finished = { ...item, status: 'incomplete', content: [{ type: 'output_text', annotations: [], text: 'one two three' }] };
    expect(data(closing[2]).item).toEqual(finished);
    const response = data(closing[3]).response as Record<string, unknown>;
    expect(response).toMatchObject({
      id: (data(events[0]).response as { id: string }).id,
      status: 'incomplete',
      incomplete_details: { reason: 'max_output_tokens' },
      output: [finished],
      usage: { input_tokens: 30, output_tokens: 3, total_tokens: 33 },
    });
    const { result } = observe(accounting.observeResponse(prepared, 200, 'text/event-stream'), [relayed]);
    expect(result).toEqual({ usage: { promptTokens: 30, completionTokens: 3 }, responseModel: 'gpt-5-mini', completionText: 'one two three', complete: true });
  });

  it('keeps the items already done as they were (a reasoning item before the message)', () => {
    const events = openAIResponseStream({ ...BEHAVIOUR, usage: { ...BEHAVIOUR.usage, reasoning: 2 } }, 'gpt-5-mini');
    // created, in_progress, reasoning added + done, message added, part added, 1 delta
    const { relayed } = cutAfter(reader(), Buffer.from(events.join('')), 7, { promptTokens: 30, completionTokens: 1 });
    const incomplete = parseSse(relayed.toString()).at(-1);
    const output = (data(incomplete ?? { data: '{}' }).response as { output: Array<{ type: string; status?: string }> }).output;
    expect(output.map((item) => [item.type, item.status])).toEqual([
      ['reasoning', undefined],
      ['message', 'incomplete'],
    ]);
  });
});
