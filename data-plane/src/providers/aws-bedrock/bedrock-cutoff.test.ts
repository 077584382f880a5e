import { bedrockConverseStream, bedrockEvent, decodeEventStream } from '../../../../test/fakes/bedrock';
import { defaultBehaviour } from '../../../../test/fakes/recorder';
import { cutAfter, observe, openCutoffReader } from '../../../../test/support/data-plane/observer-harness';
import { bedrockStreamCutoff } from './bedrock-cutoff';
import { bedrockUsageAccounting as accounting } from './bedrock-usage';

const MODEL_PATH = '/model/anthropic.claude-3-haiku-20240307-v1%3A0';
const BEHAVIOUR = { ...defaultBehaviour(), content: 'one two three four five', usage: { prompt: 30, completion: 5 } };
const STREAM = Buffer.concat(bedrockConverseStream(BEHAVIOUR));
const prepared = accounting.prepareRequest(`${MODEL_PATH}/converse-stream`, Buffer.from('{"messages":[]}'), 'application/json');

const reader = () => openCutoffReader(bedrockStreamCutoff, prepared, 'application/vnd.amazon.eventstream');

describe('bedrockStreamCutoff', () => {
  it('closes the open block, then messageStop with stopReason max_tokens and metadata with the usage and latency', () => {
    // messageStart, 3 deltas
    const { relayed, text } = cutAfter(reader(), STREAM, 4, { promptTokens: 17, completionTokens: 4 }, 1234.4);
    expect(text).toBe('one two three');
    const closing = decodeEventStream(relayed).slice(4);
    expect(closing).toEqual([
      { headers: { ':event-type': 'contentBlockStop', ':content-type': 'application/json', ':message-type': 'event' }, payload: { contentBlockIndex: 0 } },
      { headers: { ':event-type': 'messageStop', ':content-type': 'application/json', ':message-type': 'event' }, payload: { stopReason: 'max_tokens' } },
      { headers: { ':event-type': 'metadata', ':content-type': 'application/json', ':message-type': 'event' }, payload: { usage: { inputTokens: 17, outputTokens: 4, totalTokens: 21 }, metrics: { latencyMs: 1234 } } },
    ]);
    const { result } = observe(accounting.observeResponse(prepared, 200, 'application/vnd.amazon.eventstream'), [relayed]);
    expect(result).toEqual({ usage: { promptTokens: 17, completionTokens: 4 }, completionText: 'one two three', complete: true });
  });

  it('closes no block when none is open (a tool block stopped, or none started)', () => {
    const toolStream = Buffer.concat([
      bedrockEvent('messageStart', { role: 'assistant' }),
      bedrockEvent('contentBlockStart', { contentBlockIndex: 1, start: { toolUse: { toolUseId: 't', name: 'f' } } }),
      bedrockEvent('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '{"a":' } } }),
      bedrockEvent('contentBlockStop', { contentBlockIndex: 1 }),
      bedrockEvent('contentBlockDelta', { contentBlockIndex: 2, delta: { text: 'late' } }),
    ]);
    const { relayed, text } = cutAfter(reader(), toolStream, 4, { promptTokens: 17, completionTokens: 2 });
    expect(text).toBe('{"a":');
    expect(decodeEventStream(relayed).slice(4).map((event) => event.headers[':event-type'])).toEqual(['messageStop', 'metadata']);
  });

  it('leaves the usage out when the prompt could not be counted', () => {
    const { relayed } = cutAfter(reader(), STREAM, 2, { promptTokens: null, completionTokens: 1 });
    expect(decodeEventStream(relayed).slice(2).map((event) => event.headers[':event-type'])).toEqual(['contentBlockStop', 'messageStop']);
  });

  it('cuts ConverseStream only (InvokeModelWithResponseStream chunks are model-native)', () => {
    expect(bedrockStreamCutoff.canCut(prepared)).toBe(true);
    expect(bedrockStreamCutoff.canCut(accounting.prepareRequest(`${MODEL_PATH}/invoke-with-response-stream`, Buffer.from('{}'), 'application/json'))).toBe(false);
    expect(bedrockStreamCutoff.canCut(accounting.prepareRequest(`${MODEL_PATH}/converse`, Buffer.from('{}'), 'application/json'))).toBe(false);
    expect(reader().needsPromptTokens).toBe(true);
  });
});
