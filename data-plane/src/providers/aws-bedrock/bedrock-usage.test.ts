import fc from 'fast-check';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import converseStreamEvents from '../../../../test/fixtures/providers/bedrock/converse-stream-events.json';
import { bedrockConverseStream } from '../../../../test/fakes/bedrock';
import { defaultBehaviour } from '../../../../test/fakes/recorder';
import { observe, observeAtEverySplit, piecesOf, providerFixture } from '../../../../test/support/data-plane/observer-harness';
import { bedrockUsageAccounting as accounting } from './bedrock-usage';

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const ENCODED_MODEL = encodeURIComponent(MODEL); // as the SDK sends it: v1%3A0

function frame(messageType: string, type: string, payload: object): Buffer {
  const typeHeader = messageType === 'exception' ? ':exception-type' : ':event-type';
  return Buffer.from(
    codec.encode({
      headers: {
        [typeHeader]: { type: 'string', value: type },
        ':content-type': { type: 'string', value: 'application/json' },
        ':message-type': { type: 'string', value: messageType },
      },
      body: fromUtf8(JSON.stringify(payload)),
    }),
  );
}

/** The recorded ConverseStream events, framed exactly (their `p` padding included). */
const recordedStream = Buffer.concat(converseStreamEvents.map((event) => frame('event', event.event, event.payload)));

function prepare(operation: string, body: object): ReturnType<typeof accounting.prepareRequest> {
  return accounting.prepareRequest(`/model/${ENCODED_MODEL}/${operation}`, Buffer.from(JSON.stringify(body)), 'application/json');
}

const converse = prepare('converse', { messages: [], inferenceConfig: { maxTokens: 512 } });
const converseStream = prepare('converse-stream', { messages: [] });
const EVENTSTREAM = 'application/vnd.amazon.eventstream';

describe('bedrockUsageAccounting.prepareRequest', () => {
  it('reads the URL-decoded model id and streaming from the path, the limit from the body', () => {
    expect(converse).toMatchObject({ model: MODEL, stream: false, maxCompletionTokens: 512, stripUsageChunk: false });
    expect(converseStream).toMatchObject({ model: MODEL, stream: true, maxCompletionTokens: null });
    expect(prepare('invoke', { anthropic_version: 'bedrock-2023-05-31', max_tokens: 300, messages: [] })).toMatchObject({ stream: false, maxCompletionTokens: 300 });
    expect(prepare('invoke-with-response-stream', { prompt: 'x', max_gen_len: 128 })).toMatchObject({ stream: true, maxCompletionTokens: 128 });
    expect(prepare('invoke', { inputText: 'x', textGenerationConfig: { maxTokenCount: 64 } }).maxCompletionTokens).toBe(64);
    const arn = 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0';
    expect(accounting.prepareRequest(`/model/${encodeURIComponent(arn)}/converse`, Buffer.from('{}'), 'application/json').model).toBe(arn);
  });

  it('keeps the bytes as they are', () => {
    const raw = Buffer.from('{"messages":[],"inferenceConfig":{"maxTokens":10}}');
    expect(accounting.prepareRequest(`/model/${ENCODED_MODEL}/converse`, raw, 'application/json').body).toBe(raw);
  });
});

