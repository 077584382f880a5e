// Fake OpenAI API upstream: chat completions, legacy completions and responses (JSON and SSE),
// embeddings, moderations, models, audio transcriptions and file uploads (multipart), image generation,
// batches, Realtime client secrets and conversations (both answered without usage).
import chatCompletionExample from '../fixtures/providers/openai/chat-completion.json';
import chunkExample from '../fixtures/providers/openai/chat-completion-chunk.json';
import embeddingsExample from '../fixtures/providers/openai/embeddings.json';
import errorExamples from '../fixtures/providers/openai/errors.json';
import modelsExample from '../fixtures/providers/openai/models.json';
import { BackgroundResponses, openAIResponse, openAIResponseStream } from './openai-responses';
import { type FunctionCall, argumentPieces, pendingToolCall } from './tool-calls';
import {
  type FakeBehaviour,
  type FakeExchange,
  type FakeServer,
  type ProviderError,
  nowSeconds,
  randomId,
  sendJson,
  sendStream,
  field,
  splitWords,
  sse,
  SSE_HEADERS,
  startFake,
  stringField,
} from './recorder';

export interface FakeProviderOptions {
  /** When set, requests without this key (in the provider's credential header) get a 401. */
  requireApiKey?: string;
}

export function startFakeOpenAI(options: FakeProviderOptions = {}): Promise<FakeServer> {
  const background = new BackgroundResponses();
  const jobs = newFakeJobs();
  return startFake((exchange) => handleOpenAI(exchange, options, background, jobs), { errorFor: openAIError });
}

/** A fake's jobs: its batches, eval runs, fine-tuning jobs and files' lines (uploaded ones and completed batches' output files). */
export interface FakeJobs {
  readonly batches: Map<string, Record<string, unknown>>;
  readonly outputFiles: Map<string, readonly string[]>;
  /** Eval runs (OpenAI Evals), by run id. */
  readonly evalRuns: Map<string, Record<string, unknown>>;
  /** Fine-tuning jobs, by job id. */
  readonly fineTuningJobs: Map<string, Record<string, unknown>>;
}

export function newFakeJobs(): FakeJobs {
  return { batches: new Map(), outputFiles: new Map(), evalRuns: new Map(), fineTuningJobs: new Map() };
}

/** What a fake fine-tuning job bills once it succeeded: its training set's tokens, three epochs. */
export const FAKE_TRAINED_TOKENS = 3 * 1922;

/**
 * The job APIs on `path`, the request's path below the API's root (`/files` uploads, `/batches`,
 * `/batches/{id}`, `/files/{id}/content`, `/evals/{id}/runs[/{id}]`; OpenAI's root is `/v1`, Azure's
 * `/openai` or `/openai/v1`), null when the
 * request is not under the root: answered (true), or not one of these routes (false).
 */
