// Fake Azure OpenAI upstream: the dated API's /openai/deployments/{deployment}/chat/completions and
// /embeddings, `api-version` query parameter required (Azure answers 404 without it), and the v1 API's
// /openai/v1/chat/completions, /embeddings and /responses (model = deployment in the body), which takes
// no dated api-version: none, `v1` (its default) or `preview`, and a dated one is a 400 as Azure
// answers it. The Responses API (v1, and the dated `/openai/responses?api-version=2025-03-01-preview`)
// answers as OpenAI's does (the same Response object and events).
// Chat completions refuse `stream_options` where Azure does: without `stream: true` (as OpenAI),
// api-versions before 2024-09-01(-preview) and "On Your Data" requests (`data_sources`).
// Batches (`/openai/batches`, `/openai/files/{id}/content`, and the same under `/openai/v1`) and
// fine-tuning jobs (`/openai/fine_tuning/jobs`) behave as the fake OpenAI's: one status per read, the
// output file's lines each with their usage, a succeeded job with its trained tokens.
import chatCompletionExample from '../fixtures/providers/azure-openai/chat-completion.json';
import errorExamples from '../fixtures/providers/azure-openai/errors.json';
import firstChunkExample from '../fixtures/providers/azure-openai/stream-first-chunk.json';
import { randomUUID } from 'node:crypto';
import { type FakeJobs, type FakeProviderOptions, STREAM_OPTIONS_WITHOUT_STREAM, handleJobs, newFakeJobs, openAIChatCompletion, openAIChatStream, openAIEmbeddings, streamOptionsWithoutStream } from './openai';
import { openAIResponse, openAIResponseStream } from './openai-responses';
import { pendingToolCall } from './tool-calls';
import {
  type FakeBehaviour,
  type FakeExchange,
  type FakeServer,
  type ProviderError,
  type RecordedRequest,
  field,
  sendJson,
  sendStream,
  sse,
  SSE_HEADERS,
  startFake,
  stringField,
} from './recorder';

export function startFakeAzureOpenAI(options: FakeProviderOptions = {}): Promise<FakeServer> {
  const jobs = newFakeJobs();
  return startFake((exchange) => handleAzure(exchange, options, jobs), { errorFor: azureOpenAIError });
}

/** The Batch and fine-tuning APIs and their files: `/openai/{batches,files,fine_tuning}…` (dated, api-version required) and `/openai/v1/…`. */
const JOB_API_ROUTE = /^\/openai(\/v1)?(\/(?:batches|files|fine_tuning)(?:\/.*)?)$/;

const DEPLOYMENT_ROUTE = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/;
const V1_ROUTE = /^\/openai\/v1\/(chat\/completions|embeddings|responses)$/;
/** The v1 reference's `api-version` values: optional, "v1 if not otherwise specified", or `preview` for preview features. */
const V1_API_VERSIONS: ReadonlySet<string> = new Set(['v1', 'preview']);
/** The first api-version (GA or preview) whose chat completions take `stream_options`. */
const FIRST_API_VERSION_WITH_STREAM_OPTIONS = '2024-09-01';
/** Azure's 400 for `stream_options` on an older api-version (as users report it). */
const UNKNOWN_STREAM_OPTIONS = { error: { message: "Unknown parameter: 'stream_options'.", type: 'invalid_request_error', param: 'stream_options', code: 'unknown_parameter' } };
/** Azure's 400 for `stream_options` beside `data_sources` ("On Your Data" validates its body strictly). */
const DATA_SOURCES_STREAM_OPTIONS = { error: { code: 'invalid_request_error', message: 'Validation error at #/stream_options: Extra inputs are not permitted' } };
/** Azure's 400 for an api-version a path does not serve (the body users report for dated versions on v1 paths). */
const API_VERSION_NOT_SUPPORTED = { error: { code: 'BadRequest', message: 'API version not supported' } };

interface AzureRoute {
  readonly operation: 'chat/completions' | 'embeddings' | 'responses';
  /** Deployment paths name it (percent-encoded); on the v1 API and the Responses API the body's `model` does. */
  readonly deployment: string | null;
}

function azureRoute(req: RecordedRequest): AzureRoute | 'no-route' | 'api-version-missing' | 'api-version-not-supported' {
  if (req.method !== 'POST') return 'no-route';
  const apiVersion = req.query['api-version'];
  const v1 = V1_ROUTE.exec(req.path);
  if (v1 !== null) {
    if (apiVersion !== undefined && !V1_API_VERSIONS.has(apiVersion)) return 'api-version-not-supported';
    return { operation: v1[1] as AzureRoute['operation'], deployment: null };
  }
  // The dated (preview) Responses API: beside the deployments, the deployment named as the body's model.
  if (req.path === '/openai/responses') return apiVersion ? { operation: 'responses', deployment: null } : 'api-version-missing';
  const deployment = DEPLOYMENT_ROUTE.exec(req.path);
  if (deployment === null) return 'no-route';
  if (!apiVersion) return 'api-version-missing';
  return { operation: deployment[2] as AzureRoute['operation'], deployment: decodeURIComponent(deployment[1]) };
}

