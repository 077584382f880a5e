// Fake Azure OpenAI upstream: /openai/deployments/{deployment}/chat/completions and /embeddings,
// `api-version` query parameter required (Azure answers 404 without it).
import chatCompletionExample from '../fixtures/providers/azure-openai/chat-completion.json';
import errorExamples from '../fixtures/providers/azure-openai/errors.json';
import firstChunkExample from '../fixtures/providers/azure-openai/stream-first-chunk.json';
import { randomUUID } from 'node:crypto';
import { type FakeProviderOptions, openAIChatStream, openAIEmbeddings, openAIUsage } from './openai';
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
  sse,
  SSE_HEADERS,
  startFake,
  stringField,
} from './recorder';

export function startFakeAzureOpenAI(options: FakeProviderOptions = {}): Promise<FakeServer> {
  return startFake((exchange) => handleAzure(exchange, options), { errorFor: azureOpenAIError });
}

const ROUTE = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/;

async function handleAzure(exchange: FakeExchange, options: FakeProviderOptions): Promise<void> {
  const { req, res, behaviour } = exchange;
  const headers = { 'apim-request-id': randomUUID(), 'x-request-id': randomUUID(), 'x-ms-region': 'Sweden Central' };
  const route = req.method === 'POST' ? ROUTE.exec(req.path) : null;
  if (!route || !req.query['api-version']) {
    sendJson(res, 404, azureOpenAIError(404, behaviour).body, headers);
    return;
  }
  if (options.requireApiKey !== undefined && req.headers['api-key'] !== options.requireApiKey) {
    sendJson(res, 401, azureOpenAIError(401, behaviour).body, headers);
    return;
  }
  const deployment = decodeURIComponent(route[1]);
  if (route[2] === 'embeddings') {
    sendJson(res, 200, openAIEmbeddings(behaviour, req.json), headers);
    return;
  }
  // Azure reports the underlying model, not the deployment name; the fake echoes the request's.
  const model = stringField(req.json, 'model') ?? deployment;
  if (field(req.json, 'stream') !== true) {
    const [choice] = chatCompletionExample.choices;
    sendJson(
      res,
      200,
      {
        ...chatCompletionExample,
        id: `chatcmpl-${randomId(29)}`,
        created: nowSeconds(),
        model,
        choices: [{ ...choice, message: { ...choice.message, content: behaviour.content } }],
        usage: openAIUsage(behaviour),
      },
      headers,
    );
    return;
  }
  const includeUsage = field(field(req.json, 'stream_options'), 'include_usage') === true;
  const filterResults = chatCompletionExample.choices[0].content_filter_results;
  // Azure: an opening chunk with `choices: []` and the prompt filter results, then OpenAI's
  // chunks, each choice with its content filter results (empty on the role and finish chunks).
  const chunks = openAIChatStream(behaviour, model, includeUsage, (choice, kind) => ({
    ...choice,
    content_filter_results: kind === 'content' ? filterResults : {},
  })).map(withoutServiceTier);
  await sendStream(exchange, [firstChunkExample, ...chunks].map((chunk) => sse(chunk)), { ...SSE_HEADERS, ...headers });
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