export async function handleJobs(exchange: FakeExchange, { batches, outputFiles, evalRuns, fineTuningJobs }: FakeJobs, path: string | null, headers: Record<string, string>): Promise<boolean> {
  const { req, res, behaviour } = exchange;
  if (path === null) return false;
  const route = `${req.method} ${path}`;
  const fineTuningPath = /^\/fine_tuning\/jobs(?:\/([^/]+)(\/cancel)?)?$/.exec(path);
  if (fineTuningPath !== null) {
    const [, jobId, cancel] = fineTuningPath;
    const job = jobId === undefined ? undefined : fineTuningJobs.get(decodeURIComponent(jobId));
    if (req.method === 'POST' && jobId === undefined) {
      const created = openAIFineTuningJob(req.json);
      fineTuningJobs.set(created.id as string, created);
      sendJson(res, 200, created, headers);
    } else if (req.method === 'GET' && jobId === undefined) {
      const data = [...fineTuningJobs.values()].reverse().map(advanceFineTuningJob);
      sendJson(res, 200, { object: 'list', data, has_more: false }, headers);
    } else if (job === undefined || (cancel === undefined ? req.method !== 'GET' : req.method !== 'POST')) {
      sendJson(res, 404, { error: { message: `Could not find fine-tune: ${jobId ?? ''}`, type: 'invalid_request_error', param: null, code: 'fine_tune_not_found' } }, headers);
    } else if (cancel !== undefined) {
      // Cancelled mid-training: billed for what it trained so far.
      if (job.status !== 'succeeded' && job.status !== 'failed') Object.assign(job, { status: 'cancelled', finished_at: nowSeconds(), trained_tokens: job.status === 'running' ? Math.floor(FAKE_TRAINED_TOKENS / 3) : null });
      sendJson(res, 200, job, headers);
    } else {
      sendJson(res, 200, advanceFineTuningJob(job), headers);
    }
    return true;
  }
  const evalRunsPath = /^\/evals\/([^/]+)\/runs(?:\/([^/]+))?$/.exec(path);
  if (evalRunsPath !== null) {
    const [, evalId, runId] = evalRunsPath;
    if (req.method === 'POST' && runId === undefined) {
      const run = openAIEvalRun(decodeURIComponent(evalId), req.json);
      evalRuns.set(run.id as string, run);
      sendJson(res, 200, run, headers);
    } else if (req.method === 'GET' && runId === undefined) {
      const data = [...evalRuns.values()].filter((run) => run.eval_id === decodeURIComponent(evalId)).reverse().map((run) => advanceEvalRun(run, behaviour));
      sendJson(res, 200, { object: 'list', data, first_id: (data[0]?.id as string | undefined) ?? null, last_id: (data.at(-1)?.id as string | undefined) ?? null, has_more: false }, headers);
    } else {
      const run = runId === undefined ? undefined : evalRuns.get(decodeURIComponent(runId));
      if (req.method !== 'GET' || run === undefined) sendJson(res, 404, { error: { message: 'Eval run not found.', type: 'invalid_request_error', param: null, code: null } }, headers);
      else sendJson(res, 200, advanceEvalRun(run, behaviour), headers);
    }
    return true;
  }
  if (route === 'POST /files') {
    // Multipart: the File object; the file part's lines are kept for its download.
    const file = openAIFile(req.rawBody) as { id: string };
    outputFiles.set(file.id, multipartFileLines(req.rawBody, req.headers['content-type']));
    sendJson(res, 200, file, headers);
    return true;
  }
  if (route === 'POST /batches') {
    const batch = openAIBatch(req.json);
    batches.set(batch.id as string, batch);
    sendJson(res, 200, batch, headers);
    return true;
  }
  if (route === 'GET /batches') {
    // Newest first; each batch as a read finds it (one status on, as a retrieval moves it).
    const data = [...batches.values()].reverse().map((batch) => advanceBatch(batch, behaviour, outputFiles));
    sendJson(res, 200, { object: 'list', data, first_id: (data[0]?.id as string | undefined) ?? null, last_id: (data.at(-1)?.id as string | undefined) ?? null, has_more: false }, headers);
    return true;
  }
  const batchRetrieved = req.method === 'GET' ? /^\/batches\/([^/]+)$/.exec(path) : null;
  if (batchRetrieved) {
    const batch = batches.get(decodeURIComponent(batchRetrieved[1]));
    if (batch === undefined) sendJson(res, 404, { error: { message: 'No batch found with that id.', type: 'invalid_request_error', param: null, code: null } }, headers);
    else sendJson(res, 200, advanceBatch(batch, behaviour, outputFiles), headers);
    return true;
  }
  const fileContent = req.method === 'GET' ? /^\/files\/([^/]+)\/content$/.exec(path) : null;
  if (fileContent) {
    // A completed batch's output file, streamed as the API streams files (compressed when accepted, uneven writes).
    const lines = outputFiles.get(decodeURIComponent(fileContent[1]));
    if (lines === undefined) sendJson(res, 404, { error: { message: 'No such File object.', type: 'invalid_request_error', param: 'id', code: null } }, headers);
    else await sendStream(exchange, lines.map((line) => `${line}\n`), { 'content-type': 'application/octet-stream', ...headers });
    return true;
  }
  return false;
}

/** Routes answered with one JSON body, built from the exchange. */
const JSON_ROUTES: ReadonlyMap<string, (exchange: FakeExchange) => unknown> = new Map<string, (exchange: FakeExchange) => unknown>([
  ['POST /v1/audio/transcriptions', ({ req, behaviour }) => openAITranscription(behaviour, req.rawBody)],
  ['POST /v1/embeddings', ({ req, behaviour }) => openAIEmbeddings(behaviour, req.json)],
  ['POST /v1/moderations', ({ req }) => openAIModeration(req.json)],
  ['POST /v1/realtime/client_secrets', ({ req }) => openAIRealtimeClientSecret(req.json)],
  ['POST /v1/conversations', ({ req }) => ({ id: `conv_${randomId(48, '0123456789abcdef')}`, object: 'conversation', created_at: nowSeconds(), metadata: field(req.json, 'metadata') ?? {} })],
  ['GET /v1/models', () => modelsExample],
]);

