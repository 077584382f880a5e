// Fake Mistral AI upstream: POST /v1/chat/completions, /v1/fim/completions and /v1/agents/completions
// (JSON and SSE, the chat completion shape), POST /v1/embeddings, POST /v1/ocr (pages of markdown and
// `usage_info` in pages, no token usage, as Mistral answers it), and batch jobs: files uploaded
// (`POST /v1/files`, multipart), jobs over them or over inline requests (`POST /v1/batch/jobs`) that
// move one status per read (QUEUED → RUNNING → SUCCESS) and report no usage anywhere but in their
// results — the output file (`GET /v1/files/{id}/content`, streamed compressed and uneven) and, read
// with `?inline=true`, the job's `outputs`.
// Mistral streams carry `usage` on the last chunk only, and never as `"usage": null`
// (@mistralai/mistralai 2.x rejects null for fields that are not nullable). Its API validates request
// bodies strictly: OpenAI-only members (`stream_options`, `max_completion_tokens`) get a 422
// `extra_forbidden`, as Mistral answers them.
import completionExample from '../fixtures/providers/mistral/chat-completion.json';
import embeddingsExample from '../fixtures/providers/mistral/embeddings.json';
import ocrExample from '../fixtures/providers/mistral/ocr.json';
import errorExamples from '../fixtures/providers/mistral/errors.json';
import { type FakeProviderOptions, fakeVector } from './openai';
import {
  type FakeBehaviour,
  type FakeExchange,
  type FakeServer,
  type ProviderError,
  field,
  nowSeconds,
  randomId,
  sendJson,
  sendStream,
  splitWords,
  sse,
  SSE_HEADERS,
  startFake,
  stringField,
} from './recorder';
import { type FunctionCall, pendingToolCall } from './tool-calls';

export function startFakeMistral(options: FakeProviderOptions = {}): Promise<FakeServer> {
  const batches: FakeBatches = { files: new Map(), jobs: new Map() };
  return startFake((exchange) => handleMistral(exchange, options, batches), { errorFor: mistralError });
}

/** A file the fake holds: its object as answered, and its lines. */
interface FakeFile {
  readonly object: Record<string, unknown>;
  readonly lines: readonly string[];
}

/** A batch job the fake holds: its object as answered, and the custom ids of its requests. */
interface FakeBatchJob {
  readonly object: Record<string, unknown>;
  readonly customIds: readonly string[];
  /** Its results once it succeeded (one output-file line each). */
  outputs: Array<Record<string, unknown>> | null;
}

interface FakeBatches {
  readonly files: Map<string, FakeFile>;
  readonly jobs: Map<string, FakeBatchJob>;
}

async function handleMistral(exchange: FakeExchange, options: FakeProviderOptions, batches: FakeBatches): Promise<void> {
  const { req, res, behaviour } = exchange;
  const headers = { 'x-kong-request-id': randomId(32, '0123456789abcdef') };
  if (options.requireApiKey !== undefined && req.headers.authorization !== `Bearer ${options.requireApiKey}`) {
    sendJson(res, 401, mistralError(401, behaviour).body, headers);
    return;
  }
  const route = `${req.method} ${req.path}`;
  if (route === 'POST /v1/embeddings') {
    sendJson(res, 200, mistralEmbeddings(behaviour, req.json), headers);
    return;
  }
  if (route === 'POST /v1/ocr') {
    sendJson(res, 200, mistralOcr(req.json), headers);
    return;
  }
  if (await handleBatches(exchange, batches, headers)) return;
  if (route !== 'POST /v1/chat/completions' && route !== 'POST /v1/fim/completions' && route !== 'POST /v1/agents/completions') {
    sendJson(res, 404, mistralError(404, behaviour).body, headers);
    return;
  }
  const extra = OPENAI_ONLY_MEMBERS.filter((name) => field(req.json, name) !== undefined);
  if (extra.length > 0) {
    sendJson(res, 422, extraForbidden(extra, req.json), headers);
    return;
  }
  // Agents completions name no model in the request: the agent's model answers.
  const model = stringField(req.json, 'model') ?? (route === 'POST /v1/agents/completions' ? 'mistral-large-latest' : completionExample.model);
  const call = route === 'POST /v1/fim/completions' ? null : pendingToolCall(behaviour, req.json, 'mistral');
  if (field(req.json, 'stream') === true) {
    await sendStream(exchange, mistralStream(behaviour, model, call).map((chunk) => sse(chunk)), { ...SSE_HEADERS, ...headers });
  } else {
    sendJson(res, 200, mistralCompletion(behaviour, model, call), headers);
  }
}

/** Members of OpenAI's chat completion request that Mistral's does not define (a gateway might add them). */
const OPENAI_ONLY_MEMBERS = ['stream_options', 'max_completion_tokens'] as const;

