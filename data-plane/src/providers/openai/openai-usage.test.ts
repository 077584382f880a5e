import fc from 'fast-check';
import { openAIChatStream } from '../../../../test/fakes/openai';
import { defaultBehaviour, sse } from '../../../../test/fakes/recorder';
import { RequestBodyError } from '../usage-accounting';
import { observe, observeAtEverySplit, piecesOf, providerFixture } from '../../../../test/support/data-plane/observer-harness';
import { openAiUsageAccounting as accounting } from './openai-usage';

const CHAT = '/v1/chat/completions';

function prepare(body: object | string, path = CHAT): ReturnType<typeof accounting.prepareRequest> {
  return accounting.prepareRequest(path, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), 'application/json');
}

/** A streamed chat completion as the fake (from OpenAI's documented chunks) sends it. */
function chatStream(includeUsage: boolean, content = 'Héllo wörld 👋 from the fake'): { bytes: Buffer; events: string[] } {
  const behaviour = { ...defaultBehaviour(), content, usage: { prompt: 23, completion: 9 } };
  const events = openAIChatStream(behaviour, 'gpt-4o-mini', includeUsage).map((chunk) => sse(chunk));
  return { bytes: Buffer.from(events.join('')), events };
}

describe('openAiUsageAccounting.prepareRequest', () => {
  it('reads the model, the stream flag and the completion limit', () => {
    const prepared = prepare({ model: 'gpt-4o', messages: [], max_tokens: 50, max_completion_tokens: 100, n: 2 });
    expect(prepared).toMatchObject({ model: 'gpt-4o', stream: false, maxCompletionTokens: 200, stripUsageChunk: false });
    expect(prepare({ model: 'gpt-4o', max_tokens: 50 }).maxCompletionTokens).toBe(50);
    expect(prepare({ model: 'gpt-4o', input: 'x', max_output_tokens: 70 }, '/v1/responses').maxCompletionTokens).toBe(70);
    expect(prepare({ model: 'gpt-4o' }).maxCompletionTokens).toBeNull();
  });

  it('keeps the client bytes of a request it does not change', () => {
    const body = Buffer.from('{ "model" : "gpt-4o", "messages": [], "temperature": 1.0 }');
    const prepared = accounting.prepareRequest(CHAT, body, 'application/json');
    expect(prepared.body).toBe(body);
    expect(prepared.json).toEqual({ model: 'gpt-4o', messages: [], temperature: 1 });
  });

  it('has no JSON for an empty body (GET /v1/models) and refuses a body that is not JSON', () => {
    expect(accounting.prepareRequest('/v1/models', Buffer.alloc(0), undefined)).toEqual({
      body: Buffer.alloc(0),
      json: null,
      model: null,
      operation: 'other',
      stream: false,
      maxCompletionTokens: null,
      stripUsageChunk: false,
    });
    expect(() => prepare('{"model": "gpt-4o",')).toThrow(RequestBodyError);
  });

  it('injects stream_options.include_usage into a stream that does not ask for usage, every other byte kept', () => {
    const original = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi \\u00e9"}],"stream":true,"temperature":1.0,"seed":12345678901234567890}';
    const prepared = prepare(original);
    expect(prepared.stripUsageChunk).toBe(true);
    expect(prepared.stream).toBe(true);
    expect(prepared.body.toString()).toBe(`{"stream_options":{"include_usage":true},${original.slice(1)}`);
    expect(JSON.parse(prepared.body.toString())).toEqual({ ...(JSON.parse(original) as object), stream_options: { include_usage: true } });
    expect(prepared.json).toEqual(JSON.parse(prepared.body.toString()));
    // Legacy completions stream the same way.
    expect(prepare({ model: 'gpt-3.5-turbo-instruct', prompt: 'x', stream: true }, '/v1/completions').stripUsageChunk).toBe(true);
  });

  it('leaves the bytes untouched when the client asked for usage', () => {
    const body = Buffer.from('{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true}}');
    const prepared = accounting.prepareRequest(CHAT, body, 'application/json');
    expect(prepared.body).toBe(body);
    expect(prepared.stripUsageChunk).toBe(false);
  });

  it('turns include_usage on when the client turned it off or sent other stream options, keeping them', () => {
    for (const options of [{ include_usage: false }, { include_obfuscation: false }, null]) {
      const prepared = prepare({ model: 'gpt-4o-mini', stream: true, stream_options: options, messages: [] });
      expect(prepared.stripUsageChunk).toBe(true);
      expect(JSON.parse(prepared.body.toString())).toEqual({
        model: 'gpt-4o-mini',
        stream: true,
        messages: [],
        stream_options: { ...(options ?? {}), include_usage: true },
      });
    }
  });

  it('injects nothing into unstreamed requests, the Responses API (usage always reported) or invalid options', () => {
    for (const [body, path] of [
      [{ model: 'gpt-4o', messages: [] }, CHAT],
      [{ model: 'gpt-4o', messages: [], stream: 'true' }, CHAT],
      [{ model: 'gpt-4o', input: 'x', stream: true }, '/v1/responses'],
      [{ model: 'gpt-4o', messages: [], stream: true, stream_options: 'yes' }, CHAT],
    ] as const) {
      const raw = Buffer.from(JSON.stringify(body));
      const prepared = accounting.prepareRequest(path, raw, 'application/json');
      expect(prepared.body).toBe(raw);
      expect(prepared.stripUsageChunk).toBe(false);
    }
  });
});