async function handleOpenAI(exchange: FakeExchange, options: FakeProviderOptions, background: BackgroundResponses, jobs: FakeJobs): Promise<void> {
  const { req, res, behaviour } = exchange;
  const headers = { 'x-request-id': `req_${randomId(32, '0123456789abcdef')}`, 'openai-processing-ms': '42' };
  if (options.requireApiKey !== undefined && req.headers.authorization !== `Bearer ${options.requireApiKey}`) {
    sendJson(res, 401, openAIError(401, behaviour).body, headers);
    return;
  }
  const route = `${req.method} ${req.path}`;
  if ((route === 'POST /v1/chat/completions' || route === 'POST /v1/completions') && streamOptionsWithoutStream(req.json)) {
    sendJson(res, 400, STREAM_OPTIONS_WITHOUT_STREAM, headers);
    return;
  }
  if (route === 'POST /v1/chat/completions') {
    const model = stringField(req.json, 'model') ?? chatCompletionExample.model;
    const call = pendingToolCall(behaviour, req.json, 'chat');
    if (field(req.json, 'stream') === true) {
      const includeUsage = field(field(req.json, 'stream_options'), 'include_usage') === true;
      const events = openAIChatStream(behaviour, model, includeUsage, undefined, call).map((chunk) => sse(chunk));
      const cut = behaviour.streamErrorAfterChunks;
      await sendStream(exchange, cut === undefined ? events : [...events.slice(0, cut), openAIStreamError(behaviour)], {
        ...SSE_HEADERS,
        ...headers,
      });
    } else {
      sendJson(res, 200, openAIChatCompletion(behaviour, model, call), headers);
    }
    return;
  }
  if (route === 'POST /v1/responses') {
    const model = stringField(req.json, 'model') ?? chatCompletionExample.model;
    const call = pendingToolCall(behaviour, req.json, 'responses');
    if (field(req.json, 'background') === true) {
      const streamed = field(req.json, 'stream') === true;
      const created = background.create(behaviour, model, streamed);
      if (streamed) await sendStream(exchange, created.events, { ...SSE_HEADERS, ...headers });
      else sendJson(res, 200, created.queued, headers);
    } else if (field(req.json, 'stream') === true) {
      await sendStream(exchange, openAIResponseStream(behaviour, model, call), { ...SSE_HEADERS, ...headers });
    } else {
      sendJson(res, 200, openAIResponse(behaviour, model, call), headers);
    }
    return;
  }
  if (route === 'POST /v1/completions') {
    const model = stringField(req.json, 'model') ?? 'gpt-3.5-turbo-instruct';
    if (field(req.json, 'stream') === true) {
      const includeUsage = field(field(req.json, 'stream_options'), 'include_usage') === true;
      await sendStream(exchange, openAICompletionStream(behaviour, model, includeUsage).map((chunk) => sse(chunk)), { ...SSE_HEADERS, ...headers });
    } else {
      sendJson(res, 200, openAICompletion(behaviour, model), headers);
    }
    return;
  }
  if (route === 'POST /v1/audio/speech') {
    if (stringField(req.json, 'stream_format') === 'sse') {
      await sendStream(exchange, openAISpeechStream(behaviour).map((event) => sse(event)), { ...SSE_HEADERS, ...headers });
    } else {
      res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': FAKE_AUDIO.length, ...headers });
      res.end(FAKE_AUDIO);
    }
    return;
  }
  const answer = JSON_ROUTES.get(route);
  if (answer !== undefined) {
    sendJson(res, 200, answer(exchange), headers);
    return;
  }
  if (route === 'POST /v1/images/generations') {
    if (field(req.json, 'stream') === true) {
      await sendStream(exchange, openAIImageStream(behaviour, req.json), { ...SSE_HEADERS, ...headers });
    } else {
      sendJson(res, 200, openAIImage(behaviour, req.json), headers);
    }
    return;
  }
  const retrieved = req.method === 'GET' ? /^\/v1\/responses\/([^/]+)$/.exec(req.path) : null;
  if (retrieved) {
    // Only background responses are kept here; OpenAI answers 404 for a response it does not keep.
    const id = decodeURIComponent(retrieved[1]);
    const startingAfter = req.query.starting_after === undefined ? undefined : Number(req.query.starting_after);
    const events = req.query.stream === 'true' ? background.resume(id, startingAfter) : null;
    const response = req.query.stream === 'true' ? null : background.retrieve(id);
    if (events !== null) await sendStream(exchange, events, { ...SSE_HEADERS, ...headers });
    else if (response !== null) sendJson(res, 200, response, headers);
    else sendJson(res, 404, { error: { message: `Response with id '${id}' not found.`, type: 'invalid_request_error', param: null, code: null } }, headers);
    return;
  }
  if (await handleJobs(exchange, jobs, req.path.startsWith('/v1/') ? req.path.slice(3) : null, headers)) return;
  const stored = req.method === 'POST' ? /^\/v1\/chat\/completions\/([^/]+)$/.exec(req.path) : null;
  if (stored) {
    // Updates a stored completion's metadata; answers the completion, its original usage included.
    sendJson(res, 200, { ...openAIChatCompletion(behaviour, chatCompletionExample.model), id: decodeURIComponent(stored[1]), metadata: field(req.json, 'metadata') ?? null }, headers);
    return;
  }
  const model = req.method === 'GET' ? /^\/v1\/models\/([^/]+)$/.exec(req.path) : null;
  if (model) {
    const found = modelsExample.data.find((m) => m.id === decodeURIComponent(model[1]));
    if (found) sendJson(res, 200, found, headers);
    else sendJson(res, 404, openAIError(404, behaviour).body, headers);
    return;
  }
  sendJson(
    res,
    404,
    { error: { message: `Invalid URL (${req.method} ${req.path})`, type: 'invalid_request_error', param: null, code: null } },
    headers,
  );
}

