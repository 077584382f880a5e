// Usage accounting for the OpenAI wire format (Chat Completions, legacy Completions, Embeddings,
// Responses), shared by OpenAI, Azure OpenAI and Mistral; each lists only how it differs.
import type { EventSourceMessage } from 'eventsource-parser';
import { type ObservedUsage, type PreparedRequest, type ResponseHeaders, type ResponseObserver, type TokenUsage, type UsageAccounting, type UsageOperation, addUsage, tokenUsage } from '../usage-accounting';
import { bodyKind } from './content-type';
import { completionLimit, insertFirstMember, parseJsonRequestBody, withFirstMember } from './json-request-body';
import { JsonLinesObserver } from './json-lines-observer';
import { JsonResponseObserver, type JsonUsageReader } from './json-response-observer';
import { type JsonObject, arrayMember, firstTokenCount, isJsonObject, member, parseJsonObject, stringMember, textOf, tokenCount } from './json-values';
import { openAiOperation } from './openai-compatible-path';
import { decodePathSegment } from './path-segment';
import { openAiStreamErrorStatus } from './openai-compatible-stream-error';
import { SseResponseObserver } from './sse-response-observer';
import { UsageObjectScanner } from './usage-object-scanner';
import { NOTHING_TO_COUNT, PassThroughObserver, type UsageTally } from './usage-tally';

/** A request as the differences see it. */
export interface OpenAiCompatibleRequest {
  readonly providerPath: string;
  readonly json: JsonObject;
  readonly query: string | undefined;
}

/** What a provider changes relative to plain OpenAI. */
export interface OpenAiCompatibleDifferences {
  /** The model the path names (Azure's deployment), or null to read `model` from the body. */
  readonly modelFromPath?: (providerPath: string) => string | null;
  /**
   * Whether a streamed (chat) completions request that does not ask for usage may get
   * `stream_options.include_usage: true` added (the usage-only chunk is then stripped again).
   */
  readonly acceptsStreamOptions: (request: OpenAiCompatibleRequest) => boolean;
  /**
   * Operations the provider does not bill and whose answers report no usage (OpenAI's moderations):
   * charged 0/0, and they reserve no completion tokens. Without this an answer without usage is
   * charged the proxy's count of its prompt.
   */
  readonly freeOperations?: ReadonlySet<UsageOperation>;
  /**
   * The provider reports usage in every JSON answer it bills tokens for (OpenAI, Azure OpenAI): a
   * complete JSON answer without usage to a request of no known operation ('other': Realtime client
   * secrets, conversations, vector stores, fine-tuning jobs...) is charged 0/0. Without this it is
   * charged the proxy's count of the request body. Mistral bills its classifiers without usage.
   */
  readonly reportsUsageOfEveryTokenCharge?: boolean;
}

/**
 * `GET {root}/files/{file_id}/content` (OpenAI `/v1/files`, Azure `/openai/files` and
 * `/openai/v1/files`, Mistral `/v1/files`; the root is in the service's URL or in the path): a
 * file's download, a batch's output file among them (batchOutputObserver). Not the files of
 * containers or vector stores (`/v1/containers/{id}/files/{id}/content`), which hold no batch output.
 */
const FILE_CONTENT = /^(?:\/v1|\/openai(?:\/v1)?)?\/files\/([^/]+)\/content\/?$/;
/**
 * Where files are uploaded: `POST {root}/files` (answers the File object) and OpenAI's Uploads API
 * (`POST {root}/uploads/{id}/complete`, answers the Upload with its File). A file uploaded through
 * the proxy is marked charged at once (uploadedFileJobs): its lines are the client's own, and a
 * download of them must not charge the usage they claim.
 */
const FILE_UPLOAD = /^(?:\/v1|\/openai(?:\/v1)?)?\/(?:files|uploads\/[^/]+\/complete)\/?$/;
/** `…/batch/jobs/{job_id}` (Mistral): one batch job. */
const BATCH_JOB = /\/batch\/jobs\/[^/]+\/?$/;

type JobRead = Pick<PreparedRequest, 'resultsOf' | 'readsInlineResults' | 'uploadsFile'>;