describe('openAiUsageAccounting.observeResponse', () => {
  const unstreamed = prepare({ model: 'gpt-4o-mini', messages: [] });
  const injected = prepare({ model: 'gpt-4o-mini', messages: [], stream: true });
  const asked = prepare({ model: 'gpt-4o-mini', messages: [], stream: true, stream_options: { include_usage: true } });

  it('reads usage and text from the documented chat completion and embeddings', () => {
    const chat = observe(accounting.observeResponse(unstreamed, 200, 'application/json'), [providerFixture('openai', 'chat-completion.json')]);
    // The fixture reports cached_tokens 0 and reasoning_tokens 0: no details.
    expect(chat.result).toEqual({
      usage: { promptTokens: 19, completionTokens: 10 },
      responseModel: 'gpt-4o-mini-2024-07-18',
      completionText: 'Hello! How can I assist you today?',
      complete: true,
    });
    const embeddings = observe(accounting.observeResponse(unstreamed, 200, 'application/json'), [providerFixture('openai', 'embeddings.json')]);
    expect(embeddings.result).toEqual({ usage: { promptTokens: 8, completionTokens: 0 }, responseModel: 'text-embedding-3-small', completionText: '', complete: true });
  });

  it('reads the Responses API usage (input/output tokens) and its output text', () => {
    const body = Buffer.from(
      JSON.stringify({
        object: 'response',
        output: [
          { type: 'reasoning', summary: [{ type: 'summary_text', text: 'think ' }] },
          { type: 'message', content: [{ type: 'output_text', text: 'Hi there' }] },
          { type: 'function_call', name: 'f', arguments: '{"a":1}' },
        ],
        usage: { input_tokens: 36, output_tokens: 87, total_tokens: 123 },
      }),
    );
    expect(observe(accounting.observeResponse(unstreamed, 200, 'application/json'), [body]).result).toEqual({
      usage: { promptTokens: 36, completionTokens: 87 },
      completionText: 'think Hi theref{"a":1}',
      complete: true,
    });
    const count = Buffer.from('{"object":"response.input_tokens","input_tokens":11}');
    expect(observe(accounting.observeResponse(unstreamed, 200, 'application/json'), [count]).result.usage).toEqual({ promptTokens: 0, completionTokens: 0 });
    // A batch is billed when it runs, not when it is created (POST /v1/batches answers the job).
    const batch = Buffer.from('{"id":"batch_abc123","object":"batch","endpoint":"/v1/chat/completions","input_file_id":"file-abc123","completion_window":"24h","status":"validating","request_counts":{"total":0,"completed":0,"failed":0}}');
    expect(observe(accounting.observeResponse(unstreamed, 200, 'application/json'), [batch]).result.usage).toEqual({ promptTokens: 0, completionTokens: 0 });
  });

  it.each([400, 401, 404, 429, 500, 503])('reports no usage for a %i error body', (status) => {
    const error = providerFixture('openai', 'errors.json');
    const observer = accounting.observeResponse(injected, status, 'application/json');
    expect(observer.write(error)).toBe(error);
    expect(observer.result()).toEqual({ usage: null, completionText: '', complete: true });
  });

  it('reads the recorded stream: usage from the usage chunk, text from the deltas', () => {
    const recorded = providerFixture('openai', 'chat-completion-stream.sse');
    const { forwarded, result } = observe(accounting.observeResponse(asked, 200, 'text/event-stream; charset=utf-8'), piecesOf(recorded, [100, 101, 500]));
    expect(forwarded.equals(recorded)).toBe(true);
    expect(result).toEqual({ usage: { promptTokens: 19, completionTokens: 10 }, responseModel: 'gpt-4o-mini-2024-07-18', completionText: 'Hello', complete: true });
  });

  it('strips exactly the injected usage chunk, at every split offset, mid-UTF-8 included', () => {
    const { bytes, events } = chatStream(true);
    const usageEvent = events.find((event) => event.includes('"choices":[]'));
    expect(usageEvent).toBeDefined();
    const expected = Buffer.from(events.filter((event) => event !== usageEvent).join(''));
    const { whole, splits } = observeAtEverySplit(() => accounting.observeResponse(injected, 200, 'text/event-stream'), bytes);
    expect(whole.result).toEqual({ usage: { promptTokens: 23, completionTokens: 9 }, responseModel: 'gpt-4o-mini', completionText: 'Héllo wörld 👋 from the fake', complete: true });
    expect(whole.forwarded.equals(expected)).toBe(true);
    for (const split of splits) {
      expect(split.forwarded.equals(expected)).toBe(true);
      expect(split.result).toEqual(whole.result);
    }
  });

  it('forwards every byte when the client asked for usage itself (random chunkings)', () => {
    const { bytes } = chatStream(true);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 30 }), (cuts) => {
        const { forwarded, result } = observe(accounting.observeResponse(asked, 200, 'text/event-stream'), piecesOf(bytes, cuts));
        expect(forwarded.equals(bytes)).toBe(true);
        expect(result.usage).toEqual({ promptTokens: 23, completionTokens: 9 });
        expect(result.complete).toBe(true);
      }),
    );
  });

  it('reports a stream cut mid-event as incomplete, with the text streamed so far', () => {
    const { bytes, events } = chatStream(true);
    const threeEvents = Buffer.byteLength(events.slice(0, 3).join('')); // role, "Héllo", " wörld"
    const insideUmlaut = bytes.indexOf(Buffer.from('ö')) + 1;
    for (const [cut, text] of [
      [threeEvents + 10, 'Héllo wörld'],
      [threeEvents + 1, 'Héllo wörld'],
      [threeEvents, 'Héllo wörld'],
      [threeEvents - 1, 'Héllo'], // the blank line ending " wörld" never arrived
      [insideUmlaut, 'Héllo'],
    ] as const) {
      for (const prepared of [injected, asked]) {
        const observer = accounting.observeResponse(prepared, 200, 'text/event-stream');
        const { result } = observe(observer, piecesOf(bytes.subarray(0, cut), [insideUmlaut - 1]), false);
        expect(result).toEqual({ usage: null, responseModel: 'gpt-4o-mini', completionText: text, complete: false });
      }
    }
    // Cut after the usage chunk but before [DONE]: the usage is final, the stream still incomplete.
    const beforeDone = Buffer.byteLength(events.slice(0, -1).join(''));
    const { result } = observe(accounting.observeResponse(injected, 200, 'text/event-stream'), [bytes.subarray(0, beforeDone)], false);
    expect(result).toMatchObject({ usage: { promptTokens: 23, completionTokens: 9 }, complete: false });
  });

  it('collects tool-call names and arguments, refusals and legacy completion text', () => {
    const events = [
      { choices: [{ index: 0, delta: { role: 'assistant', tool_calls: [{ index: 0, id: 'c', type: 'function', function: { name: 'get_weather', arguments: '' } }] } }] },
      { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] } }] },
      { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] } }] },
      { choices: [{ index: 1, delta: { refusal: 'No.' } }] },
      { choices: [{ index: 0, text: ' legacy' }] },
    ];
    const bytes = Buffer.from([...events.map((event) => sse(event)), sse('[DONE]')].join(''));
    expect(observe(accounting.observeResponse(injected, 200, 'text/event-stream'), [bytes]).result).toEqual({
      usage: null,
      completionText: 'get_weather{"city":"Paris"}No. legacy',
      complete: true,
    });
  });

  it('reads a Responses API stream: text deltas, usage and the end from response.completed', () => {
    const event = (type: string, data: object): string => sse({ type, ...data }, type);
    const events = [
      event('response.created', { response: { id: 'resp_1', status: 'in_progress', usage: null } }),
      event('response.output_text.delta', { item_id: 'm', output_index: 0, content_index: 0, delta: 'Hi' }),
      event('response.output_text.delta', { item_id: 'm', output_index: 0, content_index: 0, delta: ' there' }),
      event('response.output_text.done', { text: 'Hi there' }),
      event('response.completed', { response: { id: 'resp_1', status: 'completed', usage: { input_tokens: 12, output_tokens: 2, total_tokens: 14 } } }),
    ];
    const bytes = Buffer.from(events.join(''));
    const prepared = prepare({ model: 'gpt-4o', input: 'x', stream: true }, '/v1/responses');
    const { forwarded, result } = observe(accounting.observeResponse(prepared, 200, 'text/event-stream'), piecesOf(bytes, [50, 200]));
    expect(forwarded.equals(bytes)).toBe(true);
    expect(result).toEqual({ usage: { promptTokens: 12, completionTokens: 2 }, completionText: 'Hi there', complete: true });
    const cut = observe(accounting.observeResponse(prepared, 200, 'text/event-stream'), [Buffer.from(events.slice(0, 3).join(''))], false);
    expect(cut.result).toEqual({ usage: null, completionText: 'Hi there', complete: false });
  });

  it('reads the errors a stream answered 200 carries: the status each stands for', () => {
    const streamedChat = prepare({ model: 'gpt-4o', messages: [], stream: true, stream_options: { include_usage: true } });
    const streamedResponse = prepare({ model: 'gpt-4o', input: 'x', stream: true }, '/v1/responses');
    const observed = (prepared: typeof streamedChat, ...events: string[]) => observe(accounting.observeResponse(prepared, 200, 'text/event-stream'), [Buffer.from(events.join(''))]).result;
    const delta = sse({ id: 'c', object: 'chat.completion.chunk', model: 'gpt-4o', choices: [{ index: 0, delta: { content: 'Hi' } }] });
    // Chat Completions: a chunk with an `error` object, and no [DONE] after it.
    expect(observed(streamedChat, delta, sse({ error: { message: 'The server had an error', type: 'server_error', param: null, code: null } }))).toEqual({
      usage: null, responseModel: 'gpt-4o', completionText: 'Hi', complete: false, streamError: 500,
    });
    expect(observed(streamedChat, delta, sse({ error: { message: 'Rate limit reached', type: 'tokens', code: 'rate_limit_exceeded' } })).streamError).toBe(429);
    expect(observed(streamedChat, delta, sse({ error: { message: 'Overloaded', type: 'server_error', code: 'server_is_overloaded' } })).streamError).toBe(503);
    // Mistral's flat error object.
    expect(observed(streamedChat, delta, sse({ object: 'error', message: 'Bad', type: 'invalid_request_error', code: '3051' })).streamError).toBe(400);
    // Responses API: an `error` event, and response.failed (which still ends it, with its usage).
    expect(observed(streamedResponse, sse({ type: 'error', code: 'rate_limit_exceeded', message: 'Slow down', param: null, sequence_number: 3 }, 'error')).streamError).toBe(429);
    expect(observed(streamedResponse, sse({ type: 'error', code: 'ERR_SOMETHING', message: 'Something went wrong', param: null, sequence_number: 1 }, 'error')).streamError).toBe(500);
    const failed = observed(streamedResponse, sse({ type: 'response.failed', response: { id: 'r', status: 'failed', error: { code: 'invalid_prompt', message: 'No' }, usage: { input_tokens: 5, output_tokens: 0 } } }, 'response.failed'));
    expect(failed).toMatchObject({ usage: { promptTokens: 5, completionTokens: 0 }, complete: true, streamError: 400 });
    // A stream that ends well carries none.
    expect(observed(streamedChat, delta, sse('[DONE]')).streamError).toBeUndefined();
  });

  it('follows bodies it cannot read as usage (audio) without touching them', () => {
    const audio = Buffer.from([0xff, 0xfb, 0x90, 0x00]);
    const observer = accounting.observeResponse(unstreamed, 200, 'audio/mpeg');
    expect(observer.write(audio)).toBe(audio);
    expect(observer.result()).toEqual({ usage: null, completionText: '', complete: true });
  });
});