describe('bedrockUsageAccounting.observeResponse', () => {
  it('reads the documented Converse response', () => {
    const { result } = observe(accounting.observeResponse(converse, 200, 'application/json'), [providerFixture('bedrock', 'converse.json')]);
    expect(result).toEqual({ usage: { promptTokens: 30, completionTokens: 628 }, completionText: 'Hello! How can I help you today?', complete: true });
  });

  it('counts cache reads and writes as prompt tokens', () => {
    const body = { output: { message: { role: 'assistant', content: [{ text: 'x' }] } }, usage: { inputTokens: 4, outputTokens: 2, cacheReadInputTokens: 100, cacheWriteInputTokens: 20, totalTokens: 126 } };
    expect(observe(accounting.observeResponse(converse, 200, 'application/json'), [Buffer.from(JSON.stringify(body))]).result.usage).toEqual({
      promptTokens: 124,
      completionTokens: 2,
      cachedReadTokens: 100,
      cachedWriteTokens: 20,
    });
  });

  it('reads InvokeModel counts from the response headers, else from the model-native body', () => {
    const invoke = prepare('invoke', { prompt: 'x' });
    const headers = { 'x-amzn-bedrock-input-token-count': '12', 'x-amzn-bedrock-output-token-count': '34', 'content-type': 'application/json' };
    const body = Buffer.from('{"outputs":[{"text":"Salut","stop_reason":"stop"}]}');
    const fromHeaders = observe(accounting.observeResponse(invoke, 200, 'application/json', headers), [body]);
    expect(fromHeaders.forwarded.equals(body)).toBe(true);
    expect(fromHeaders.result.usage).toEqual({ promptTokens: 12, completionTokens: 34 });
    for (const [native, usage, text] of [
      [{ content: [{ type: 'text', text: 'Hi' }], usage: { input_tokens: 5, output_tokens: 2 } }, { promptTokens: 5, completionTokens: 2 }, 'Hi'],
      [{ generation: 'Hey', prompt_token_count: 7, generation_token_count: 3 }, { promptTokens: 7, completionTokens: 3 }, 'Hey'],
      [{ inputTextTokenCount: 6, results: [{ tokenCount: 4, outputText: 'Yo' }] }, { promptTokens: 6, completionTokens: 4 }, 'Yo'],
      [{ outputs: [{ text: 'Salut' }] }, null, 'Salut'],
    ] as const) {
      const { result } = observe(accounting.observeResponse(invoke, 200, 'application/json'), [Buffer.from(JSON.stringify(native))]);
      expect(result).toEqual({ usage, completionText: text, complete: true });
    }
  });

  it('an embedding model sends only the input count in headers (Cohere Embed has none in its body): that count is charged', () => {
    const invoke = prepare('invoke', { texts: ['x'], input_type: 'search_document' });
    const headers = { 'x-amzn-bedrock-input-token-count': '4561', 'x-amzn-bedrock-invocation-latency': '195', 'content-type': 'application/json' };
    const cohere = Buffer.from(JSON.stringify({ embeddings: [[0.5, -0.25]], id: 'b6e5', response_type: 'embeddings_floats', texts: ['x'] }));
    const { forwarded, result } = observe(accounting.observeResponse(invoke, 200, 'application/json', headers), [cohere]);
    expect(forwarded.equals(cohere)).toBe(true);
    expect(result).toEqual({ usage: { promptTokens: 4561, completionTokens: 0 }, completionText: '', complete: true });
    // Titan's body repeats the count: the body's usage stands.
    const titan = Buffer.from(JSON.stringify({ embedding: [0.5], inputTextTokenCount: 4561 }));
    expect(observe(accounting.observeResponse(invoke, 200, 'application/json', headers), [titan]).result.usage).toEqual({ promptTokens: 4561, completionTokens: 0 });
    // A body too large to parse whole (a batch of 96 texts' vectors) is charged the header's count too.
    const large = Buffer.from(JSON.stringify({ embeddings: Array.from({ length: 96 }, () => Array.from({ length: 1024 }, (_, i) => i / 1024)), id: 'b6e5', response_type: 'embeddings_floats', texts: [] }));
    expect(large.length).toBeGreaterThan(512 * 1024);
    expect(observe(accounting.observeResponse(invoke, 200, 'application/json', headers), piecesOf(large, Array.from({ length: 20 }, (_, i) => (i + 1) * 64 * 1024))).result.usage).toEqual({ promptTokens: 4561, completionTokens: 0 });
  });

  it('reads the recorded ConverseStream at every split offset, forwarding the frames unchanged', () => {
    const { whole, splits } = observeAtEverySplit(() => accounting.observeResponse(converseStream, 200, EVENTSTREAM), recordedStream);
    expect(whole.result).toEqual({ usage: { promptTokens: 30, completionTokens: 12 }, completionText: 'Hello', complete: true });
    for (const split of [whole, ...splits]) {
      expect(split.forwarded.equals(recordedStream)).toBe(true);
      expect(split.result).toEqual(whole.result);
    }
  });

  it('gives the same result for any chunking of a generated stream (property)', () => {
    const behaviour = { ...defaultBehaviour(), content: 'Olá, tudo bem? 🌎 Sim!', usage: { prompt: 19, completion: 6 } };
    const bytes = Buffer.concat(bedrockConverseStream(behaviour));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 40 }), (cuts) => {
        const { forwarded, result } = observe(accounting.observeResponse(converseStream, 200, EVENTSTREAM), piecesOf(bytes, cuts));
        expect(forwarded.equals(bytes)).toBe(true);
        expect(result).toEqual({ usage: { promptTokens: 19, completionTokens: 6 }, completionText: behaviour.content, complete: true });
      }),
    );
  });

  it('reports a stream cut before metadata (even after messageStop) as incomplete with its partial text', () => {
    const frames = converseStreamEvents.map((event) => frame('event', event.event, event.payload));
    const afterMessageStop = Buffer.concat(frames.slice(0, 4));
    const midMetadata = Buffer.concat([afterMessageStop, frames[4].subarray(0, 20)]);
    for (const cut of [afterMessageStop, midMetadata, Buffer.concat(frames.slice(0, 2)).subarray(0, frames[0].length + 10)]) {
      const { result } = observe(accounting.observeResponse(converseStream, 200, EVENTSTREAM), piecesOf(cut, [3, 50]), false);
      expect(result.usage).toBeNull();
      expect(result.complete).toBe(false);
    }
    expect(observe(accounting.observeResponse(converseStream, 200, EVENTSTREAM), [afterMessageStop], false).result.completionText).toBe('Hello');
  });

  it.each([
    ['throttlingException', 429],
    ['modelStreamErrorException', 424],
    ['internalServerException', 500],
    ['serviceUnavailableException', 503],
    ['validationException', 400],
    ['modelTimeoutException', 408],
    ['someFutureException', 500],
  ])('treats a %s message as the end of an incomplete stream, failed with status %i', (exception, status) => {
    const bytes = Buffer.concat([
      frame('event', 'messageStart', { role: 'assistant' }),
      frame('event', 'contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Par' } }),
      frame('exception', exception, { message: 'Too many tokens, please wait before trying again.' }),
    ]);
    const { forwarded, result } = observe(accounting.observeResponse(converseStream, 200, EVENTSTREAM), [bytes]);
    expect(forwarded.equals(bytes)).toBe(true);
    expect(result).toEqual({ usage: null, completionText: 'Par', complete: false, streamError: status });
  });

  it('stops reading (still forwarding) a corrupt stream', () => {
    const corrupt = Buffer.from(recordedStream);
    corrupt[20] ^= 0xff; // inside the first frame: its CRC no longer matches
    const { forwarded, result } = observe(accounting.observeResponse(converseStream, 200, EVENTSTREAM), [corrupt]);
    expect(forwarded.equals(corrupt)).toBe(true);
    expect(result.complete).toBe(false);
    const notFrames = Buffer.from('{"message":"not an event stream"}');
    expect(observe(accounting.observeResponse(converseStream, 200, EVENTSTREAM), [notFrames]).result.complete).toBe(false);
  });

  it('reads InvokeModelWithResponseStream chunks and their invocation metrics', () => {
    const chunk = (inner: object): Buffer => frame('event', 'chunk', { bytes: Buffer.from(JSON.stringify(inner)).toString('base64'), p: 'abc' });
    const bytes = Buffer.concat([
      chunk({ type: 'message_start', message: { usage: { input_tokens: 14, output_tokens: 1 } } }),
      chunk({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi ' } }),
      chunk({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'you' } }),
      chunk({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 3 } }),
      chunk({ type: 'message_stop', 'amazon-bedrock-invocationMetrics': { inputTokenCount: 14, outputTokenCount: 3, invocationLatency: 500, firstByteLatency: 200 } }),
    ]);
    const prepared = prepare('invoke-with-response-stream', { anthropic_version: 'bedrock-2023-05-31', max_tokens: 10, messages: [] });
    const { whole, splits } = observeAtEverySplit(() => accounting.observeResponse(prepared, 200, EVENTSTREAM), bytes);
    expect(whole.result).toEqual({ usage: { promptTokens: 14, completionTokens: 3 }, completionText: 'Hi you', complete: true });
    for (const split of splits) expect(split.result).toEqual(whole.result);
  });

  it('reports no usage for error responses', () => {
    const { result } = observe(accounting.observeResponse(converseStream, 429, 'application/json'), [Buffer.from('{"message":"Too many requests"}')]);
    expect(result).toEqual({ usage: null, completionText: '', complete: true });
  });
});

