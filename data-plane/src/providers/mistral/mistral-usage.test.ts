import fc from 'fast-check';
import { mistralStream } from '../../../../test/fakes/mistral';
import { defaultBehaviour, sse } from '../../../../test/fakes/recorder';
import { observe, observeAtEverySplit, piecesOf, providerFixture } from '../../../../test/support/data-plane/observer-harness';
import completionExample from '../../../../test/fixtures/providers/mistral/chat-completion.json';
import { MAX_PARSED_JSON_BYTES } from '../shared/json-response-observer';
import { mistralUsageAccounting as accounting } from './mistral-usage';

const CHAT = '/v1/chat/completions';

function prepare(body: object, path = CHAT): ReturnType<typeof accounting.prepareRequest> {
  return accounting.prepareRequest(path, Buffer.from(JSON.stringify(body)), 'application/json');
}

describe('mistralUsageAccounting', () => {
  it('reads model, stream and max_tokens, and never adds stream_options (Mistral rejects unknown fields)', () => {
    const raw = Buffer.from(JSON.stringify({ model: 'mistral-small-latest', messages: [], stream: true, max_tokens: 64, n: 2 }));
    const prepared = accounting.prepareRequest('/prefix/v1/chat/completions', raw, 'application/json');
    expect(prepared).toEqual({
      body: raw,
      json: JSON.parse(raw.toString()) as unknown,
      model: 'mistral-small-latest',
      operation: 'chat_completions',
      stream: true,
      maxCompletionTokens: 128,
      stripUsageChunk: false,
    });
    expect(prepared.body).toBe(raw);
  });

  it('reads the documented chat completion and embeddings', () => {
    const prepared = prepare({ model: 'mistral-small-latest', messages: [] });
    const chat = observe(accounting.observeResponse(prepared, 200, 'application/json'), [providerFixture('mistral', 'chat-completion.json')]);
    expect(chat.result).toEqual({ usage: { promptTokens: 16, completionTokens: 34 }, responseModel: 'mistral-small-latest', completionText: 'Hello! How can I assist you today?', complete: true });
    const embeddings = observe(accounting.observeResponse(prepared, 200, 'application/json'), [providerFixture('mistral', 'embeddings.json')]);
    expect(embeddings.result).toEqual({ usage: { promptTokens: 15, completionTokens: 0 }, responseModel: 'mistral-embed', completionText: '', complete: true });
  });

  it('reads the usage from the last chunk of the recorded stream and forwards it whole', () => {
    const recorded = providerFixture('mistral', 'chat-completion-stream.sse');
    const prepared = prepare({ model: 'mistral-small-latest', messages: [], stream: true });
    const { whole, splits } = observeAtEverySplit(() => accounting.observeResponse(prepared, 200, 'text/event-stream'), recorded);
    expect(whole.result).toEqual({ usage: { promptTokens: 16, completionTokens: 2 }, responseModel: 'mistral-small-latest', completionText: 'Hello!', complete: true });
    for (const split of [whole, ...splits]) {
      expect(split.forwarded.equals(recorded)).toBe(true);
      expect(split.result).toEqual(whole.result);
    }
  });

  it('gives the same result for any chunking of a generated stream (property)', () => {
    const behaviour = { ...defaultBehaviour(), content: 'Ça va très bien, merci ✨', usage: { prompt: 40, completion: 8 } };
    const bytes = Buffer.from(mistralStream(behaviour, 'mistral-large-latest').map((chunk) => sse(chunk)).join(''));
    const prepared = prepare({ model: 'mistral-large-latest', messages: [], stream: true });
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 25 }), (cuts) => {
        const { forwarded, result } = observe(accounting.observeResponse(prepared, 200, 'text/event-stream'), piecesOf(bytes, cuts));
        expect(forwarded.equals(bytes)).toBe(true);
        expect(result).toEqual({ usage: { promptTokens: 40, completionTokens: 8 }, responseModel: 'mistral-large-latest', completionText: 'Ça va très bien, merci ✨', complete: true });
      }),
    );
  });

  it('collects thinking and text parts of structured content (Magistral)', () => {
    const events = [
      { choices: [{ index: 0, delta: { content: [{ type: 'thinking', thinking: [{ type: 'text', text: 'Hmm. ' }] }] } }] },
      { choices: [{ index: 0, delta: { content: [{ type: 'text', text: 'Yes.' }] }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 } },
    ];
    const bytes = Buffer.from([...events.map((event) => sse(event)), sse('[DONE]')].join(''));
    const prepared = prepare({ model: 'magistral-small-latest', messages: [], stream: true });
    expect(observe(accounting.observeResponse(prepared, 200, 'text/event-stream'), [bytes]).result).toEqual({
      usage: { promptTokens: 5, completionTokens: 4 },
      completionText: 'Hmm. Yes.',
      complete: true,
    });
  });

  it('reports a cut stream as incomplete with its partial text, and error bodies as no usage', () => {
    const recorded = providerFixture('mistral', 'chat-completion-stream.sse');
    const prepared = prepare({ model: 'mistral-small-latest', messages: [], stream: true });
    const cut = recorded.indexOf('"usage"');
    expect(observe(accounting.observeResponse(prepared, 200, 'text/event-stream'), [recorded.subarray(0, cut)], false).result).toEqual({
      usage: null,
      responseModel: 'mistral-small-latest',
      completionText: 'Hello',
      complete: false,
    });
    expect(observe(accounting.observeResponse(prepared, 422, 'application/json'), [providerFixture('mistral', 'errors.json')]).result.usage).toBeNull();
  });
});

