import fc from 'fast-check';
import messageExample from '../../../../test/fixtures/providers/anthropic/message.json';
import { anthropicStream } from '../../../../test/fakes/anthropic';
import { defaultBehaviour, sse } from '../../../../test/fakes/recorder';
import { RequestBodyError } from '../usage-accounting';
import { observe, observeAtEverySplit, piecesOf, providerFixture } from '../../../../test/support/data-plane/observer-harness';
import { anthropicUsageAccounting as accounting } from './anthropic-usage';

const MESSAGES = '/v1/messages';

function prepare(body: object, path = MESSAGES): ReturnType<typeof accounting.prepareRequest> {
  return accounting.prepareRequest(path, Buffer.from(JSON.stringify(body)), 'application/json');
}

const streamed = prepare({ model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [], stream: true });
const unstreamed = prepare({ model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [] });

describe('anthropicUsageAccounting.prepareRequest', () => {
  it('reads model, stream and max_tokens and keeps the bytes', () => {
    const raw = Buffer.from('{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,"messages":[]}');
    const prepared = accounting.prepareRequest(MESSAGES, raw, 'application/json');
    expect(prepared).toMatchObject({ model: 'claude-sonnet-4-5', stream: true, maxCompletionTokens: 1024, stripUsageChunk: false });
    expect(prepared.body).toBe(raw);
    expect(() => accounting.prepareRequest(MESSAGES, Buffer.from('not json'), 'application/json')).toThrow(RequestBodyError);
  });
});