/** Mistral's 422 for unknown request members: pydantic's `extra_forbidden` details inside `message`. */
function extraForbidden(names: readonly string[], body: unknown): object {
  const detail = names.map((name) => ({ type: 'extra_forbidden', loc: ['body', name], msg: 'Extra inputs are not permitted', input: field(body, name) }));
  return { object: 'error', message: { detail }, type: 'invalid_request_error', param: null, code: null };
}

/** Mistral's `{"object":"error",message,type,param,code}` for a status (`behaviour.errorType` sets `type`). */
export function mistralError(status: number, behaviour: FakeBehaviour): ProviderError {
  const example = (errorExamples as Record<string, Record<string, unknown> | undefined>)[String(status)] ?? {
    object: 'error',
    message: `Fake upstream error ${status}`,
    type: 'internal_server_error',
    param: null,
    code: null,
  };
  return {
    body: { ...example, ...(behaviour.errorType === undefined ? {} : { type: behaviour.errorType }) },
    headers: { 'x-kong-request-id': randomId(32, '0123456789abcdef') },
  };
}

function mistralUsage(behaviour: FakeBehaviour): typeof completionExample.usage {
  const { prompt, completion } = behaviour.usage;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** A tool call as Mistral writes it in a message or a delta. */
function mistralToolCall(call: FunctionCall): object {
  return { id: call.callId, type: 'function', function: { name: call.name, arguments: call.arguments }, index: 0 };
}

/** A chat completion; when the model calls a tool, its message has empty content and the `tool_calls`. */
export function mistralCompletion(behaviour: FakeBehaviour, model: string, call: FunctionCall | null = null): typeof completionExample {
  const [choice] = completionExample.choices;
  const answer = call === null ? { ...choice, message: { ...choice.message, content: behaviour.content } } : { ...choice, message: { ...choice.message, content: '', tool_calls: [mistralToolCall(call)] }, finish_reason: 'tool_calls' };
  return {
    ...completionExample,
    id: randomId(32, '0123456789abcdef'),
    created: nowSeconds(),
    model,
    usage: mistralUsage(behaviour),
    choices: [answer as (typeof completionExample.choices)[number]],
  };
}

/**
 * Role chunk, one chunk per word, then a finish chunk that carries the usage; then `[DONE]`. A tool
 * call comes whole in one chunk (Mistral does not stream the arguments), then the finish chunk.
 */
export function mistralStream(behaviour: FakeBehaviour, model: string, call: FunctionCall | null = null): unknown[] {
  const base = { id: randomId(32, '0123456789abcdef'), object: 'chat.completion.chunk', created: nowSeconds(), model };
  const chunk = (delta: object, extra: object = {}): object => ({
    ...base,
    choices: [{ index: 0, delta, finish_reason: null, ...extra }],
  });
  return [
    chunk({ role: 'assistant', content: '' }),
    ...(call === null ? splitWords(behaviour.content).map((content) => chunk({ content })) : [chunk({ content: '', tool_calls: [mistralToolCall(call)] })]),
    { ...chunk({ content: '' }, { finish_reason: call === null ? 'stop' : 'tool_calls' }), usage: mistralUsage(behaviour) },
    '[DONE]',
  ];
}

function mistralEmbeddings(behaviour: FakeBehaviour, body: unknown): unknown {
  const input = field(body, 'inputs') ?? field(body, 'input');
  const count = Array.isArray(input) ? input.length : 1;
  return {
    ...embeddingsExample,
    id: randomId(32, '0123456789abcdef'),
    model: stringField(body, 'model') ?? embeddingsExample.model,
    data: Array.from({ length: count }, (_, index) => ({ object: 'embedding', embedding: fakeVector(8), index })),
    usage: { prompt_tokens: behaviour.usage.prompt, total_tokens: behaviour.usage.prompt, completion_tokens: 0 },
  };
}

/**
 * The documented OCR answer: its pages (markdown, images, dimensions), the model that read them and
 * `usage_info` — pages processed and the document's size, what Mistral bills. A data URL's document
 * is measured; a document by URL keeps the example's size.
 */
function mistralOcr(body: unknown): typeof ocrExample {
  const document = field(body, 'document');
  const url = stringField(document, 'document_url') ?? stringField(document, 'image_url');
  const base64 = url?.startsWith('data:') === true ? url.slice(url.indexOf(',') + 1) : null;
  const size = base64 === null ? ocrExample.usage_info.doc_size_bytes : Buffer.from(base64, 'base64').length;
  return { ...ocrExample, usage_info: { pages_processed: ocrExample.pages.length, doc_size_bytes: size } };
}

/** Files and batch jobs (see the header); false when the request is none of theirs. */
async function handleBatches(exchange: FakeExchange, batches: FakeBatches, headers: Record<string, string>): Promise<boolean> {
  const { req, res, behaviour } = exchange;
  const route = `${req.method} ${req.path}`;
  if (route === 'POST /v1/files') {
    // Multipart: the file part's name and lines are all the fake needs of it.
    const text = req.rawBody.toString('utf8');
    const filename = /filename="([^"]*)"/.exec(text)?.[1] ?? 'upload.jsonl';
    const lines = text.split(/\r?\n/).filter((line) => line.startsWith('{'));
    const file = storeFile(batches, filename, lines, 'upload', 'batch_request');
    sendJson(res, 200, file.object, headers);
    return true;
  }
  const content = req.method === 'GET' ? /^\/v1\/files\/([^/]+)\/content$/.exec(req.path) : null;
  if (content) {
    const file = batches.files.get(decodeURIComponent(content[1]));
    if (file === undefined) sendJson(res, 404, mistralError(404, behaviour).body, headers);
    else await sendStream(exchange, file.lines.map((line) => `${line}\n`), { 'content-type': 'application/octet-stream', ...headers });
    return true;
  }
  if (route === 'POST /v1/batch/jobs') {
    const inputFiles = (field(req.json, 'input_files') as string[] | undefined) ?? [];
    const requests = field(req.json, 'requests');
    const lines = Array.isArray(requests) ? requests : inputFiles.flatMap((id) => (batches.files.get(id)?.lines ?? []).map((line) => JSON.parse(line) as unknown));
    const customIds = lines.map((line, i) => stringField(line, 'custom_id') ?? String(i));
    const object: Record<string, unknown> = {
      id: randomUuid(),
      object: 'batch',
      input_files: inputFiles,
      metadata: field(req.json, 'metadata') ?? null,
      endpoint: stringField(req.json, 'endpoint') ?? '/v1/chat/completions',
      model: stringField(req.json, 'model') ?? null,
      agent_id: null,
      output_file: null,
      error_file: null,
      errors: [],
      outputs: null,
      status: 'QUEUED',
      created_at: nowSeconds(),
      total_requests: customIds.length,
      completed_requests: 0,
      succeeded_requests: 0,
      failed_requests: 0,
      started_at: null,
      completed_at: null,
    };
    batches.jobs.set(object.id as string, { object, customIds, outputs: null });
    sendJson(res, 200, object, headers);
    return true;
  }
  const jobPath = req.method === 'GET' ? /^\/v1\/batch\/jobs\/([^/]+)$/.exec(req.path) : null;
  if (jobPath) {
    const job = batches.jobs.get(decodeURIComponent(jobPath[1]));
    if (job === undefined) {
      sendJson(res, 404, mistralError(404, behaviour).body, headers);
      return true;
    }
    advanceJob(job, batches, behaviour);
    const inline = req.query.inline === 'true' && job.outputs !== null;
    sendJson(res, 200, { ...job.object, outputs: inline ? job.outputs : null }, headers);
    return true;
  }
  return false;
}