async function handleAzure(exchange: FakeExchange, options: FakeProviderOptions, jobs: FakeJobs): Promise<void> {
  const { req, res, behaviour } = exchange;
  const headers = { 'apim-request-id': randomUUID(), 'x-request-id': randomUUID(), 'x-ms-region': 'Sweden Central' };
  const jobApi = JOB_API_ROUTE.exec(req.path);
  if (jobApi !== null) {
    // Azure's Batch and fine-tuning APIs answer as OpenAI's (the same Batch and job objects, output file lines).
    const apiVersion = req.query['api-version'];
    if (jobApi[1] === undefined && !apiVersion) sendJson(res, 404, azureOpenAIError(404, behaviour).body, headers);
    else if (options.requireApiKey !== undefined && req.headers['api-key'] !== options.requireApiKey) sendJson(res, 401, azureOpenAIError(401, behaviour).body, headers);
    else if (!(await handleJobs(exchange, jobs, jobApi[2], headers))) sendJson(res, 404, azureOpenAIError(404, behaviour).body, headers);
    return;
  }
  const route = azureRoute(req);
  if (route === 'no-route' || route === 'api-version-missing') {
    sendJson(res, 404, azureOpenAIError(404, behaviour).body, headers);
    return;
  }
  if (route === 'api-version-not-supported') {
    sendJson(res, 400, API_VERSION_NOT_SUPPORTED, headers);
    return;
  }
  if (options.requireApiKey !== undefined && req.headers['api-key'] !== options.requireApiKey) {
    sendJson(res, 401, azureOpenAIError(401, behaviour).body, headers);
    return;
  }
  if (route.operation === 'embeddings') {
    sendJson(res, 200, openAIEmbeddings(behaviour, req.json), headers);
    return;
  }
  const refusal = route.operation === 'chat/completions' ? streamOptionsRefusal(req) : null;
  if (refusal !== null) {
    sendJson(res, 400, refusal, headers);
    return;
  }
  // Azure reports the underlying model, not the deployment name; the fake echoes the request's.
  const model = stringField(req.json, 'model') ?? route.deployment ?? '';
  if (route.operation === 'responses') {
    const call = pendingToolCall(behaviour, req.json, 'responses');
    if (field(req.json, 'stream') === true) await sendStream(exchange, openAIResponseStream(behaviour, model, call), { ...SSE_HEADERS, ...headers });
    else sendJson(res, 200, openAIResponse(behaviour, model, call), headers);
    return;
  }
  const call = pendingToolCall(behaviour, req.json, 'chat');
  if (field(req.json, 'stream') !== true) {
    // OpenAI's chat completion with Azure's content filter results (the fixture's).
    sendJson(res, 200, openAIChatCompletion(behaviour, model, call, chatCompletionExample), headers);
    return;
  }
  const includeUsage = field(field(req.json, 'stream_options'), 'include_usage') === true;
  const filterResults = chatCompletionExample.choices[0].content_filter_results;
  // Azure: an opening chunk with `choices: []` and the prompt filter results, then OpenAI's
  // chunks, each choice with its content filter results (empty on the role and finish chunks).
  const chunks = openAIChatStream(
    behaviour,
    model,
    includeUsage,
    (choice, kind) => ({ ...choice, content_filter_results: kind === 'content' ? filterResults : {} }),
    call,
  ).map(withoutServiceTier);
  await sendStream(exchange, [firstChunkExample, ...chunks].map((chunk) => sse(chunk)), { ...SSE_HEADERS, ...headers });
}

/** Azure's 400 body when a chat completion sends `stream_options` where Azure does not take it, else null. */
function streamOptionsRefusal(req: RecordedRequest): object | null {
  if (field(req.json, 'stream_options') === undefined) return null;
  if (streamOptionsWithoutStream(req.json)) return STREAM_OPTIONS_WITHOUT_STREAM;
  if (field(req.json, 'data_sources') !== undefined) return DATA_SOURCES_STREAM_OPTIONS;
  const date = /^\d{4}-\d{2}-\d{2}/.exec(req.query['api-version'] ?? '');
  return date !== null && date[0] < FIRST_API_VERSION_WITH_STREAM_OPTIONS ? UNKNOWN_STREAM_OPTIONS : null;
}

/** Azure OpenAI's `{"error":{"code","message"}}` body for a status (`behaviour.errorType` sets `code`). */
export function azureOpenAIError(status: number, behaviour: FakeBehaviour): ProviderError {
  const example = (errorExamples as Record<string, { error: { code: string; message: string } } | undefined>)[String(status)] ?? {
    error: { code: String(status), message: `Fake upstream error ${status}` },
  };
  return {
    body: { error: { ...example.error, ...(behaviour.errorType === undefined ? {} : { code: behaviour.errorType }) } },
    headers: { 'apim-request-id': randomUUID(), 'x-request-id': randomUUID() },
  };
}

/** Azure does not report OpenAI's `service_tier`. */
function withoutServiceTier(chunk: unknown): unknown {
  if (typeof chunk !== 'object' || chunk === null) return chunk;
  const { service_tier: _omitted, ...rest } = chunk as Record<string, unknown>;
  return rest;
}