/** OpenAI's 400 for `stream_options` on a request that does not stream. */
export const STREAM_OPTIONS_WITHOUT_STREAM = {
  error: { message: "The 'stream_options' parameter is only allowed when 'stream' is enabled.", type: 'invalid_request_error', param: 'stream_options', code: null },
};

/** A (chat) completions body with `stream_options` (even null) but without `stream: true`: OpenAI refuses it. */
export function streamOptionsWithoutStream(body: unknown): boolean {
  return field(body, 'stream_options') !== undefined && field(body, 'stream') !== true;
}

/** OpenAI's error body for a status, from the documented examples (`behaviour.errorType` sets `code`). */
export function openAIError(status: number, behaviour: FakeBehaviour): ProviderError {
  const example = (errorExamples as Record<string, { error: Record<string, unknown> } | undefined>)[String(status)] ?? {
    error: { message: `Fake upstream error ${status}`, type: 'server_error', param: null, code: null },
  };
  const error = { ...example.error };
  if (behaviour.errorType !== undefined) error.code = behaviour.errorType;
  return { body: { error }, headers: { 'x-request-id': `req_${randomId(32, '0123456789abcdef')}` } };
}

/**
 * The chunk OpenAI sends inside a Chat Completions stream already answered 200 when it fails
 * (`{"error": {...}}`, no `choices`; server_error unless `behaviour.errorType` sets the code), after
 * which the stream ends without `[DONE]`. The SDK raises it as an APIError.
 */
export function openAIStreamError(behaviour: FakeBehaviour): string {
  const code = behaviour.errorType ?? null;
  const type = code === 'rate_limit_exceeded' ? 'tokens' : 'server_error';
  return sse({ error: { message: 'The server had an error while processing your request. Sorry about that!', type, param: null, code } });
}

/**
 * `prompt_tokens` counts the whole prompt, cached tokens included (`prompt_tokens_details.cached_tokens`
 * = cache reads; cache writes are not reported separately); `completion_tokens` includes
 * `completion_tokens_details.reasoning_tokens`.
 */
export function openAIUsage(behaviour: FakeBehaviour): typeof chatCompletionExample.usage {
  const { prompt, completion, cachedRead = 0, reasoning = 0 } = behaviour.usage;
  const example = chatCompletionExample.usage;
  return {
    ...example,
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { ...example.prompt_tokens_details, cached_tokens: cachedRead },
    completion_tokens_details: { ...example.completion_tokens_details, reasoning_tokens: reasoning },
  };
}

/** What openAIChatCompletion needs of an example: its first choice's message. */
interface ChatCompletionExample {
  readonly choices: ReadonlyArray<{ readonly message: object }>;
}

/**
 * A chat completion built on `example` (OpenAI's documented one by default; Azure's adds its content
 * filter results); when the model calls a tool, its message holds `tool_calls` and no content.
 */
export function openAIChatCompletion<Example extends ChatCompletionExample = typeof chatCompletionExample>(behaviour: FakeBehaviour, model: string, call: FunctionCall | null = null, example: Example = chatCompletionExample as unknown as Example): Example {
  const [choice] = example.choices;
  const answer =
    call === null
      ? { ...choice, message: { ...choice.message, content: behaviour.content } }
      : { ...choice, message: { ...choice.message, content: null, tool_calls: [{ id: call.callId, type: 'function', function: { name: call.name, arguments: call.arguments } }] }, finish_reason: 'tool_calls' };
  return {
    ...example,
    id: `chatcmpl-${randomId(29)}`,
    created: nowSeconds(),
    model,
    choices: [answer],
    usage: openAIUsage(behaviour),
  };
}

/**
 * The chunks of a streamed chat completion: a role chunk, one chunk per word, a finish chunk and,
 * with `stream_options.include_usage`, a final `choices: []` chunk with the usage (every other
 * chunk then carries `"usage": null`, as OpenAI does). A tool call streams as a role chunk naming the
 * call, its arguments in pieces, and a finish chunk with `finish_reason: "tool_calls"`.
 */