describe('bedrockUsageAccounting operations', () => {
  it.each([
    ['converse', 'converse'],
    ['converse-stream', 'converse_stream'],
    ['invoke', 'invoke'],
    ['invoke-with-response-stream', 'invoke_stream'],
    ['count-tokens', 'count_tokens'],
    ['something-new', 'other'],
  ] as const)('names /model/{id}/%s as %s', (operation, expected) => {
    expect(prepare(operation, { messages: [] }).operation).toBe(expected);
  });

  it('reports CountTokens as free (0/0), as Bedrock does not bill it', () => {
    const counted = prepare('count-tokens', { input: { converse: { messages: [] } } });
    const { result } = observe(accounting.observeResponse(counted, 200, 'application/json'), [Buffer.from('{"inputTokens":123}')]);
    expect(result).toEqual({ usage: { promptTokens: 0, completionTokens: 0 }, completionText: '', complete: true });
  });

  it('names a path without a model other, and ApplyGuardrail apply_guardrail, charged no tokens (it is billed in policy units)', () => {
    expect(accounting.prepareRequest('/async-invoke', Buffer.from('{}'), 'application/json').operation).toBe('other');
    const applied = accounting.prepareRequest('/guardrail/g1/version/1/apply', Buffer.from('{"source":"INPUT","content":[{"text":{"text":"Hi"}}]}'), 'application/json');
    expect(applied.operation).toBe('apply_guardrail');
    const answer = Buffer.from(JSON.stringify({ usage: { topicPolicyUnits: 1, contentPolicyUnits: 1 }, action: 'GUARDRAIL_INTERVENED', outputs: [{ text: 'Sorry, I cannot answer.' }], assessments: [] }));
    const { result } = observe(accounting.observeResponse(applied, 200, 'application/json'), [answer]);
    expect(result).toEqual({ usage: { promptTokens: 0, completionTokens: 0 }, completionText: '', complete: true });
  });
});