/**
 * What a request on the paths of files and batch jobs does with them: downloads a file (FILE_CONTENT,
 * its id), reads a job with its results inline (BATCH_JOB with `?inline=true`), uploads a file
 * (FILE_UPLOAD). Null for every other request: one substring search each, on the request path.
 */
function jobReadOf(providerPath: string, query: string | undefined): JobRead | null {
  if (!providerPath.includes('/files') && !providerPath.includes('/batch/') && !providerPath.includes('/uploads/')) return null;
  const file = FILE_CONTENT.exec(providerPath);
  if (file !== null) return { resultsOf: decodePathSegment(file[1]) };
  if (FILE_UPLOAD.test(providerPath)) return { uploadsFile: true };
  if (query !== undefined && query.length > 1 && BATCH_JOB.test(providerPath) && new URLSearchParams(query.startsWith('?') ? query.slice(1) : query).get('inline') === 'true') {
    return { readsInlineResults: true };
  }
  return null;
}

/**
 * Operations billed in other units than tokens wherever an OpenAI-style API serves them: OCR, per page
 * (Mistral's `/v1/ocr`, Mistral Document AI on Azure AI Foundry, OpenAI-compatible gateways). Like
 * `freeOperations`: counted as requests, charged 0/0, no completion reserved.
 */
const UNMETERED_OPERATIONS: ReadonlySet<UsageOperation> = new Set<UsageOperation>(['ocr']);

/** The operations whose streams report usage only with `stream_options.include_usage` (every `…/completions` path). */
const STREAM_OPTIONS_OPERATIONS: ReadonlySet<UsageOperation> = new Set<UsageOperation>(['chat_completions', 'completions']);

export function createOpenAiCompatibleUsageAccounting(differences: OpenAiCompatibleDifferences): UsageAccounting {
  const chargesNoTokens = (operation: UsageOperation) => UNMETERED_OPERATIONS.has(operation) || differences.freeOperations?.has(operation) === true;
  return {
    prepareRequest(providerPath: string, body: Buffer, contentType: string | undefined, query?: string): PreparedRequest {
      const json = parseJsonRequestBody(body, contentType);
      const model = differences.modelFromPath?.(providerPath) ?? stringMember(json, 'model');
      const operation = openAiOperation(providerPath);
      const base: PreparedRequest = {
        body,
        json,
        model,
        operation,
        stream: member(json, 'stream') === true,
        maxCompletionTokens: chargesNoTokens(operation) ? 0 : completionLimit(json, ['max_completion_tokens', 'max_tokens', 'max_output_tokens'], 'n'),
        stripUsageChunk: false,
      };
      const jobRead = jobReadOf(providerPath, query);
      const prepared = jobRead === null ? base : { ...base, ...jobRead };
      if (!prepared.stream || !isJsonObject(json) || !STREAM_OPTIONS_OPERATIONS.has(prepared.operation)) return prepared;
      if (!differences.acceptsStreamOptions({ providerPath, json, query })) return prepared;
      const options = json.stream_options;
      if (options === undefined) {
        // The common case: add the member in front, leaving the client's bytes as they are.
        const streamOptions = { include_usage: true };
        return {
          ...prepared,
          body: insertFirstMember(body, 'stream_options', streamOptions),
          json: withFirstMember(json, 'stream_options', streamOptions),
          stripUsageChunk: true,
        };
      }
      if (isJsonObject(options) && options.include_usage === true) return prepared; // the client asked: untouched
      if (options !== null && !isJsonObject(options)) return prepared; // invalid: the provider answers 400 itself
      // `null`, or an object without include_usage: true (other options kept). Rare: re-serialize.
      const rewritten = { ...json, stream_options: { ...(options ?? {}), include_usage: true } };
      return { ...prepared, body: Buffer.from(JSON.stringify(rewritten), 'utf8'), json: rewritten, stripUsageChunk: true };
    },

    observeResponse(prepared: PreparedRequest, status: number, contentType: string | undefined, _headers?: ResponseHeaders): ResponseObserver {
      if (status < 200 || status > 299) return new PassThroughObserver(NOTHING_TO_COUNT);
      if (prepared.resultsOf !== undefined) return batchOutputObserver(prepared.resultsOf);
      if (chargesNoTokens(prepared.operation)) return new PassThroughObserver(FREE_OF_CHARGE);
      const kind = bodyKind(contentType);
      if (kind === 'sse' || (kind === 'none' && prepared.stream)) {
        return new SseResponseObserver(readOpenAiEvent, prepared.stripUsageChunk);
      }
      if (kind === 'json' || kind === 'none') {
        if (isRetrieval(prepared)) return prepared.readsInlineResults === true ? new InlineResultsObserver() : new JsonResponseObserver(RETRIEVAL_JSON_READER);
        const unbilled = prepared.operation === 'other' && differences.reportsUsageOfEveryTokenCharge === true;
        const reader = unbilled ? UNKNOWN_OPERATION_JSON_READER : OPENAI_JSON_READER;
        return new JsonResponseObserver(prepared.uploadsFile === true ? { ...reader, jobs: uploadedFileJobs } : reader);
      }
      return new PassThroughObserver(NOTHING_TO_COUNT); // audio, images, files: no usage to read
    },
  };
}