export function openAIChatStream(
  behaviour: FakeBehaviour,
  model: string,
  includeUsage: boolean,
  decorateChoice: (choice: object, kind: 'role' | 'content' | 'finish') => object = (choice) => choice,
  call: FunctionCall | null = null,
): unknown[] {
  const base = { ...chunkExample, id: `chatcmpl-${randomId(29)}`, created: nowSeconds(), model };
  const [first] = chunkExample.choices;
  const chunk = (choice: object, kind: 'role' | 'content' | 'finish'): object => ({
    ...base,
    choices: [decorateChoice(choice, kind)],
    ...(includeUsage ? { usage: null } : {}),
  });
  const chunks: unknown[] =
    call === null
      ? [
          chunk(first, 'role'),
          ...splitWords(behaviour.content).map((text) => chunk({ ...first, delta: { content: text } }, 'content')),
          chunk({ ...first, delta: {}, finish_reason: 'stop' }, 'finish'),
        ]
      : [
          chunk({ ...first, delta: { role: 'assistant', content: null, tool_calls: [{ index: 0, id: call.callId, type: 'function', function: { name: call.name, arguments: '' } }], refusal: null } }, 'role'),
          ...argumentPieces(call.arguments).map((piece) => chunk({ ...first, delta: { tool_calls: [{ index: 0, function: { arguments: piece } }] } }, 'content')),
          chunk({ ...first, delta: {}, finish_reason: 'tool_calls' }, 'finish'),
        ];
  if (includeUsage) chunks.push({ ...base, choices: [], usage: openAIUsage(behaviour) });
  chunks.push('[DONE]');
  return chunks;
}

/** An embeddings list for the request's inputs; base64 when `encoding_format` asks for it. */
export function openAIEmbeddings(behaviour: FakeBehaviour, body: unknown): unknown {
  const input = field(body, 'input');
  const count = Array.isArray(input) && input.length > 0 && typeof input[0] !== 'number' ? input.length : 1;
  const base64 = stringField(body, 'encoding_format') === 'base64';
  const dimensions = field(body, 'dimensions');
  const vector = fakeVector(typeof dimensions === 'number' ? dimensions : 8);
  return {
    ...embeddingsExample,
    model: stringField(body, 'model') ?? embeddingsExample.model,
    data: Array.from({ length: count }, (_, index) => ({
      object: 'embedding',
      index,
      // The openai SDK asks for base64 (little-endian float32) unless the caller chose a format.
      embedding: base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector,
    })),
    usage: { prompt_tokens: behaviour.usage.prompt, total_tokens: behaviour.usage.prompt },
  };
}

/** A deterministic unit-ish vector whose values are exact in float32. */
export function fakeVector(dimensions: number): number[] {
  return Array.from({ length: dimensions }, (_, i) => ((i % 7) - 3) / 8);
}