describe('bedrockUsageAccounting cache details and response model', () => {
  it('reads cacheReadInputTokens / cacheWriteInputTokens from the ConverseStream metadata event', () => {
    const bytes = Buffer.concat([
      frame('event', 'messageStart', { role: 'assistant' }),
      frame('event', 'contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Cached' } }),
      frame('event', 'contentBlockStop', { contentBlockIndex: 0 }),
      frame('event', 'messageStop', { stopReason: 'end_turn' }),
      frame('event', 'metadata', { usage: { inputTokens: 12, outputTokens: 8, totalTokens: 1844, cacheReadInputTokens: 1024, cacheWriteInputTokens: 800 }, metrics: { latencyMs: 300 } }),
    ]);
    const { whole, splits } = observeAtEverySplit(() => accounting.observeResponse(converseStream, 200, EVENTSTREAM), bytes);
    expect(whole.result).toEqual({ usage: { promptTokens: 1836, completionTokens: 8, cachedReadTokens: 1024, cachedWriteTokens: 800 }, completionText: 'Cached', complete: true });
    for (const split of splits) expect(split.result).toEqual(whole.result);
  });

  it('gives the same cache details for the fake ConverseStream (cache counts left out when 0)', () => {
    const behaviour = { ...defaultBehaviour(), content: 'Hi', usage: { prompt: 500, completion: 3, cachedRead: 400 } };
    const { result } = observe(accounting.observeResponse(converseStream, 200, EVENTSTREAM), [Buffer.concat(bedrockConverseStream(behaviour))]);
    expect(result).toEqual({ usage: { promptTokens: 500, completionTokens: 3, cachedReadTokens: 400 }, completionText: 'Hi', complete: true });
  });

  it('reads cache counts from the invocation metrics of InvokeModelWithResponseStream', () => {
    const chunk = (inner: object): Buffer => frame('event', 'chunk', { bytes: Buffer.from(JSON.stringify(inner)).toString('base64') });
    const bytes = Buffer.concat([
      chunk({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Ok' } }),
      chunk({
        type: 'message_stop',
        'amazon-bedrock-invocationMetrics': { inputTokenCount: 6, outputTokenCount: 2, invocationLatency: 400, firstByteLatency: 100, cacheReadInputTokenCount: 300, cacheWriteInputTokenCount: 50 },
      }),
    ]);
    const prepared = prepare('invoke-with-response-stream', { anthropic_version: 'bedrock-2023-05-31', max_tokens: 10, messages: [] });
    expect(observe(accounting.observeResponse(prepared, 200, EVENTSTREAM), [bytes]).result).toEqual({
      usage: { promptTokens: 356, completionTokens: 2, cachedReadTokens: 300, cachedWriteTokens: 50 },
      completionText: 'Ok',
      complete: true,
    });
  });

  it('reads cache counts from the InvokeModel headers', () => {
    const invoke = prepare('invoke', { anthropic_version: 'bedrock-2023-05-31', max_tokens: 10, messages: [] });
    const headers = {
      'x-amzn-bedrock-input-token-count': '5',
      'x-amzn-bedrock-output-token-count': '7',
      'x-amzn-bedrock-cache-read-input-token-count': '1000',
      'x-amzn-bedrock-cache-write-input-token-count': '0',
    };
    expect(observe(accounting.observeResponse(invoke, 200, 'application/json', headers), [Buffer.from('{}')]).result).toEqual({
      usage: { promptTokens: 1005, completionTokens: 7, cachedReadTokens: 1000 },
      completionText: '',
      complete: true,
    });
  });

  it('names the response model an InvokeModel body names (Anthropic), none for Converse', () => {
    const invoke = prepare('invoke', { anthropic_version: 'bedrock-2023-05-31', max_tokens: 10, messages: [] });
    const native = { id: 'msg_bdrk_1', type: 'message', role: 'assistant', model: 'claude-3-5-sonnet-20240620', content: [{ type: 'text', text: 'Hi' }], usage: { input_tokens: 5, output_tokens: 2 } };
    expect(observe(accounting.observeResponse(invoke, 200, 'application/json'), [Buffer.from(JSON.stringify(native))]).result).toEqual({
      usage: { promptTokens: 5, completionTokens: 2 },
      responseModel: 'claude-3-5-sonnet-20240620',
      completionText: 'Hi',
      complete: true,
    });
    expect(observe(accounting.observeResponse(converse, 200, 'application/json'), [providerFixture('bedrock', 'converse.json')]).result).not.toHaveProperty('responseModel');
  });
});