/**
 * `usage` of Chat Completions / Completions / Embeddings (`prompt_tokens`, `completion_tokens`) or of
 * the Responses API and audio transcriptions (`input_tokens`, `output_tokens`). Embeddings report
 * prompt tokens only: completion 0.
 */
export function openAiUsage(usage: unknown): TokenUsage | null {
  const promptTokens = firstTokenCount(usage, 'prompt_tokens', 'input_tokens');
  if (promptTokens === null) return null;
  const promptDetails = member(usage, 'prompt_tokens_details') ?? member(usage, 'input_tokens_details');
  const completionDetails = member(usage, 'completion_tokens_details') ?? member(usage, 'output_tokens_details');
  return tokenUsage(promptTokens, firstTokenCount(usage, 'completion_tokens', 'output_tokens') ?? 0, {
    cachedRead: tokenCount(member(promptDetails, 'cached_tokens')),
    // Newer models report what a request wrote to the prompt cache (part of the prompt, like reads).
    cachedWrite: tokenCount(member(promptDetails, 'cache_write_tokens')),
    reasoning: tokenCount(member(completionDetails, 'reasoning_tokens')),
  });
}

const FREE_OPERATION_OBJECTS: ReadonlySet<string> = new Set([
  'response.input_tokens', // POST /v1/responses/input_tokens counts a prompt and is not billed
  'batch', // POST /v1/batches creates a job over an uploaded file, billed when it runs, not at its creation
]);

const NO_TOKENS: TokenUsage = Object.freeze({ promptTokens: 0, completionTokens: 0 });
const FREE_OF_CHARGE: ObservedUsage = Object.freeze({ usage: NO_TOKENS, completionText: '', complete: true });

/** A Responses API object still being generated in the background: nothing is billed yet. */
function isPendingResponse(body: JsonObject): boolean {
  const status = body.status;
  return body.object === 'response' && (status === 'queued' || status === 'in_progress') && (body.usage === null || body.usage === undefined);
}

/** Statuses of a Responses API object whose usage is final. */
const FINISHED_RESPONSE_STATUSES: ReadonlySet<unknown> = new Set(['completed', 'incomplete', 'failed']);

export const OPENAI_JSON_READER: JsonUsageReader = {
  usage(body) {
    const reported = openAiUsage(body.usage);
    if (reported !== null) return reported;
    // POST /v1/responses with `background: true` answers at once, queued: the usage comes with the
    // finished Response, which the client retrieves (see RETRIEVAL_JSON_READER).
    if (isPendingResponse(body)) return NO_TOKENS;
    const object = stringMember(body, 'object');
    return object !== null && FREE_OPERATION_OBJECTS.has(object) ? NO_TOKENS : null;
  },
  usageMember: openAiUsage,
  text(body) {
    let text = '';
    for (const choice of arrayMember(body, 'choices')) {
      text += messageText(member(choice, 'message')) + textOf(stringMember(choice, 'text'));
    }
    for (const item of arrayMember(body, 'output')) text += responsesOutputItemText(item);
    return text;
  },
};

/**
 * A request without a body generates nothing (every generating endpoint takes a JSON or multipart
 * body): a GET of stored objects, e.g. `GET /v1/responses/{id}`, `GET /v1/chat/completions/{id}` and
 * `GET /v1/chat/completions` (stored completions), whose answer repeats the usage of the requests
 * that created them.
 */