/** A legacy Completions (`POST /v1/completions`) answer: `text_completion`, usage as Chat Completions'. */
export function openAICompletion(behaviour: FakeBehaviour, model: string): object {
  const { prompt, completion } = behaviour.usage;
  return {
    id: `cmpl-${randomId(29)}`,
    object: 'text_completion',
    created: nowSeconds(),
    model,
    choices: [{ text: behaviour.content, index: 0, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
  };
}

/** Legacy Completions streamed: one chunk per word, a finish chunk, and with include_usage a `choices: []` usage chunk. */
export function openAICompletionStream(behaviour: FakeBehaviour, model: string, includeUsage: boolean): unknown[] {
  const base = { id: `cmpl-${randomId(29)}`, object: 'text_completion', created: nowSeconds(), model };
  const chunk = (text: string, finish: string | null): object => ({ ...base, choices: [{ text, index: 0, logprobs: null, finish_reason: finish }], ...(includeUsage ? { usage: null } : {}) });
  const { prompt, completion } = behaviour.usage;
  const chunks: unknown[] = [...splitWords(behaviour.content).map((text) => chunk(text, null)), chunk('', 'stop')];
  if (includeUsage) chunks.push({ ...base, choices: [], usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } });
  chunks.push('[DONE]');
  return chunks;
}

/** The value of a multipart form field (`name="model"`), when the body has it as plain text. */
function multipartField(body: Buffer, name: string): string | undefined {
  const match = new RegExp(`name="${name}"\\r\\n(?:[^\\r\\n]+\\r\\n)*\\r\\n([^\\r]*)\\r\\n`).exec(body.toString('latin1'));
  return match?.[1];
}

/**
 * `POST /v1/audio/transcriptions` (multipart) as `json`: gpt-4o-transcribe models report token usage
 * (`type: "tokens"`, audio input tokens), whisper-1 its duration (`type: "duration"`).
 */
export function openAITranscription(behaviour: FakeBehaviour, body: Buffer): object {
  const model = multipartField(body, 'model') ?? 'whisper-1';
  if (model === 'whisper-1') return { text: behaviour.content, usage: { type: 'duration', seconds: 3 } };
  const { prompt, completion } = behaviour.usage;
  return {
    text: behaviour.content,
    usage: { type: 'tokens', input_tokens: prompt, input_token_details: { text_tokens: 0, audio_tokens: prompt }, output_tokens: completion, total_tokens: prompt + completion },
  };
}

/** `POST /v1/images/generations`: gpt-image-1 reports token usage (text and image input tokens, image output tokens). */
export function openAIImage(behaviour: FakeBehaviour, body: unknown): object {
  const { prompt, completion } = behaviour.usage;
  return {
    created: nowSeconds(),
    data: [{ b64_json: Buffer.from('fake image').toString('base64') }],
    usage: { total_tokens: prompt + completion, input_tokens: prompt, output_tokens: completion, input_tokens_details: { text_tokens: prompt, image_tokens: 0 } },
    ...(stringField(body, 'model') === 'dall-e-3' ? { usage: undefined } : {}),
  };
}

/** The audio the fake's speech answers carry. */
const FAKE_AUDIO = Buffer.from('ID3fake mp3 frames '.repeat(64));

/**
 * `POST /v1/audio/speech` with `stream_format: "sse"` (gpt-4o-mini-tts): unnamed events, base64 audio
 * in `speech.audio.delta`, then `speech.audio.done` with the usage (text input tokens, audio output
 * tokens); no `[DONE]`.
 */
export function openAISpeechStream(behaviour: FakeBehaviour): object[] {
  const { prompt, completion } = behaviour.usage;
  const half = FAKE_AUDIO.length / 2;
  return [
    { type: 'speech.audio.delta', audio: FAKE_AUDIO.subarray(0, half).toString('base64') },
    { type: 'speech.audio.delta', audio: FAKE_AUDIO.subarray(half).toString('base64') },
    { type: 'speech.audio.done', usage: { input_tokens: prompt, output_tokens: completion, total_tokens: prompt + completion } },
  ];
}

/**
 * `POST /v1/moderations`: one result per input, no `usage` (the moderation models are free, per
 * OpenAI's model page for omni-moderation-latest).
 */
export function openAIModeration(body: unknown): object {
  const input = field(body, 'input');
  const count = Array.isArray(input) && input.length > 0 && typeof input[0] === 'string' ? input.length : 1;
  const categories = { harassment: false, 'harassment/threatening': false, hate: false, 'hate/threatening': false, illicit: false, 'illicit/violent': false, 'self-harm': false, 'self-harm/instructions': false, 'self-harm/intent': false, sexual: false, 'sexual/minors': false, violence: false, 'violence/graphic': false };
  const scores = Object.fromEntries(Object.keys(categories).map((name) => [name, 0.0001]));
  const inputTypes = Object.fromEntries(Object.keys(categories).map((name) => [name, ['text']]));
  return {
    id: `modr-${randomId(32, '0123456789abcdef')}`,
    model: stringField(body, 'model') ?? 'omni-moderation-latest',
    results: Array.from({ length: count }, () => ({ flagged: false, categories, category_scores: scores, category_applied_input_types: inputTypes })),
  };
}

/**
 * `POST /v1/realtime/client_secrets`: an ephemeral key for a browser's Realtime session and the
 * session as configured; no usage (the session is billed as it runs, between the browser and OpenAI).
 */
export function openAIRealtimeClientSecret(body: unknown): object {
  const session = field(body, 'session');
  return {
    value: `ek_${randomId(32, '0123456789abcdef')}`,
    expires_at: nowSeconds() + 600,
    session: {
      type: 'realtime',
      object: 'realtime.session',
      id: `sess_${randomId(21)}`,
      model: stringField(session, 'model') ?? 'gpt-realtime',
      output_modalities: ['audio'],
      instructions: stringField(session, 'instructions') ?? '',
      tools: [],
      tool_choice: 'auto',
      max_output_tokens: 'inf',
      tracing: null,
      truncation: 'auto',
      prompt: null,
      expires_at: 0,
      include: null,
    },
  };
}

/**
 * `POST /v1/images/generations` with `stream: true` (GPT image models): named events,
 * `partial_images` image_generation.partial_image events, then image_generation.completed with the
 * image and the usage (text input tokens, image output tokens).
 */
export function openAIImageStream(behaviour: FakeBehaviour, body: unknown): string[] {
  const { prompt, completion } = behaviour.usage;
  const image = Buffer.from('fake image').toString('base64');
  const common = { background: 'opaque', created_at: nowSeconds(), output_format: 'png', quality: 'low', size: '1024x1024' };
  const partials = field(body, 'partial_images');
  const events: object[] = Array.from({ length: typeof partials === 'number' ? partials : 0 }, (_, index) => ({ type: 'image_generation.partial_image', ...common, b64_json: image, partial_image_index: index }));
  events.push({
    type: 'image_generation.completed',
    ...common,
    b64_json: image,
    usage: { total_tokens: prompt + completion, input_tokens: prompt, output_tokens: completion, input_tokens_details: { text_tokens: prompt, image_tokens: 0 } },
  });
  return events.map((event) => sse(event, (event as { type: string }).type));
}

/** The lines of a multipart body's file part (its `filename` part), for the fake to serve back. */
function multipartFileLines(body: Buffer, contentType: string | undefined): string[] {
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/.exec(contentType ?? '');
  if (boundary === null) return [];
  const text = body.toString('latin1');
  for (const part of text.split(`--${boundary[1] ?? boundary[2]}`)) {
    const start = part.indexOf('\r\n\r\n');
    if (start === -1 || !/filename="/.test(part.slice(0, start))) continue;
    const content = Buffer.from(part.slice(start + 4).replace(/\r\n$/, ''), 'latin1').toString('utf8');
    return content.split('\n').filter((line) => line !== '');
  }
  return [];
}

/** `POST /v1/files` (multipart): the File object. */
export function openAIFile(body: Buffer): object {
  const filename = /filename="([^"]*)"/.exec(body.toString('latin1'))?.[1] ?? 'upload';
  return { id: `file-${randomId(24)}`, object: 'file', bytes: body.length, created_at: nowSeconds(), expires_at: null, filename, purpose: multipartField(body, 'purpose') ?? 'batch', status: 'processed', status_details: null };
}