describe('openAiUsageAccounting: streamed transcriptions', () => {
  it('reads the usage of transcript.text.done and the text of transcript.text.delta (multipart request, unnamed events)', () => {
    const prepared = accounting.prepareRequest('/v1/audio/transcriptions', Buffer.from('--x\r\nContent-Disposition: form-data; name="stream"\r\n\r\ntrue\r\n--x--\r\n'), 'multipart/form-data; boundary=x');
    const bytes = Buffer.from(
      [
        sse({ type: 'transcript.text.delta', delta: 'Today', logprobs: [] }),
        sse({ type: 'transcript.text.delta', delta: ' is', logprobs: [] }),
        sse({ type: 'transcript.text.done', text: 'Today is', logprobs: [], usage: { type: 'tokens', input_tokens: 14, input_token_details: { text_tokens: 0, audio_tokens: 14 }, output_tokens: 45, total_tokens: 59 } }),
        sse('[DONE]'),
      ].join(''),
    );
    expect(observe(accounting.observeResponse(prepared, 200, 'text/event-stream'), piecesOf(bytes, [30, 100])).result).toEqual({
      usage: { promptTokens: 14, completionTokens: 45 },
      completionText: 'Today is',
      complete: true,
    });
  });
});

describe('openAiUsageAccounting: stored objects and background responses', () => {
  const retrieval = (path: string) => accounting.prepareRequest(path, Buffer.alloc(0), undefined);
  const usage = { input_tokens: 500, input_tokens_details: { cached_tokens: 0 }, output_tokens: 30, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 530 };
  const response = (fields: object) => Buffer.from(JSON.stringify({ id: 'resp_1', object: 'response', model: 'gpt-5-2025-08-07', output: [{ type: 'message', content: [{ type: 'output_text', text: 'Done.' }] }], ...fields }));
  const usageOf = (prepared: ReturnType<typeof accounting.prepareRequest>, body: Buffer) => observe(accounting.observeResponse(prepared, 200, 'application/json'), [body]).result.usage;

  it('charges nothing for retrieving a stored Response or chat completion: its usage was charged when it was created', () => {
    expect(usageOf(retrieval('/v1/responses/resp_1'), response({ status: 'completed', background: false, usage }))).toEqual({ promptTokens: 0, completionTokens: 0 });
    const completion = { id: 'chatcmpl-1', object: 'chat.completion', model: 'gpt-4o', choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' } }], usage: { prompt_tokens: 19, completion_tokens: 10, total_tokens: 29 } };
    expect(usageOf(retrieval('/v1/chat/completions/chatcmpl-1'), Buffer.from(JSON.stringify(completion)))).toEqual({ promptTokens: 0, completionTokens: 0 });
    const list = { object: 'list', data: [completion], first_id: 'chatcmpl-1', last_id: 'chatcmpl-1', has_more: false };
    expect(usageOf(retrieval('/v1/chat/completions'), Buffer.from(JSON.stringify(list)))).toEqual({ promptTokens: 0, completionTokens: 0 });
  });

  it('charges a background Response when it is retrieved finished, and nothing when it is created or polled unfinished', () => {
    const created = prepare({ model: 'gpt-5', input: 'Write a long report.', background: true }, '/v1/responses');
    expect(usageOf(created, response({ status: 'queued', background: true, output: [], usage: null }))).toEqual({ promptTokens: 0, completionTokens: 0 });
    expect(usageOf(retrieval('/v1/responses/resp_1'), response({ status: 'in_progress', background: true, output: [], usage: null }))).toEqual({ promptTokens: 0, completionTokens: 0 });
    expect(usageOf(retrieval('/v1/responses/resp_1'), response({ status: 'completed', background: true, usage }))).toEqual({ promptTokens: 500, completionTokens: 30 });
    expect(usageOf(retrieval('/v1/responses/resp_1'), response({ status: 'incomplete', background: true, usage }))).toEqual({ promptTokens: 500, completionTokens: 30 });
  });

  it('names the background Response whose final usage it read, so that it is charged once (not a pending one, nor an ordinary one)', () => {
    const idOf = (prepared: ReturnType<typeof accounting.prepareRequest>, body: Buffer) => observe(accounting.observeResponse(prepared, 200, 'application/json'), [body]).result.jobId;
    expect(idOf(retrieval('/v1/responses/resp_1'), response({ status: 'completed', background: true, usage }))).toBe('resp_1');
    expect(idOf(retrieval('/v1/responses/resp_1'), response({ status: 'in_progress', background: true, output: [], usage: null }))).toBeUndefined();
    expect(idOf(retrieval('/v1/responses/resp_1'), response({ status: 'completed', background: false, usage }))).toBeUndefined();
    const created = prepare({ model: 'gpt-5', input: 'Write a long report.', background: true }, '/v1/responses');
    expect(idOf(created, response({ status: 'queued', background: true, output: [], usage: null }))).toBeUndefined();
  });

  it('charges a Batch when a retrieval shows it finished (its usage, named by its id), nothing while it runs or when it is listed', () => {
    const batch = (status: string, fields: object = {}) =>
      Buffer.from(JSON.stringify({ id: 'batch_abc123', object: 'batch', endpoint: '/v1/chat/completions', model: 'gpt-4o-mini-2024-07-18', input_file_id: 'file-in', completion_window: '24h', status, output_file_id: null, request_counts: { total: 2, completed: 1, failed: 0 }, ...fields }));
    const batchUsage = { input_tokens: 1500, input_tokens_details: { cached_tokens: 1024 }, output_tokens: 400, output_tokens_details: { reasoning_tokens: 120 }, total_tokens: 1900 };
    const result = (prepared: ReturnType<typeof accounting.prepareRequest>, body: Buffer) => observe(accounting.observeResponse(prepared, 200, 'application/json'), [body]).result;
    for (const running of ['validating', 'in_progress', 'finalizing', 'cancelling']) {
      expect(result(retrieval('/v1/batches/batch_abc123'), batch(running, { usage: batchUsage }))).toMatchObject({ usage: { promptTokens: 0, completionTokens: 0 } });
      expect(result(retrieval('/v1/batches/batch_abc123'), batch(running, { usage: batchUsage })).jobId).toBeUndefined();
    }
    for (const finished of ['completed', 'expired', 'cancelled']) {
      expect(result(retrieval('/v1/batches/batch_abc123'), batch(finished, { usage: batchUsage }))).toMatchObject({
        usage: { promptTokens: 1500, completionTokens: 400, cachedReadTokens: 1024, reasoningTokens: 120 },
        jobId: 'batch_abc123',
      });
    }
    // With an output file, under the file's id: a download of it is charged under the same one.
    expect(result(retrieval('/v1/batches/batch_abc123'), batch('completed', { usage: batchUsage, output_file_id: 'file-out' })).jobId).toBe('file-out');
    // A batch whose input did not validate ran nothing; one created before the provider reported batch
    // usage shows none, and is neither charged nor marked (its output file charges it).
    expect(result(retrieval('/v1/batches/batch_abc123'), batch('failed', { usage: null })).usage).toEqual({ promptTokens: 0, completionTokens: 0 });
    const withoutUsage = result(retrieval('/v1/batches/batch_abc123'), batch('completed', { output_file_id: 'file-out' }));
    expect(withoutUsage.usage).toEqual({ promptTokens: 0, completionTokens: 0 });
    expect(withoutUsage.jobId).toBeUndefined();
  });

  it('charges an eval run when a retrieval or a list shows it finished (every model it called, under its id), nothing while it runs', () => {
    const run = (status: string, perModel: object[]) => ({ object: 'eval.run', id: 'evalrun_1', eval_id: 'eval_1', status, per_model_usage: perModel, result_counts: { total: 2 } });
    const used = [
      { model_name: 'gpt-4o-mini', invocation_count: 2, prompt_tokens: 100, completion_tokens: 20, total_tokens: 120, cached_tokens: 64 },
      { model_name: 'o3-mini', invocation_count: 2, prompt_tokens: 300, completion_tokens: 40, total_tokens: 340, cached_tokens: 0 },
    ];
    const read = (path: string, body: object) => observe(accounting.observeResponse(retrieval(path), 200, 'application/json'), [Buffer.from(JSON.stringify(body))]).result;
    for (const finished of ['completed', 'failed', 'canceled']) {
      expect(read('/v1/evals/eval_1/runs/evalrun_1', run(finished, used))).toMatchObject({ usage: { promptTokens: 400, completionTokens: 60, cachedReadTokens: 64 }, jobId: 'evalrun_1' });
    }
    for (const running of ['queued', 'in_progress']) {
      const seen = read('/v1/evals/eval_1/runs/evalrun_1', run(running, used));
      expect(seen.usage).toEqual({ promptTokens: 0, completionTokens: 0 });
      expect(seen.jobId).toBeUndefined();
    }
    const list = read('/v1/evals/eval_1/runs', { object: 'list', data: [run('completed', used), { ...run('in_progress', []), id: 'evalrun_2' }], has_more: false });
    expect(list.jobs).toEqual([{ id: 'evalrun_1', usage: { promptTokens: 400, completionTokens: 60, cachedReadTokens: 64 } }]);
  });

  it('charges a fine-tuning job its trained tokens (as prompt, under its id) when a retrieval or a list shows it ended, nothing while it trains', () => {
    const job = (status: string, trained: number | null, id = 'ftjob-abc123') => ({ object: 'fine_tuning.job', id, model: 'gpt-4o-mini-2024-07-18', status, trained_tokens: trained, fine_tuned_model: null, training_file: 'file-abc', result_files: [], error: null });
    const read = (path: string, body: object) => observe(accounting.observeResponse(retrieval(path), 200, 'application/json'), [Buffer.from(JSON.stringify(body))]).result;
    for (const ended of ['succeeded', 'failed', 'cancelled']) {
      expect(read('/v1/fine_tuning/jobs/ftjob-abc123', job(ended, 5768))).toMatchObject({ usage: { promptTokens: 5768, completionTokens: 0 }, jobId: 'ftjob-abc123' });
    }
    // Azure's path; a cancel answers the job as a retrieval does (POST without a body).
    expect(read('/openai/fine_tuning/jobs/ftjob-abc123/cancel', job('cancelled', 1200))).toMatchObject({ usage: { promptTokens: 1200, completionTokens: 0 }, jobId: 'ftjob-abc123' });
    for (const [status, trained] of [['validating_files', null], ['queued', null], ['running', null], ['failed', null]] as const) {
      const seen = read('/v1/fine_tuning/jobs/ftjob-abc123', job(status, trained));
      expect(seen.usage).toEqual({ promptTokens: 0, completionTokens: 0 });
      expect(seen.jobId).toBeUndefined();
    }
    const list = read('/v1/fine_tuning/jobs', { object: 'list', data: [job('succeeded', 5768), job('running', null, 'ftjob-2')], has_more: false });
    expect(list.jobs).toEqual([{ id: 'ftjob-abc123', usage: { promptTokens: 5768, completionTokens: 0 } }]);
  });

  it('names the file an upload answers with (a File, a completed Upload’s file), so that it is marked charged', () => {
    const upload = (path: string) => accounting.prepareRequest(path, Buffer.from('--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--b--\r\n'), 'multipart/form-data; boundary=b');
    const answer = (path: string, body: object) => observe(accounting.observeResponse(upload(path), 200, 'application/json'), [Buffer.from(JSON.stringify(body))]).result;
    for (const path of ['/v1/files', '/files', '/openai/files', '/openai/v1/files']) expect(upload(path).uploadsFile).toBe(true);
    const marked = (id: string) => [{ id, usage: { promptTokens: 0, completionTokens: 0 } }];
    expect(answer('/v1/files', { id: 'file-up', object: 'file', bytes: 10, purpose: 'batch' })).toMatchObject({ usage: { promptTokens: 0, completionTokens: 0 }, jobs: marked('file-up') });
    expect(answer('/v1/uploads/upload_1/complete', { id: 'upload_1', object: 'upload', status: 'completed', file: { id: 'file-big', object: 'file' } }).jobs).toEqual(marked('file-big'));
    expect(answer('/v1/uploads/upload_1/complete', { id: 'upload_1', object: 'upload', status: 'pending', file: null }).jobs).toBeUndefined();
    expect(upload('/v1/uploads').uploadsFile).toBeUndefined();
    expect(upload('/v1/containers/cntr_1/files').uploadsFile).toBeUndefined();
    expect(prepare({ model: 'gpt-4o-mini', messages: [] }).uploadsFile).toBeUndefined();
  });

  it('reads a downloaded file as a batch’s output: the usage of its 2xx lines, under the file’s id (Azure’s paths too)', () => {
    const line = (customId: string, status: number, usage: object | null) =>
      JSON.stringify({ id: `batch_req_${customId}`, custom_id: customId, response: { status_code: status, request_id: 'req_1', body: usage === null ? { error: { message: 'bad', type: 'invalid_request_error' } } : { id: 'chatcmpl-1', object: 'chat.completion', model: 'gpt-4o-mini-2024-07-18', choices: [], usage } }, error: null });
    const body = Buffer.from(`${[line('a', 200, { prompt_tokens: 100, completion_tokens: 20, prompt_tokens_details: { cached_tokens: 64 } }), line('b', 400, null), line('c', 200, { prompt_tokens: 5, completion_tokens: 1 })].join('\n')}\n`);
    for (const path of ['/v1/files/file-out/content', '/openai/files/file-out/content', '/openai/v1/files/file-out/content']) {
      const prepared = retrieval(path);
      expect(prepared.resultsOf).toBe('file-out');
      expect(observe(accounting.observeResponse(prepared, 200, 'application/octet-stream'), [body]).result).toEqual({
        usage: { promptTokens: 105, completionTokens: 21, cachedReadTokens: 64 },
        completionText: '',
        complete: true,
        responseModel: 'gpt-4o-mini-2024-07-18',
        jobId: 'file-out',
      });
    }
    // Other file paths, and a file of other lines (an upload, a fine-tuning set), charge nothing.
    expect(retrieval('/v1/files/file-out').resultsOf).toBeUndefined();
    expect(retrieval('/files/file-out/content').resultsOf).toBe('file-out'); // the service's URL ends in /v1
    expect(retrieval('/v1/containers/cntr_1/files/cfile_1/content').resultsOf).toBeUndefined();
    expect(retrieval('/v1/vector_stores/vs_1/files/file-out/content').resultsOf).toBeUndefined();
    const upload = Buffer.from('{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","messages":[]}}\nnot json\n');
    expect(observe(accounting.observeResponse(retrieval('/v1/files/file-in/content'), 200, 'application/octet-stream'), [upload]).result.usage).toEqual({ promptTokens: 0, completionTokens: 0 });
  });

  it('names the finished batches of a list with their usage (each charged once by its id), and charges the list itself nothing', () => {
    const item = (id: string, status: string, usage: object | null) => ({ id, object: 'batch', endpoint: '/v1/chat/completions', status, usage });
    const batchUsage = { input_tokens: 1500, input_tokens_details: { cached_tokens: 1024 }, output_tokens: 400, output_tokens_details: { reasoning_tokens: 120 }, total_tokens: 1900 };
    const list = { object: 'list', data: [item('batch_a', 'completed', batchUsage), item('batch_b', 'in_progress', null), item('batch_c', 'expired', { input_tokens: 10, output_tokens: 2, total_tokens: 12 }), item('batch_d', 'completed', null), 'junk'], has_more: false };
    const seen = observe(accounting.observeResponse(retrieval('/v1/batches'), 200, 'application/json'), [Buffer.from(JSON.stringify(list))]).result;
    expect(seen.usage).toEqual({ promptTokens: 0, completionTokens: 0 });
    expect(seen.jobs).toEqual([
      { id: 'batch_a', usage: { promptTokens: 1500, completionTokens: 400, cachedReadTokens: 1024, reasoningTokens: 120 } },
      { id: 'batch_c', usage: { promptTokens: 10, completionTokens: 2 } },
    ]);
    // Lists of other objects name none.
    const completions = { object: 'list', data: [{ id: 'chatcmpl-1', object: 'chat.completion', usage: { prompt_tokens: 1, completion_tokens: 1 } }] };
    expect(observe(accounting.observeResponse(retrieval('/v1/chat/completions'), 200, 'application/json'), [Buffer.from(JSON.stringify(completions))]).result.jobs).toBeUndefined();
  });

  it('names the background Response of a stream: created and cut, or resumed after its response.created', () => {
    const event = (type: string, data: object): string => sse({ type, ...data }, type);
    const queued = { id: 'resp_bg', status: 'queued', background: true, usage: null };
    const created = event('response.created', { response: queued, sequence_number: 0 });
    const delta = event('response.output_text.delta', { item_id: 'm', output_index: 0, content_index: 0, delta: 'Hi', sequence_number: 5 });
    const completed = event('response.completed', { response: { ...queued, status: 'completed', usage: { input_tokens: 12, output_tokens: 2, total_tokens: 14 } }, sequence_number: 6 });
    const stream = prepare({ model: 'gpt-4o', input: 'x', stream: true, background: true }, '/v1/responses');
    const cut = observe(accounting.observeResponse(stream, 200, 'text/event-stream'), [Buffer.from(created + delta)], false).result;
    expect(cut).toEqual({ usage: null, completionText: 'Hi', complete: false, jobId: 'resp_bg' });
    const resumed = observe(accounting.observeResponse(retrieval('/v1/responses/resp_bg'), 200, 'text/event-stream'), [Buffer.from(delta + completed)]).result;
    expect(resumed).toEqual({ usage: { promptTokens: 12, completionTokens: 2 }, completionText: 'Hi', complete: true, jobId: 'resp_bg' });
  });
});

describe('openAiUsageAccounting operations', () => {
  it.each([
    ['/v1/chat/completions', 'chat_completions'],
    ['/v1/completions', 'completions'],
    ['/v1/responses', 'responses'],
    ['/v1/responses/input_tokens', 'count_tokens'],
    ['/v1/embeddings', 'embeddings'],
    ['/v1/models', 'other'],
    ['/v1/responses/resp_123', 'other'],
    ['/v1/audio/transcriptions', 'other'],
  ] as const)('names %s as %s', (path, operation) => {
    const body = path === '/v1/models' ? Buffer.alloc(0) : Buffer.from('{"model":"gpt-4o"}');
    expect(accounting.prepareRequest(path, body, path === '/v1/models' ? undefined : 'application/json').operation).toBe(operation);
  });
});

describe('openAiUsageAccounting cache and reasoning details', () => {
  const unstreamed = prepare({ model: 'gpt-4o', messages: [] });

  it('reads the prompt tokens written to the cache where the API reports them (Responses usage)', () => {
    const usage = { input_tokens: 3000, input_tokens_details: { cached_tokens: 1024, cache_write_tokens: 1900 }, output_tokens: 40, output_tokens_details: { reasoning_tokens: 16 }, total_tokens: 3040 };
    const body = { id: 'resp_1', object: 'response', model: 'gpt-5.1', status: 'completed', output: [], usage };
    const { result } = observe(accounting.observeResponse(prepare({ model: 'gpt-5.1', input: 'Hi' }, '/v1/responses'), 200, 'application/json'), [Buffer.from(JSON.stringify(body))]);
    expect(result.usage).toEqual({ promptTokens: 3000, completionTokens: 40, cachedReadTokens: 1024, cachedWriteTokens: 1900, reasoningTokens: 16 });
  });

  it('reads cached and reasoning tokens from a chat completion (the prompt caching guide example)', () => {
    const body = {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      model: 'gpt-4o-2024-08-06',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Sure.' }, finish_reason: 'stop' }],
      usage: {
        prompt_tokens: 2006,
        completion_tokens: 300,
        total_tokens: 2306,
        prompt_tokens_details: { cached_tokens: 1920 },
        completion_tokens_details: { reasoning_tokens: 128, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      },
    };
    const { result } = observe(accounting.observeResponse(unstreamed, 200, 'application/json'), [Buffer.from(JSON.stringify(body))]);
    // cached_tokens is a part of prompt_tokens, reasoning_tokens a part of completion_tokens: both stay in the totals.
    expect(result).toEqual({
      usage: { promptTokens: 2006, completionTokens: 300, cachedReadTokens: 1920, reasoningTokens: 128 },
      responseModel: 'gpt-4o-2024-08-06',
      completionText: 'Sure.',
      complete: true,
    });
  });

  it('reads the documented Responses API response: model, and details only when non-zero', () => {
    const { result } = observe(accounting.observeResponse(unstreamed, 200, 'application/json'), [providerFixture('openai', 'response.json')]);
    expect(result.usage).toEqual({ promptTokens: 36, completionTokens: 87 }); // cached_tokens 0, reasoning_tokens 0
    expect(result.responseModel).toBe('gpt-4.1-2025-04-14');
    expect(result.complete).toBe(true);
    // The reasoning guide's usage: input_tokens_details / output_tokens_details.
    const reasoning = {
      object: 'response',
      model: 'o4-mini-2025-04-16',
      output: [{ type: 'message', content: [{ type: 'output_text', text: 'Done.' }] }],
      usage: { input_tokens: 75, input_tokens_details: { cached_tokens: 64 }, output_tokens: 1186, output_tokens_details: { reasoning_tokens: 1024 }, total_tokens: 1261 },
    };
    expect(observe(accounting.observeResponse(unstreamed, 200, 'application/json'), [Buffer.from(JSON.stringify(reasoning))]).result).toEqual({
      usage: { promptTokens: 75, completionTokens: 1186, cachedReadTokens: 64, reasoningTokens: 1024 },
      responseModel: 'o4-mini-2025-04-16',
      completionText: 'Done.',
      complete: true,
    });
  });

  it('reads cached and reasoning tokens from the usage chunk of a chat stream, and still strips it', () => {
    const behaviour = { ...defaultBehaviour(), content: 'Thought it through', usage: { prompt: 1200, completion: 400, cachedRead: 1024, reasoning: 350 } };
    const events = openAIChatStream(behaviour, 'o3-mini-2025-01-31', true).map((chunk) => sse(chunk));
    const usageEvent = events.find((event) => event.includes('"choices":[]'));
    expect(usageEvent).toContain('"cached_tokens":1024');
    expect(usageEvent).toContain('"reasoning_tokens":350');
    const expected = Buffer.from(events.filter((event) => event !== usageEvent).join(''));
    const injected = prepare({ model: 'o3-mini', messages: [], stream: true });
    const { whole, splits } = observeAtEverySplit(() => accounting.observeResponse(injected, 200, 'text/event-stream'), Buffer.from(events.join('')));
    expect(whole.result).toEqual({
      usage: { promptTokens: 1200, completionTokens: 400, cachedReadTokens: 1024, reasoningTokens: 350 },
      responseModel: 'o3-mini-2025-01-31',
      completionText: 'Thought it through',
      complete: true,
    });
    for (const split of [whole, ...splits]) {
      expect(split.forwarded.equals(expected)).toBe(true);
      expect(split.result).toEqual(whole.result);
    }
  });

  it('reads the recorded Responses API stream: model from response.created, usage from response.completed', () => {
    const recorded = providerFixture('openai', 'response-stream.sse');
    const prepared = prepare({ model: 'gpt-4o', input: 'Hi', stream: true }, '/v1/responses');
    const { whole, splits } = observeAtEverySplit(() => accounting.observeResponse(prepared, 200, 'text/event-stream'), recorded);
    expect(whole.result).toEqual({ usage: { promptTokens: 37, completionTokens: 11 }, responseModel: 'gpt-4o-2024-08-06', completionText: 'Hi there!', complete: true });
    for (const split of splits) expect(split.result).toEqual(whole.result);
    // Cut before response.completed: no usage, but the model response.created named.
    const cut = recorded.subarray(0, recorded.indexOf('event: response.completed'));
    expect(observe(accounting.observeResponse(prepared, 200, 'text/event-stream'), [cut], false).result).toEqual({
      usage: null,
      responseModel: 'gpt-4o-2024-08-06',
      completionText: 'Hi there!',
      complete: false,
    });
  });

  it('reads cache and reasoning details from response.completed', () => {
    const event = (type: string, data: object): string => sse({ type, ...data }, type);
    const bytes = Buffer.from(
      [
        event('response.created', { response: { id: 'resp_1', model: 'o4-mini-2025-04-16', status: 'in_progress', usage: null } }),
        event('response.reasoning_summary_text.delta', { item_id: 'r', output_index: 0, summary_index: 0, delta: 'Plan. ' }),
        event('response.output_text.delta', { item_id: 'm', output_index: 1, content_index: 0, delta: 'Answer' }),
        event('response.completed', {
          response: {
            id: 'resp_1',
            model: 'o4-mini-2025-04-16',
            status: 'completed',
            usage: { input_tokens: 75, input_tokens_details: { cached_tokens: 64 }, output_tokens: 1186, output_tokens_details: { reasoning_tokens: 1024 }, total_tokens: 1261 },
          },
        }),
      ].join(''),
    );
    const prepared = prepare({ model: 'o4-mini', input: 'x', stream: true }, '/v1/responses');
    expect(observe(accounting.observeResponse(prepared, 200, 'text/event-stream'), piecesOf(bytes, [40, 300])).result).toEqual({
      usage: { promptTokens: 75, completionTokens: 1186, cachedReadTokens: 64, reasoningTokens: 1024 },
      responseModel: 'o4-mini-2025-04-16',
      completionText: 'Plan. Answer',
      complete: true,
    });
  });

  it('names no response model when the response names none, an empty one or an absurdly long one', () => {
    for (const model of [undefined, '', 'm'.repeat(257)]) {
      const body = Buffer.from(JSON.stringify({ model, choices: [], usage: { prompt_tokens: 1, completion_tokens: 0 } }));
      expect(observe(accounting.observeResponse(unstreamed, 200, 'application/json'), [body]).result).toEqual({ usage: { promptTokens: 1, completionTokens: 0 }, completionText: '', complete: true });
    }
  });
});