function isRetrieval(prepared: PreparedRequest): boolean {
  return prepared.body.length === 0;
}

/**
 * Retrieved objects are not billed again: their usage was charged when they were created. The
 * exceptions are jobs whose creating request was answered before any usage existed: a background
 * Response (`background: true`), a Batch (`POST /v1/batches`, which runs its requests later), an
 * eval run, a fine-tuning job (its training). Their usage is charged when a retrieval shows them
 * finished, once (the proxy remembers it by id: usage/response-charges.ts), however often they are
 * retrieved.
 */
const RETRIEVAL_JSON_READER: JsonUsageReader = {
  // A retrieved object's usage was charged when it was created, unless it is a finished job (job()).
  usage: () => NO_TOKENS,
  // A large retrieved body (a list, a Response with images) is never charged from a usage found in it.
  usageMember: () => null,
  text: () => '',
  job: finishedJob,
  // `GET /v1/batches`, `GET /v1/evals/{id}/runs`, `GET /v1/fine_tuning/jobs`: a client may learn a job's results from the list alone.
  jobs(body) {
    if (body.object !== 'list') return null;
    const jobs: Array<{ id: string; usage: TokenUsage }> = [];
    for (const item of arrayMember(body, 'data')) {
      const job = isJsonObject(item) ? finishedJob(item) : null;
      if (job !== null && job.id !== null) jobs.push({ id: job.id, usage: job.usage });
    }
    return jobs.length === 0 ? null : jobs;
  },
};

/**
 * A finished job an answer shows (a background Response, a Batch, an eval run, a fine-tuning job, a
 * Mistral job read inline): the id its usage is charged under, once, and that usage, final. Null for
 * anything else, and for a job still running.
 */
interface FinishedJob {
  /** Null only for a Mistral job read inline that names neither its output file nor itself: charged, not remembered. */
  readonly id: string | null;
  readonly usage: TokenUsage;
}

function finishedJob(body: JsonObject): FinishedJob | null {
  switch (body.object) {
    case 'response': {
      const id = finishedBackgroundResponseId(body);
      return id === null ? null : { id, usage: openAiUsage(body.usage) ?? NO_TOKENS };
    }
    case 'batch':
      return finishedBatch(body) ?? finishedInlineBatch(body);
    case 'eval.run':
      return finishedEvalRun(body);
    case 'fine_tuning.job': // OpenAI, Azure OpenAI
    case 'job': // Mistral
      return finishedFineTuningJob(body);
    default:
      return null;
  }
}

/** Statuses of a fine-tuning job that trains no more: OpenAI's and Azure's (lower case), Mistral's (upper case). */
const FINISHED_FINE_TUNING_STATUSES: ReadonlySet<unknown> = new Set(['succeeded', 'failed', 'cancelled', 'SUCCESS', 'FAILED', 'FAILED_VALIDATION', 'CANCELLED']);

/**
 * A fine-tuning job that trains no more (OpenAI's and Azure's `fine_tuning.job`, Mistral's `job`):
 * its training ran after its create was answered, and is billed per trained token — `trained_tokens`,
 * every epoch's tokens, null until the job ends. Charged as prompt tokens (what the model read; it
 * wrote nothing) under the job's id, once. Null while it trains, and for a job that reports no count
 * (one that failed or was cancelled before training).
 */
function finishedFineTuningJob(body: JsonObject): FinishedJob | null {
  const id = stringMember(body, 'id');
  const trained = tokenCount(body.trained_tokens);
  if (id === null || trained === null || !FINISHED_FINE_TUNING_STATUSES.has(body.status)) return null;
  return { id, usage: tokenUsage(trained, 0) };
}

/** Statuses of an eval run whose model calls have all been made (or never will be). */
const FINISHED_EVAL_RUN_STATUSES: ReadonlySet<unknown> = new Set(['completed', 'failed', 'canceled']);

/**
 * A finished eval run (OpenAI Evals, `POST /v1/evals/{eval_id}/runs`): its model calls (the sampling
 * model's and the model graders') ran after its create was answered, and are billed;
 * `per_model_usage` reports them once it is finished. Its usage is their sum (cached tokens are part
 * of the prompt, read from cache), charged under its id.
 */