describe('anthropicUsageAccounting.observeResponse', () => {
  it('reads the documented message', () => {
    const { result } = observe(accounting.observeResponse(unstreamed, 200, 'application/json'), [providerFixture('anthropic', 'message.json')]);
    // The fixture reports both cache counts as 0: no details.
    expect(result).toEqual({ usage: { promptTokens: 2095, completionTokens: 503 }, responseModel: 'claude-sonnet-4-5-20250929', completionText: 'Hi! My name is Claude.', complete: true });
  });

  it('counts cache writes and reads as prompt tokens', () => {
    const cached = { ...messageExample, usage: { ...messageExample.usage, input_tokens: 10, cache_creation_input_tokens: 1200, cache_read_input_tokens: 800 } };
    const { result } = observe(accounting.observeResponse(unstreamed, 200, 'application/json'), [Buffer.from(JSON.stringify(cached))]);
    expect(result.usage).toEqual({ promptTokens: 2010, completionTokens: 503, cachedReadTokens: 800, cachedWriteTokens: 1200 });
  });

  it('reads the thinking tokens of extended thinking as the reasoning part of the output', () => {
    const thinking = { ...messageExample, usage: { ...messageExample.usage, input_tokens: 10, output_tokens: 503, output_tokens_details: { thinking_tokens: 420 } } };
    const { result } = observe(accounting.observeResponse(unstreamed, 200, 'application/json'), [Buffer.from(JSON.stringify(thinking))]);
    expect(result.usage).toEqual({ promptTokens: 10, completionTokens: 503, reasoningTokens: 420 });
  });

  it('collects thinking and tool use from the content blocks', () => {
    const body = {
      ...messageExample,
      content: [
        { type: 'thinking', thinking: 'Let me see. ', signature: 'sig' },
        { type: 'text', text: 'Checking.' },
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
      ],
    };
    const { result } = observe(accounting.observeResponse(unstreamed, 200, 'application/json'), [Buffer.from(JSON.stringify(body))]);
    expect(result.completionText).toBe('Let me see. Checking.get_weather{"city":"Paris"}');
  });

  it('charges nothing for count_tokens, which is free', () => {
    const prepared = prepare({ model: 'claude-sonnet-4-5', messages: [] }, '/v1/messages/count_tokens');
    const { result } = observe(accounting.observeResponse(prepared, 200, 'application/json'), [Buffer.from('{"input_tokens":2095}')]);
    expect(result.usage).toEqual({ promptTokens: 0, completionTokens: 0 });
  });

  it('charges nothing for creating a message batch, which is billed when it runs', () => {
    const prepared = prepare({ requests: [{ custom_id: 'a', params: { model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'Hello there, a long prompt' }] } }] }, '/v1/messages/batches');
    const batch = { id: 'msgbatch_01', type: 'message_batch', processing_status: 'in_progress', request_counts: { processing: 1, succeeded: 0, errored: 0, canceled: 0, expired: 0 }, ended_at: null, created_at: '2024-09-24T18:37:24.100435Z', expires_at: '2024-09-25T18:37:24.100435Z', cancel_initiated_at: null, results_url: null };
    const { result } = observe(accounting.observeResponse(prepared, 200, 'application/json'), [Buffer.from(JSON.stringify(batch))]);
    expect(result.usage).toEqual({ promptTokens: 0, completionTokens: 0 });
  });

  it.each([400, 401, 413, 429, 500, 529])('reports no usage for a %i error', (status) => {
    const { result } = observe(accounting.observeResponse(unstreamed, status, 'application/json'), [providerFixture('anthropic', 'errors.json')]);
    expect(result).toEqual({ usage: null, completionText: '', complete: true });
  });

  it('reads the recorded stream (message_start + cumulative message_delta) at every split offset', () => {
    const recorded = providerFixture('anthropic', 'message-stream.sse');
    const { whole, splits } = observeAtEverySplit(() => accounting.observeResponse(streamed, 200, 'text/event-stream; charset=utf-8'), recorded);
    expect(whole.result).toEqual({ usage: { promptTokens: 25, completionTokens: 15 }, responseModel: 'claude-sonnet-4-5-20250929', completionText: 'Hello!', complete: true });
    for (const split of [whole, ...splits]) {
      expect(split.forwarded.equals(recorded)).toBe(true);
      expect(split.result).toEqual(whole.result);
    }
  });

  it('gives the same result for any chunking of a generated stream, mid-UTF-8 cuts included (property)', () => {
    const behaviour = { ...defaultBehaviour(), content: 'Grüße aus Köln 🎉 und 日本語', usage: { prompt: 77, completion: 12 } };
    const bytes = Buffer.from(anthropicStream(behaviour, 'claude-sonnet-4-5').join(''));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 40 }), (cuts) => {
        const { forwarded, result } = observe(accounting.observeResponse(streamed, 200, 'text/event-stream'), piecesOf(bytes, cuts));
        expect(forwarded.equals(bytes)).toBe(true);
        expect(result).toEqual({ usage: { promptTokens: 77, completionTokens: 12 }, responseModel: 'claude-sonnet-4-5', completionText: behaviour.content, complete: true });
      }),
    );
  });

  it('reports a stream cut before message_delta with the prompt tokens from message_start, but no usage', () => {
    const recorded = providerFixture('anthropic', 'message-stream.sse');
    const cut = recorded.indexOf('event: message_delta') + 30;
    const { result } = observe(accounting.observeResponse(streamed, 200, 'text/event-stream'), [recorded.subarray(0, cut)], false);
    expect(result).toEqual({ usage: null, reportedPromptTokens: 25, responseModel: 'claude-sonnet-4-5-20250929', completionText: 'Hello!', complete: false });
    // Cut after message_delta but before message_stop: the usage is final.
    const beforeStop = recorded.indexOf('event: message_stop');
    const late = observe(accounting.observeResponse(streamed, 200, 'text/event-stream'), [recorded.subarray(0, beforeStop)], false);
    expect(late.result).toEqual({ usage: { promptTokens: 25, completionTokens: 15 }, responseModel: 'claude-sonnet-4-5-20250929', completionText: 'Hello!', complete: false });
  });

  it('takes cache tokens from message_start and updated counts from message_delta; reads events without names', () => {
    const events = [
      sse({ type: 'message_start', message: { usage: { input_tokens: 3, cache_creation_input_tokens: 100, cache_read_input_tokens: 0, output_tokens: 1 } } }),
      sse({ type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hm ' } }),
      sse({ type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"q":' } }),
      sse({ type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '1}' } }),
      sse({ type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { input_tokens: 5, cache_creation_input_tokens: 100, cache_read_input_tokens: 50, output_tokens: 40 } }),
      sse({ type: 'message_stop' }),
    ];
    const { result } = observe(accounting.observeResponse(streamed, 200, 'text/event-stream'), [Buffer.from(events.join(''))]);
    // message_delta's counts are final: 5 + 100 written + 50 read.
    expect(result).toEqual({ usage: { promptTokens: 155, completionTokens: 40, cachedReadTokens: 50, cachedWriteTokens: 100 }, completionText: 'hm {"q":1}', complete: true });
  });

  it('sees the end of a legacy Text Completions stream (/v1/complete) in its completion event with a stop_reason', () => {
    const legacy = accounting.prepareRequest('/v1/complete', Buffer.from('{"model":"claude-2.1","prompt":"\\n\\nHuman: Hi\\n\\nAssistant:","max_tokens_to_sample":50,"stream":true}'), 'application/json');
    const events = [
      sse({ type: 'completion', completion: ' Hello', stop_reason: null, model: 'claude-2.1' }, 'completion'),
      sse({ type: 'ping' }, 'ping'),
      sse({ type: 'completion', completion: '!', stop_reason: 'stop_sequence', model: 'claude-2.1' }, 'completion'),
    ];
    const observed = (count: number) => observe(accounting.observeResponse(legacy, 200, 'text/event-stream'), [Buffer.from(events.slice(0, count).join(''))]).result.complete;
    expect(observed(3)).toBe(true);
    expect(observed(2)).toBe(false);
  });

  it('treats an error event mid-stream as the end of an incomplete stream, failed with the status of its error type', () => {
    const recorded = providerFixture('anthropic', 'message-stream.sse').toString();
    const broken = recorded.slice(0, recorded.indexOf('event: content_block_stop')) + sse({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, 'error');
    const { result } = observe(accounting.observeResponse(streamed, 200, 'text/event-stream'), [Buffer.from(broken)]);
    expect(result).toEqual({ usage: null, reportedPromptTokens: 25, responseModel: 'claude-sonnet-4-5-20250929', completionText: 'Hello!', complete: false, streamError: 529 });
    const rateLimited = recorded.slice(0, recorded.indexOf('event: content_block_stop')) + sse({ type: 'error', error: { type: 'rate_limit_error', message: 'Slow down' } }, 'error');
    expect(observe(accounting.observeResponse(streamed, 200, 'text/event-stream'), [Buffer.from(rateLimited)]).result.streamError).toBe(429);
    // A stream that ends well carries no error.
    expect(observe(accounting.observeResponse(streamed, 200, 'text/event-stream'), [Buffer.from(recorded)]).result.streamError).toBeUndefined();
  });
});

describe('anthropicUsageAccounting operations', () => {
  it.each([
    ['/v1/messages', 'messages'],
    ['/v1/messages/count_tokens', 'count_tokens'],
    ['/v1/complete', 'completions'],
    ['/v1/messages/batches', 'other'],
    ['/v1/models', 'other'],
  ] as const)('names %s as %s', (path, operation) => {
    expect(prepare({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [] }, path).operation).toBe(operation);
  });
});

describe('anthropicUsageAccounting cache details', () => {
  const event = (type: string, data: object): string => sse({ type, ...data }, type);
  /** A stream whose message_delta reports only output_tokens (as the Messages streaming example does). */
  function cachedStream(model: string, startUsage: object, outputTokens: number, text: string): Buffer {
    return Buffer.from(
      [
        event('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', content: [], model, stop_reason: null, stop_sequence: null, usage: startUsage } }),
        event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
        event('content_block_delta', { index: 0, delta: { type: 'text_delta', text } }),
        event('content_block_stop', { index: 0 }),
        event('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: outputTokens } }),
        event('message_stop', {}),
      ].join(''),
    );
  }

  it('keeps message_start cache counts when message_delta reports only output tokens', () => {
    const bytes = cachedStream('claude-sonnet-4-5-20250929', { input_tokens: 21, cache_creation_input_tokens: 188086, cache_read_input_tokens: 0, output_tokens: 1 }, 393, 'Summary');
    const { whole, splits } = observeAtEverySplit(() => accounting.observeResponse(streamed, 200, 'text/event-stream'), bytes);
    expect(whole.result).toEqual({
      usage: { promptTokens: 21 + 188086, completionTokens: 393, cachedWriteTokens: 188086 },
      responseModel: 'claude-sonnet-4-5-20250929',
      completionText: 'Summary',
      complete: true,
    });
    for (const split of splits) expect(split.result).toEqual(whole.result);
    const read = cachedStream('claude-sonnet-4-5-20250929', { input_tokens: 3, cache_creation_input_tokens: 0, cache_read_input_tokens: 188086, output_tokens: 1 }, 12, 'Again');
    expect(observe(accounting.observeResponse(streamed, 200, 'text/event-stream'), [read]).result.usage).toEqual({ promptTokens: 188089, completionTokens: 12, cachedReadTokens: 188086 });
  });

  it('lays message_delta counters over message_start one by one, as the SDK accumulates them', () => {
    // MessageDeltaUsage: input_tokens, cache_* and output_tokens_details are nullable cumulative totals, "omitted when
    // they don't apply"; the SDK overwrites each one that is present and keeps message_start's for the rest.
    const event = (type: string, data: object): string => sse({ type, ...data }, type);
    const stream = (delta: object): Buffer =>
      Buffer.from(
        [
          event('message_start', { message: { model: 'claude-opus-4-1', usage: { input_tokens: 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 5000, output_tokens: 1 } } }),
          event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'hi' } }),
          event('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: delta }),
          event('message_stop', {}),
        ].join(''),
      );
    const usageOf = (delta: object) => observe(accounting.observeResponse(streamed, 200, 'text/event-stream'), [stream(delta)]).result.usage;
    // input_tokens repeated, cache counts omitted or null: the cache read message_start reported is still part of the prompt.
    expect(usageOf({ input_tokens: 10, output_tokens: 20 })).toEqual({ promptTokens: 5010, completionTokens: 20, cachedReadTokens: 5000 });
    expect(usageOf({ input_tokens: 12, cache_creation_input_tokens: null, cache_read_input_tokens: null, output_tokens: 20 })).toEqual({ promptTokens: 5012, completionTokens: 20, cachedReadTokens: 5000 });
    // The thinking tokens of the whole message come with message_delta, whether or not it repeats the input counts.
    expect(usageOf({ output_tokens: 20, output_tokens_details: { thinking_tokens: 7 } })).toEqual({ promptTokens: 5010, completionTokens: 20, cachedReadTokens: 5000, reasoningTokens: 7 });
    expect(usageOf({ input_tokens: 10, cache_read_input_tokens: 5000, output_tokens: 20, output_tokens_details: { thinking_tokens: 7 } })).toEqual({
      promptTokens: 5010,
      completionTokens: 20,
      cachedReadTokens: 5000,
      reasoningTokens: 7,
    });
  });

  it('keeps each stream its own message_start: two interleaved streams do not share cache counts', () => {
    const cached = cachedStream('claude-a', { input_tokens: 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 500, output_tokens: 1 }, 5, 'one');
    const plain = cachedStream('claude-b', { input_tokens: 7, output_tokens: 1 }, 4, 'two');
    const first = accounting.observeResponse(streamed, 200, 'text/event-stream');
    const second = accounting.observeResponse(streamed, 200, 'text/event-stream');
    // message_start of the cached stream, then the whole plain stream, then the rest of the cached one.
    const cut = cached.indexOf('event: content_block_start');
    first.write(cached.subarray(0, cut));
    second.write(plain);
    second.flush();
    first.write(cached.subarray(cut));
    first.flush();
    expect(second.result()).toEqual({ usage: { promptTokens: 7, completionTokens: 4 }, responseModel: 'claude-b', completionText: 'two', complete: true });
    expect(first.result()).toEqual({ usage: { promptTokens: 510, completionTokens: 5, cachedReadTokens: 500 }, responseModel: 'claude-a', completionText: 'one', complete: true });
  });

  it('reads cache reads alone from a JSON message', () => {
    const body = { ...messageExample, usage: { input_tokens: 4, cache_creation_input_tokens: 0, cache_read_input_tokens: 2048, output_tokens: 9 } };
    expect(observe(accounting.observeResponse(unstreamed, 200, 'application/json'), [Buffer.from(JSON.stringify(body))]).result.usage).toEqual({
      promptTokens: 2052,
      completionTokens: 9,
      cachedReadTokens: 2048,
    });
  });
});