describe('mistralUsageAccounting operations', () => {
  it.each([
    ['/v1/chat/completions', 'chat_completions'],
    ['/v1/fim/completions', 'completions'],
    ['/v1/embeddings', 'embeddings'],
    ['/v1/ocr', 'ocr'],
    ['/v1/models', 'other'],
  ] as const)('names %s as %s', (path, operation) => {
    expect(prepare({ model: 'codestral-latest', prompt: 'def f(' }, path).operation).toBe(operation);
  });

  it('charges OCR (billed per page: usage_info, no token usage) no tokens and reserves no completion', () => {
    const prepared = prepare({ model: 'mistral-ocr-latest', document: { type: 'document_url', document_url: 'https://arxiv.org/pdf/2201.04234' }, max_tokens: 64 }, '/v1/ocr');
    expect(prepared).toMatchObject({ operation: 'ocr', model: 'mistral-ocr-latest', maxCompletionTokens: 0 });
    const answer = providerFixture('mistral', 'ocr.json');
    expect(observe(accounting.observeResponse(prepared, 200, 'application/json'), [answer]).result).toEqual({ usage: { promptTokens: 0, completionTokens: 0 }, completionText: '', complete: true });
  });

  it('reads a FIM completion: usage, text and the model it names', () => {
    const body = {
      id: 'fim-1',
      object: 'chat.completion',
      model: 'codestral-2501',
      choices: [{ index: 0, message: { role: 'assistant', content: 'x):\n    return x' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 8, completion_tokens: 7, total_tokens: 15 },
    };
    const prepared = prepare({ model: 'codestral-latest', prompt: 'def f(', suffix: '' }, '/v1/fim/completions');
    expect(observe(accounting.observeResponse(prepared, 200, 'application/json'), [Buffer.from(JSON.stringify(body))]).result).toEqual({
      usage: { promptTokens: 8, completionTokens: 7 },
      responseModel: 'codestral-2501',
      completionText: 'x):\n    return x',
      complete: true,
    });
  });
});

describe('mistralUsageAccounting: the Conversations API', () => {
  it('reads a streamed conversation: text from message.output.delta, usage and the end from conversation.response.done', () => {
    const prepared = accounting.prepareRequest('/v1/conversations', Buffer.from(JSON.stringify({ model: 'mistral-medium-latest', inputs: 'Hi', stream: true })), 'application/json');
    const event = (type: string, data: object): string => sse({ type, ...data }, type);
    const bytes = Buffer.from(
      [
        event('conversation.response.started', { created_at: '2025-06-01T00:00:00Z', conversation_id: 'conv_1' }),
        event('message.output.delta', { output_index: 0, id: 'msg_1', content_index: 0, model: 'mistral-medium-2505', agent_id: null, role: 'assistant', content: 'Hello' }),
        event('message.output.delta', { output_index: 0, id: 'msg_1', content_index: 1, model: 'mistral-medium-2505', agent_id: null, role: 'assistant', content: { type: 'text', text: ' there' } }),
        event('conversation.response.done', { created_at: '2025-06-01T00:00:01Z', usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11, connector_tokens: null, connectors: null } }),
      ].join(''),
    );
    expect(observe(accounting.observeResponse(prepared, 200, 'text/event-stream'), piecesOf(bytes, [40, 200])).result).toEqual({
      usage: { promptTokens: 9, completionTokens: 2 },
      completionText: 'Hello there',
      complete: true,
    });
  });

  it('reads conversation.response.error as the failure of a stream answered 200', () => {
    const prepared = accounting.prepareRequest('/v1/conversations', Buffer.from(JSON.stringify({ model: 'mistral-medium-latest', inputs: 'Hi', stream: true })), 'application/json');
    const event = (type: string, data: object): string => sse({ type, ...data }, type);
    const bytes = Buffer.from(
      [
        event('conversation.response.started', { created_at: '2025-06-01T00:00:00Z', conversation_id: 'conv_1' }),
        event('conversation.response.error', { created_at: '2025-06-01T00:00:01Z', message: 'Service unavailable', code: 503 }),
      ].join(''),
    );
    expect(observe(accounting.observeResponse(prepared, 200, 'text/event-stream'), [bytes]).result).toEqual({ usage: null, completionText: '', complete: false, streamError: 503 });
  });
});

describe('mistralUsageAccounting: batch jobs', () => {
  const FILE = '6f3c5d3e-93f6-4a0e-9a4e-2c1b8e7d0a11';
  const read = (path: string) => accounting.prepareRequest(path, Buffer.alloc(0), undefined);
  /** A line of a batch's output file, as Mistral writes it: the endpoint's answer under `response.body`. */
  const succeeded = (customId: string, prompt: number, completion: number) =>
    ({ id: `batch-${customId}`, custom_id: customId, response: { status_code: 200, body: { ...completionExample, usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } } }, error: null });
  const failed = (customId: string) => ({ id: `batch-${customId}`, custom_id: customId, response: { status_code: 400, body: { object: 'error', message: 'Invalid model', type: 'invalid_model', code: '1500' } }, error: null });

  it('sums the usage of an output file’s succeeded lines, under the file’s id, whatever the chunking', () => {
    const prepared = read(`/v1/files/${FILE}/content`);
    expect(prepared.resultsOf).toBe(FILE);
    const body = Buffer.from([succeeded('a', 100, 20), failed('b'), succeeded('c', 30, 7)].map((line) => `${JSON.stringify(line)}\n`).join(''));
    const { whole, splits } = observeAtEverySplit(() => accounting.observeResponse(prepared, 200, 'application/octet-stream'), body);
    expect(whole.result).toEqual({ usage: { promptTokens: 130, completionTokens: 27 }, completionText: '', complete: true, responseModel: completionExample.model, jobId: FILE });
    for (const split of [whole, ...splits]) {
      expect(split.forwarded.equals(body)).toBe(true);
      expect(split.result).toEqual(whole.result);
    }
  });

  it('charges nothing for a file without results (a batch’s input), and nothing for a download cut short', () => {
    const prepared = read(`/v1/files/${FILE}/content`);
    const input = Buffer.from(`${JSON.stringify({ custom_id: 'a', body: { model: 'mistral-small-latest', messages: [{ role: 'user', content: 'Hi' }] } })}\n`);
    expect(observe(accounting.observeResponse(prepared, 200, 'application/octet-stream'), [input]).result).toMatchObject({ usage: { promptTokens: 0, completionTokens: 0 }, jobId: FILE });
    const observer = accounting.observeResponse(prepared, 200, 'application/octet-stream');
    observer.write(Buffer.from(`${JSON.stringify(succeeded('a', 100, 20))}\n`));
    expect(observer.result().usage).toBeNull();
  });

  it('charges a fine-tuning job its trained tokens (as prompt, under its id) once it ended, nothing while it trains', () => {
    const job = (status: string, trained: number | null) =>
      Buffer.from(JSON.stringify({ id: 'a8f1d9c2-0000-4000-8000-000000000001', auto_start: true, model: 'open-mistral-7b', status, job_type: 'completion', created_at: 1, modified_at: 2, training_files: [FILE], object: 'job', fine_tuned_model: null, trained_tokens: trained, hyperparameters: { training_steps: 10 } }));
    const seen = (status: string, trained: number | null) => observe(accounting.observeResponse(read('/v1/fine_tuning/jobs/a8f1d9c2-0000-4000-8000-000000000001'), 200, 'application/json'), [job(status, trained)]).result;
    for (const ended of ['SUCCESS', 'FAILED', 'CANCELLED']) expect(seen(ended, 40960)).toMatchObject({ usage: { promptTokens: 40960, completionTokens: 0 }, jobId: 'a8f1d9c2-0000-4000-8000-000000000001' });
    for (const status of ['QUEUED', 'VALIDATING', 'RUNNING', 'CANCELLATION_REQUESTED']) {
      expect(seen(status, 1024)).toMatchObject({ usage: { promptTokens: 0, completionTokens: 0 } });
      expect(seen(status, 1024).jobId).toBeUndefined();
    }
    expect(seen('FAILED_VALIDATION', null).jobId).toBeUndefined();
  });

  it('sums the inline outputs of a finished job under its output file’s id, and charges an unfinished or file-only read nothing', () => {
    const job = (status: string, outputs: unknown) =>
      Buffer.from(JSON.stringify({ id: 'b6f9…', object: 'batch', input_files: [], endpoint: '/v1/chat/completions', model: 'mistral-small-latest', output_file: FILE, error_file: null, errors: [], outputs, status, created_at: 1, total_requests: 2, completed_requests: 2, succeeded_requests: 1, failed_requests: 1 }));
    const prepared = read('/v1/batch/jobs/b6f9');
    const inline = observe(accounting.observeResponse(prepared, 200, 'application/json'), [job('SUCCESS', [succeeded('a', 100, 20), failed('b')])]).result;
    expect(inline).toMatchObject({ usage: { promptTokens: 100, completionTokens: 20 }, jobId: FILE });
    const running = observe(accounting.observeResponse(prepared, 200, 'application/json'), [job('RUNNING', [succeeded('a', 100, 20)])]).result;
    expect(running.usage).toEqual({ promptTokens: 0, completionTokens: 0 });
    expect(running.jobId).toBeUndefined();
    // Read inline, a job too large to parse whole (its outputs past MAX_PARSED_JSON_BYTES) is summed as it streams.
    const many = Array.from({ length: 400 }, (_, i) => (i % 10 === 9 ? failed(`r${i}`) : succeeded(`r${i}`, 100, 20)));
    many.forEach((line) => ((line.response.body as { pad?: string }).pad = 'x'.repeat(1500)));
    const large = job('SUCCESS', many);
    expect(large.length).toBeGreaterThan(MAX_PARSED_JSON_BYTES);
    const inlineRead = accounting.prepareRequest('/v1/batch/jobs/b6f9', Buffer.alloc(0), undefined, '?inline=true');
    expect(inlineRead.readsInlineResults).toBe(true);
    const pieces = large.toString('latin1').match(/[\s\S]{1,16384}/g)?.map((piece) => Buffer.from(piece, 'latin1')) ?? [];
    expect(observe(accounting.observeResponse(inlineRead, 200, 'application/json'), pieces).result).toEqual({ usage: { promptTokens: 36_000, completionTokens: 7_200 }, completionText: '', complete: true, jobId: FILE });
    const largeRunning = job('RUNNING', many);
    expect(observe(accounting.observeResponse(inlineRead, 200, 'application/json'), [largeRunning]).result).toMatchObject({ usage: { promptTokens: 0, completionTokens: 0 } });
    expect(observe(accounting.observeResponse(inlineRead, 200, 'application/json'), [largeRunning]).result.jobId).toBeUndefined();
    // Without ?inline=true a finished job shows no outputs: its file is still to be charged.
    const fileOnly = observe(accounting.observeResponse(prepared, 200, 'application/json'), [job('SUCCESS', null)]).result;
    expect(fileOnly.usage).toEqual({ promptTokens: 0, completionTokens: 0 });
    expect(fileOnly.jobId).toBeUndefined();
  });
});