function finishedEvalRun(body: JsonObject): FinishedJob | null {
  const id = stringMember(body, 'id');
  if (id === null || !FINISHED_EVAL_RUN_STATUSES.has(body.status) || !Array.isArray(body.per_model_usage)) return null;
  let usage = NO_TOKENS;
  for (const model of body.per_model_usage) {
    const prompt = tokenCount(member(model, 'prompt_tokens'));
    if (prompt === null) continue;
    usage = addUsage(usage, tokenUsage(prompt, tokenCount(member(model, 'completion_tokens')) ?? 0, { cachedRead: tokenCount(member(model, 'cached_tokens')) }));
  }
  return { id, usage };
}

/**
 * Statuses of a Mistral batch job (upper case, unlike OpenAI's Batch) whose requests have all run or
 * never will: what it shows of their outputs is final.
 */
const FINISHED_MISTRAL_JOB_STATUSES: ReadonlySet<unknown> = new Set(['SUCCESS', 'FAILED', 'TIMEOUT_EXCEEDED', 'CANCELLED']);

/**
 * A finished Mistral batch job read with `?inline=true`, which carries its results (each an
 * output-file line) in `outputs`: their usage summed, charged under its output file's id, the id its
 * file download is charged under too (batchOutputObserver), so reading both charges the job once; the
 * job's own id when it names no file. Null for a job read without its outputs.
 */
function finishedInlineBatch(body: JsonObject): FinishedJob | null {
  if (!FINISHED_MISTRAL_JOB_STATUSES.has(body.status) || !Array.isArray(body.outputs)) return null;
  const usage = body.outputs.reduce<TokenUsage>((sum, entry) => addUsage(sum, batchOutputUsage(entry) ?? NO_TOKENS), NO_TOKENS);
  return { id: stringMember(body, 'output_file') ?? stringMember(body, 'id'), usage };
}
/**
 * The file an upload's answer names (a File object, or a completed Upload's `file`), as a job with no
 * usage: charged once under the file's id at 0/0, that id is charged for good, and a download of the
 * file (batchOutputObserver, same id) charges nothing, whatever its lines claim.
 */
function uploadedFileJobs(body: JsonObject): ObservedUsage['jobs'] | null {
  const id = body.object === 'file' ? stringMember(body, 'id') : body.object === 'upload' && body.status === 'completed' ? stringMember(member(body, 'file'), 'id') : null;
  return id === null ? null : [{ id, usage: NO_TOKENS }];
}

/**
 * A Mistral batch job read with `?inline=true`. Up to MAX_PARSED_JSON_BYTES it is parsed whole, as
 * every retrieval is (RETRIEVAL_JSON_READER: a finished job's outputs summed). A larger one (its
 * outputs, a few KB each, past a few hundred requests) is not held: the usage objects of its outputs
 * are summed as they stream past (UsageObjectScanner; only successful results carry one), and the
 * job's own members are read from its first and last EDGE_BYTES, where they are (`id`, `object`,
 * `output_file` before `outputs`, `status` after). Without this a client that reads its results
 * only inline would never be charged for a large job.
 */
class InlineResultsObserver implements ResponseObserver {
  private readonly whole = new JsonResponseObserver(RETRIEVAL_JSON_READER);
  private readonly scanner = new UsageObjectScanner(openAiUsage);

  write(chunk: Buffer): Buffer {
    this.scanner.write(chunk);
    return this.whole.write(chunk);
  }

  flush(): Buffer {
    return this.whole.flush();
  }