function randomUuid(): string {
  const hex = randomId(32, '0123456789abcdef');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
}

function storeFile(batches: FakeBatches, filename: string, lines: readonly string[], source: string, sampleType: string): FakeFile {
  const object = {
    id: randomUuid(),
    object: 'file',
    bytes: lines.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0),
    created_at: nowSeconds(),
    filename,
    purpose: 'batch',
    sample_type: sampleType,
    num_lines: lines.length,
    mimetype: 'application/jsonl',
    source,
    signature: null,
  };
  const file = { object, lines };
  batches.files.set(object.id, file);
  return file;
}

/** One status further per read; on success every request has run and its results are in a new output file. */
function advanceJob(job: FakeBatchJob, batches: FakeBatches, behaviour: FakeBehaviour): void {
  const object = job.object;
  if (object.status === 'QUEUED') {
    object.status = 'RUNNING';
    object.started_at = nowSeconds();
  } else if (object.status === 'RUNNING') {
    const model = typeof object.model === 'string' ? object.model : completionExample.model;
    job.outputs = job.customIds.map((customId) => ({ id: `batch-${randomId(12, '0123456789abcdef')}`, custom_id: customId, response: { status_code: 200, body: mistralCompletion(behaviour, model) }, error: null }));
    const output = storeFile(batches, `${object.id as string}.jsonl`, job.outputs.map((line) => JSON.stringify(line)), 'mistral', 'batch_result');
    Object.assign(object, { status: 'SUCCESS', output_file: output.object.id, completed_requests: job.customIds.length, succeeded_requests: job.customIds.length, completed_at: nowSeconds() });
  }
}
