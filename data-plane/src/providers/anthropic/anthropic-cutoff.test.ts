import { anthropicStream } from '../../../../test/fakes/anthropic';
import { defaultBehaviour } from '../../../../test/fakes/recorder';
import { parseSse } from '../../../../test/fakes/wire';
import { cutAfter, observe, openCutoffReader } from '../../../../test/support/data-plane/observer-harness';
import { anthropicStreamCutoff } from './anthropic-cutoff';
import { anthropicUsageAccounting as accounting } from './anthropic-usage';

const BEHAVIOUR = { ...defaultBehaviour(), content: 'one two three four five', usage: { prompt: 30, completion: 5, cachedRead: 10, cachedWrite: 5 } };
const STREAM = Buffer.from(anthropicStream(BEHAVIOUR, 'claude-sonnet-5-5').join(''));
const prepared = accounting.prepareRequest('/v1/messages', Buffer.from('{"model":"claude-sonnet-5-5","messages":[],"stream":true}'), 'application/json');

const reader = () => openCutoffReader(anthropicStreamCutoff, prepared, 'text/event-stream');

describe('anthropicStreamCutoff', () => {
  it('closes an open text block, then message_delta with stop_reason max_tokens and the output tokens, then message_stop', () => {
    // message_start, content_block_start, ping, 3 deltas
    const { relayed, text } = cutAfter(reader(), STREAM, 6, { promptTokens: null, completionTokens: 4 });
    expect(text).toBe('one two three');
    const closing = parseSse(relayed.toString()).slice(6);
    expect(closing).toEqual([
      { event: 'content_block_stop', data: '{"type":"content_block_stop","index":0}' },
      { event: 'message_delta', data: '{"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"output_tokens":4}}' },
      { event: 'message_stop', data: '{"type":"message_stop"}' },
    ]);
    // The prompt is message_start's (cache reads and writes included); the output the closing count.
    const { result } = observe(accounting.observeResponse(prepared, 200, 'text/event-stream'), [relayed]);
    expect(result).toEqual({ usage: { promptTokens: 30, completionTokens: 4, cachedReadTokens: 10, cachedWriteTokens: 5 }, responseModel: 'claude-sonnet-5-5', completionText: 'one two three', complete: true });
  });

  it('writes no content_block_stop when no block is open', () => {
    const { relayed } = cutAfter(reader(), STREAM, 1, { promptTokens: null, completionTokens: 0 });
    expect(parseSse(relayed.toString()).map((event) => event.event)).toEqual(['message_start', 'message_delta', 'message_stop']);
  });

  it('needs no prompt count, and cuts streamed messages only', () => {
    expect(reader().needsPromptTokens).toBe(false);
    expect(anthropicStreamCutoff.canCut(prepared)).toBe(true);
    expect(anthropicStreamCutoff.canCut(accounting.prepareRequest('/v1/messages', Buffer.from('{"messages":[]}'), 'application/json'))).toBe(false);
    expect(anthropicStreamCutoff.canCut(accounting.prepareRequest('/v1/messages/count_tokens', Buffer.from('{"messages":[],"stream":true}'), 'application/json'))).toBe(false);
  });
});