describe('anthropicUsageAccounting: Message Batch results', () => {
  const results = (id: string) => accounting.prepareRequest(`/v1/messages/batches/${id}/results`, Buffer.alloc(0), undefined);
  const succeeded = (customId: string, usage: object) => JSON.stringify({ custom_id: customId, result: { type: 'succeeded', message: { ...messageExample, usage } } });

  it('sums the usage of the succeeded requests (cache reads and writes in the prompt), names the batch, and bills nothing for the others', () => {
    const prepared = results('msgbatch_01abc');
    expect(prepared.resultsOf).toBe('msgbatch_01abc');
    const body = [
      succeeded('a', { input_tokens: 100, cache_read_input_tokens: 1000, cache_creation_input_tokens: 0, output_tokens: 20 }),
      JSON.stringify({ custom_id: 'b', result: { type: 'errored', error: { type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens too large' } } } }),
      JSON.stringify({ custom_id: 'c', result: { type: 'expired' } }),
      succeeded('d', { input_tokens: 50, cache_read_input_tokens: 0, cache_creation_input_tokens: 500, output_tokens: 7 }),
    ].join('\n') + '\n';
    expect(observe(accounting.observeResponse(prepared, 200, 'application/binary'), [Buffer.from(body)]).result).toEqual({
      usage: { promptTokens: 1650, completionTokens: 27, cachedReadTokens: 1000, cachedWriteTokens: 500 },
      completionText: '',
      complete: true,
      responseModel: messageExample.model,
      jobId: 'msgbatch_01abc',
    });
  });

  it('leaves other batch paths and ordinary messages alone', () => {
    expect(accounting.prepareRequest('/v1/messages/batches/msgbatch_01abc', Buffer.alloc(0), undefined).resultsOf).toBeUndefined();
    expect(accounting.prepareRequest('/v1/messages', Buffer.from('{"model":"m","max_tokens":1,"messages":[]}'), 'application/json').resultsOf).toBeUndefined();
  });
});