  result(): ObservedUsage {
    const edges = this.whole.edges();
    if (edges === null) return this.whole.result();
    // The job's own members: in the head (`id`, `object`, `output_file`) or the tail (`status`), the
    // last match of a member searched in the tail first (the outputs come between them).
    const { head, tail } = edges;
    const jobMember = (pattern: RegExp): string | null => lastMatch(tail, pattern) ?? lastMatch(head, pattern);
    const usage = this.scanner.total;
    if (jobMember(/"object"\s*:\s*"(batch)"/g) === null || !FINISHED_MISTRAL_JOB_STATUSES.has(jobMember(/"status"\s*:\s*"([A-Z_]+)"/g)) || usage === null) {
      return { usage: NO_TOKENS, completionText: '', complete: true };
    }
    const id = jobMember(/"output_file"\s*:\s*"([^"\\]{1,200})"/g) ?? /^\s*\{\s*"id"\s*:\s*"([^"\\]{1,200})"/.exec(head)?.[1];
    return { usage, completionText: '', complete: true, ...(id === undefined ? {} : { jobId: id }) };
  }
}

/** The first group of the last match of a global `pattern` in `text`, or null. */
function lastMatch(text: string, pattern: RegExp): string | null {
  let found: string | null = null;
  for (const match of text.matchAll(pattern)) found = match[1];
  return found;
}

/**
 * The usage of one result of a batch (a line of Mistral's output file, or an entry of a job's inline
 * `outputs`): `{custom_id, response: {status_code, body}, error}`, the body being the endpoint's own
 * answer. A request that failed (a status outside 2xx, or no response) was not billed: null.
 */
function batchOutputUsage(entry: unknown): TokenUsage | null {
  const response = member(entry, 'response');
  const status = member(response, 'status_code');
  if (typeof status === 'number' && (status < 200 || status > 299)) return null;
  return openAiUsage(member(member(response, 'body'), 'usage'));
}

/**
 * A downloaded file, read as a batch's output: the sum of its lines' usage (only lines that name
 * `"usage"` are parsed), charged once by file id when the file is read whole (a cut read charges
 * nothing; the next whole one charges it). A batch whose answers report its usage (an OpenAI Batch,
 * a Mistral job read inline) is charged under the same id, so whichever comes first charges it and
 * the other nothing. A file that holds no results (a batch's input, a fine-tuning set, an upload)
 * sums to nothing.
 */
function batchOutputObserver(fileId: string): ResponseObserver {
  let total: TokenUsage = NO_TOKENS;
  return new JsonLinesObserver(
    (line, tally) => {
      const usage = batchOutputUsage(line);
      if (usage === null) return;
      tally.noteModel(member(member(member(line, 'response'), 'body'), 'model'));
      total = addUsage(total, usage);
    },
    (tally) => {
      tally.usage = total;
    },
    fileId,
    '"usage"',
  );
}

/**
 * Statuses of a Batch whose usage is final: it ran to its end, or stopped (expired, cancelled) with
 * the requests it had run billed; `failed` (its input did not validate) ran none. `finalizing` and
 * `cancelling` may still add to it.
 */
const FINISHED_BATCH_STATUSES: ReadonlySet<unknown> = new Set(['completed', 'expired', 'cancelled', 'failed']);

/**
 * A Batch whose usage is final. Its `usage` (input and output tokens of all its requests; OpenAI fills
 * it for batches created since September 2025) is what the provider bills. It is charged under its
 * output file's id, the id a download of that file is charged under (batchOutputObserver), so the
 * batch is charged once whichever the client reads first; under its own id when it has no output file.
 * A finished Batch without `usage` (an older one, or an API that does not report it) is not charged
 * here, nor marked: its output file charges it. Null for a batch still running.
 */
function finishedBatch(body: JsonObject): FinishedJob | null {
  const usage = FINISHED_BATCH_STATUSES.has(body.status) ? openAiUsage(body.usage) : null;
  const id = stringMember(body, 'output_file_id') ?? stringMember(body, 'id');
  return usage === null || id === null ? null : { id, usage };
}

/** The id of a finished background Response (its usage final), else null. */
function finishedBackgroundResponseId(body: JsonObject): string | null {
  return body.object === 'response' && FINISHED_RESPONSE_STATUSES.has(body.status) ? backgroundResponseId(body) : null;
}

/** The id of a Response object created with `background: true`, else null. */
function backgroundResponseId(response: unknown): string | null {
  return member(response, 'background') === true ? stringMember(response, 'id') : null;
}

/**
 * An answer to a request of no known operation, from a provider that reports the usage of everything
 * it bills in tokens: the usage it reports, else nothing (it billed no tokens). A chat completion
 * answered there is a stored one whose metadata was updated (`POST /v1/chat/completions/{id}`): it
 * repeats the usage charged when it was created.
 */
const UNKNOWN_OPERATION_JSON_READER: JsonUsageReader = {
  usage: (body) => (body.object === 'chat.completion' ? NO_TOKENS : (OPENAI_JSON_READER.usage(body) ?? NO_TOKENS)),
  usageMember: openAiUsage,
  text: () => '',
};

/** Text of a chat message or a streamed delta: content, refusal, reasoning, tool calls, audio transcript. */
function messageText(message: unknown): string {
  if (!isJsonObject(message)) return '';
  let text = contentText(message.content) + textOf(stringMember(message, 'refusal')) + textOf(stringMember(message, 'reasoning_content'));
  for (const call of arrayMember(message, 'tool_calls')) text += functionCallText(member(call, 'function'));
  text += functionCallText(message.function_call);
  text += textOf(stringMember(member(message, 'audio'), 'transcript'));
  return text;
}

function functionCallText(call: unknown): string {
  if (!isJsonObject(call)) return '';
  return textOf(stringMember(call, 'name')) + textOf(call.arguments);
}

/** A content string, or an array of parts with `text` (Mistral thinking parts nest theirs). */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) {
    text += textOf(stringMember(part, 'text'));
    const thinking = member(part, 'thinking');
    text += typeof thinking === 'string' ? thinking : contentText(thinking);
  }
  return text;
}