/** Requests the fake's batches hold (their input files are not read). */
const BATCH_REQUESTS = 2;

/**
 * A batch moves one status on per read (retrieved, or listed), as a real one moves over minutes or hours: validating →
 * in_progress → finalizing → completed. Once completed it carries its output file (one line per
 * request, each with its chat completion and that completion's usage) and its `usage`: every
 * request's tokens (`behaviour.usage` each), as OpenAI reports a batch's usage — unless
 * `behaviour.batchUsage` is false (a batch from before OpenAI reported it, or an API that does not).
 */
function advanceBatch(batch: Record<string, unknown>, behaviour: FakeBehaviour, outputFiles: Map<string, readonly string[]>): Record<string, unknown> {
  const next: Record<string, string> = { validating: 'in_progress', in_progress: 'finalizing', finalizing: 'completed' };
  const status = next[batch.status as string];
  if (status === undefined) return batch;
  batch.status = status;
  const now = nowSeconds();
  if (status === 'in_progress') {
    batch.in_progress_at = now;
    batch.request_counts = { total: BATCH_REQUESTS, completed: 0, failed: 0 };
  } else if (status === 'finalizing') {
    batch.finalizing_at = now;
    batch.request_counts = { total: BATCH_REQUESTS, completed: BATCH_REQUESTS, failed: 0 };
  } else {
    const { prompt, completion, cachedRead = 0, reasoning = 0 } = behaviour.usage;
    batch.completed_at = now;
    batch.output_file_id = `file-${randomId(24)}`;
    batch.model = 'gpt-4o-mini-2024-07-18';
    const lines = Array.from({ length: BATCH_REQUESTS }, (_, i) =>
      JSON.stringify({ id: `batch_req_${randomId(32, '0123456789abcdef')}`, custom_id: `request-${i + 1}`, response: { status_code: 200, request_id: randomId(32, '0123456789abcdef'), body: openAIChatCompletion(behaviour, batch.model as string) }, error: null }));
    outputFiles.set(batch.output_file_id as string, lines);
    if (behaviour.batchUsage === false) return batch;
    batch.usage = {
      input_tokens: BATCH_REQUESTS * prompt,
      input_tokens_details: { cached_tokens: BATCH_REQUESTS * cachedRead },
      output_tokens: BATCH_REQUESTS * completion,
      output_tokens_details: { reasoning_tokens: BATCH_REQUESTS * reasoning },
      total_tokens: BATCH_REQUESTS * (prompt + completion),
    };
  }
  return batch;
}