function responsesOutputItemText(item: unknown): string {
  let text = functionCallText(item);
  for (const part of arrayMember(item, 'content')) text += textOf(stringMember(part, 'text')) + textOf(stringMember(part, 'refusal'));
  for (const part of arrayMember(item, 'summary')) text += textOf(stringMember(part, 'text'));
  return text;
}

/** Responses API stream events whose `delta` is completion text. */
const RESPONSES_TEXT_EVENTS: ReadonlySet<string> = new Set([
  'response.output_text.delta',
  'response.refusal.delta',
  'response.function_call_arguments.delta',
  'response.custom_tool_call_input.delta',
  'response.reasoning_text.delta',
  'response.reasoning_summary_text.delta',
  'response.audio.transcript.delta',
  // POST /v1/audio/transcriptions with `stream=true` (unnamed events, ending with `data: [DONE]`).
  'transcript.text.delta',
]);
/** Responses API stream events that end the response and carry its usage. */
const RESPONSES_FINAL_EVENTS: ReadonlySet<string> = new Set(['response.completed', 'response.incomplete', 'response.failed']);
/**
 * Mistral's Conversations API stream (`POST /v1/conversations[/{id}[/restart]]` with `stream: true`;
 * named events, no `[DONE]`): text in message.output.delta's `content` (a string or one content
 * chunk), usage in conversation.response.done, which ends it.
 */
const MISTRAL_CONVERSATION_TEXT = 'message.output.delta';
const MISTRAL_CONVERSATION_DONE = 'conversation.response.done';
/** A Conversations stream that fails after its 200 ends with this event (`message`, `code`) instead. */
const MISTRAL_CONVERSATION_ERROR = 'conversation.response.error';
/**
 * `POST /v1/audio/speech` with `stream_format: "sse"`: base64 audio in speech.audio.delta, then
 * speech.audio.done with the usage (text input tokens, audio output tokens), which ends it.
 */
const SPEECH_DONE = 'speech.audio.done';
/**
 * `POST /v1/images/generations` and `/edits` with `stream: true` (GPT image models): named events,
 * partial images (skipped unparsed), then the completed image with the usage (image output tokens).
 */
const IMAGE_DONE_EVENTS: ReadonlySet<string> = new Set(['image_generation.completed', 'image_edit.completed']);

/**
 * One event of an OpenAI-style stream: Chat Completions chunks ending with `data: [DONE]` (usage on
 * the chunk that carries it), or Responses API events (named; usage in the final event). Returns
 * true for the usage-only chunk (`choices: []` with a usage object), the one to hide when injected;
 * Azure's opening `choices: []` chunk has no usage and is never hidden.
 */
export function readOpenAiEvent(event: EventSourceMessage, tally: UsageTally): boolean {
  const data = event.data;
  if (data === '[DONE]') {
    tally.complete = true;
    return false;
  }
  const name = event.event;
  // Named events are the Responses API's: skip those that carry neither text nor usage unparsed.
  if (
    name !== undefined &&
    name !== 'message' &&
    name !== 'error' &&
    name !== 'response.created' &&
    !RESPONSES_TEXT_EVENTS.has(name) &&
    !RESPONSES_FINAL_EVENTS.has(name) &&
    name !== MISTRAL_CONVERSATION_TEXT &&
    name !== MISTRAL_CONVERSATION_DONE &&
    name !== MISTRAL_CONVERSATION_ERROR &&
    name !== SPEECH_DONE &&
    !IMAGE_DONE_EVENTS.has(name)
  ) {
    return false;
  }
  const chunk = parseJsonObject(data);
  if (chunk === null) return false;
  const error = streamErrorOf(name, chunk);
  if (error !== undefined) {
    tally.noteStreamError(openAiStreamErrorStatus(error));
    return false;
  }
  const type = chunk.type;
  if (typeof type === 'string') {
    readResponsesEvent(type, chunk, tally);
    return false;
  }
  tally.noteModel(chunk.model);
  const usage = openAiUsage(chunk.usage);
  if (usage !== null) tally.usage = usage;
  const choices = chunk.choices;
  if (!Array.isArray(choices)) return false;
  for (const choice of choices) tally.addText(choiceDeltaText(choice));
  return usage !== null && choices.length === 0;
}

/**
 * The error an event carries in a stream answered 200, as the SDKs raise it: an `error` event (the
 * Responses API's `{type: "error", code, message}`, or `{error: {...}}`), a chunk with an `error`
 * object (Chat Completions), Mistral's flat `{object: "error", ...}` and its Conversations
 * `conversation.response.error`; undefined for other events.
 */
function streamErrorOf(name: string | undefined, chunk: JsonObject): unknown {
  if (name === 'error' || chunk.type === 'error') return chunk.error ?? chunk;
  if (chunk.type === MISTRAL_CONVERSATION_ERROR) return chunk;
  if (isJsonObject(chunk.error)) return chunk.error;
  return chunk.object === 'error' ? chunk : undefined;
}

/** The completion text one streamed choice carries: its delta (chat) or its `text` (legacy Completions). */
export function choiceDeltaText(choice: unknown): string {
  return messageText(member(choice, 'delta')) + textOf(stringMember(choice, 'text'));
}

/** The completion text of a Responses API stream event: the `delta` of the events that carry text, else ''. */
export function responsesEventText(event: JsonObject): string {
  const type = event.type;
  return typeof type === 'string' && RESPONSES_TEXT_EVENTS.has(type) && typeof event.delta === 'string' ? event.delta : '';
}

function readResponsesEvent(type: string, event: JsonObject, tally: UsageTally): void {
  if (RESPONSES_TEXT_EVENTS.has(type)) {
    const delta = event.delta;
    if (typeof delta === 'string') tally.addText(delta);
  } else if (type === 'response.created') {
    tally.noteModel(member(event.response, 'model'));
    tally.jobId ??= backgroundResponseId(event.response);
  } else if (RESPONSES_FINAL_EVENTS.has(type)) {
    tally.noteModel(member(event.response, 'model'));
    // A resumed stream (`starting_after`) may begin after response.created: the final event names it too.
    tally.jobId ??= backgroundResponseId(event.response);
    tally.usage = openAiUsage(member(event.response, 'usage')) ?? tally.usage;
    tally.complete = true;
    if (type === 'response.failed') tally.noteStreamError(openAiStreamErrorStatus(member(event.response, 'error')));
  } else if (type === MISTRAL_CONVERSATION_TEXT) {
    const content = event.content;
    tally.addText(isJsonObject(content) ? contentText([content]) : contentText(content));
  } else if (type === MISTRAL_CONVERSATION_DONE || type === SPEECH_DONE || IMAGE_DONE_EVENTS.has(type)) {
    tally.usage = openAiUsage(event.usage) ?? tally.usage;
    tally.complete = true;
  } else if (type === 'transcript.text.done') {
    // A streamed transcription's usage (`{"type":"tokens","input_tokens",...}`) comes with its last event.
    tally.usage = openAiUsage(event.usage) ?? tally.usage;
  }
}