/** `POST /v1/fine_tuning/jobs`: the job, validating its files, nothing trained yet. */
function openAIFineTuningJob(body: unknown): Record<string, unknown> {
  const model = stringField(body, 'model') ?? 'gpt-4o-mini-2024-07-18';
  return {
    object: 'fine_tuning.job',
    id: `ftjob-${randomId(24)}`,
    model,
    created_at: nowSeconds(),
    finished_at: null,
    fine_tuned_model: null,
    organization_id: 'org-fake',
    result_files: [],
    status: 'validating_files',
    validation_file: stringField(body, 'validation_file') ?? null,
    training_file: stringField(body, 'training_file') ?? null,
    hyperparameters: { batch_size: 'auto', learning_rate_multiplier: 'auto', n_epochs: 'auto' },
    trained_tokens: null,
    error: null,
    seed: 42,
    estimated_finish: null,
    integrations: [],
    metadata: field(body, 'metadata') ?? null,
    method: { type: 'supervised', supervised: { hyperparameters: { batch_size: 'auto', learning_rate_multiplier: 'auto', n_epochs: 'auto' } } },
    user_provided_suffix: stringField(body, 'suffix') ?? null,
  };
}

/**
 * A fine-tuning job moves one status on per read: validating_files → queued → running → succeeded,
 * when it reports its fine-tuned model and the tokens it trained on (FAKE_TRAINED_TOKENS).
 */
function advanceFineTuningJob(job: Record<string, unknown>): Record<string, unknown> {
  const next: Record<string, string> = { validating_files: 'queued', queued: 'running', running: 'succeeded' };
  const status = next[job.status as string];
  if (status === undefined) return job;
  job.status = status;
  if (status === 'running') job.estimated_finish = nowSeconds() + 600;
  if (status === 'succeeded') {
    Object.assign(job, {
      finished_at: nowSeconds(),
      estimated_finish: null,
      fine_tuned_model: `ft:${job.model as string}:org-fake::${randomId(8)}`,
      result_files: [`file-${randomId(24)}`],
      hyperparameters: { batch_size: 1, learning_rate_multiplier: 1.8, n_epochs: 3 },
      trained_tokens: FAKE_TRAINED_TOKENS,
    });
  }
  return job;
}

/** Items an eval run's data source holds (its content is not read). */
const EVAL_RUN_ITEMS = 3;

/** `POST /v1/evals/{eval_id}/runs`: the run, queued, no model called yet. */
function openAIEvalRun(evalId: string, body: unknown): Record<string, unknown> {
  return {
    object: 'eval.run',
    id: `evalrun_${randomId(32, '0123456789abcdef')}`,
    eval_id: evalId,
    report_url: `https://platform.openai.com/evaluations/${evalId}`,
    status: 'queued',
    model: 'gpt-4o-mini',
    name: stringField(body, 'name') ?? 'run',
    created_at: nowSeconds(),
    result_counts: { total: 0, errored: 0, failed: 0, passed: 0 },
    per_model_usage: [],
    per_testing_criteria_results: [],
    data_source: field(body, 'data_source') ?? null,
    metadata: field(body, 'metadata') ?? {},
    error: null,
  };
}

/**
 * An eval run moves one status on per read: queued → in_progress → completed. Completed, it reports
 * each model it called: the sampling model once per item, and a model grader once per item, each
 * call billed `behaviour.usage`.
 */
function advanceEvalRun(run: Record<string, unknown>, behaviour: FakeBehaviour): Record<string, unknown> {
  if (run.status === 'queued') run.status = 'in_progress';
  else if (run.status === 'in_progress') {
    const { prompt, completion, cachedRead = 0 } = behaviour.usage;
    const usage = (model: string) => ({ model_name: model, invocation_count: EVAL_RUN_ITEMS, prompt_tokens: EVAL_RUN_ITEMS * prompt, completion_tokens: EVAL_RUN_ITEMS * completion, total_tokens: EVAL_RUN_ITEMS * (prompt + completion), cached_tokens: EVAL_RUN_ITEMS * cachedRead });
    Object.assign(run, {
      status: 'completed',
      result_counts: { total: EVAL_RUN_ITEMS, errored: 0, failed: 0, passed: EVAL_RUN_ITEMS },
      per_model_usage: [usage('gpt-4o-mini-2024-07-18'), usage('o3-mini-2025-01-31')],
      per_testing_criteria_results: [{ testing_criteria: 'grader', passed: EVAL_RUN_ITEMS, failed: 0 }],
    });
  }
  return run;
}

/** `POST /v1/batches`: the Batch object, validating. */
export function openAIBatch(body: unknown): Record<string, unknown> {
  return {
    id: `batch_${randomId(24)}`,
    object: 'batch',
    endpoint: stringField(body, 'endpoint') ?? '/v1/chat/completions',
    errors: null,
    input_file_id: stringField(body, 'input_file_id') ?? null,
    completion_window: stringField(body, 'completion_window') ?? '24h',
    status: 'validating',
    output_file_id: null,
    error_file_id: null,
    created_at: nowSeconds(),
    in_progress_at: null,
    expires_at: nowSeconds() + 86400,
    completed_at: null,
    failed_at: null,
    expired_at: null,
    request_counts: { total: 0, completed: 0, failed: 0 },
    metadata: null,
  };
}
