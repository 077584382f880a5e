import firstChunkExample from '../../../../test/fixtures/providers/azure-openai/stream-first-chunk.json';
import { openAIChatStream } from '../../../../test/fakes/openai';
import { defaultBehaviour, sse } from '../../../../test/fakes/recorder';
import { observe, observeAtEverySplit, providerFixture } from '../../../../test/support/data-plane/observer-harness';
import { azureOpenAiUsageAccounting as accounting } from './azure-openai-usage';

const CHAT = '/openai/deployments/gpt-4o%20prod/chat/completions';

function prepare(body: object, query?: string, path = CHAT): ReturnType<typeof accounting.prepareRequest> {
  return accounting.prepareRequest(path, Buffer.from(JSON.stringify(body)), 'application/json', query);
}

/** Azure's stream as the fake sends it: an opening `choices: []` chunk with prompt filter results, then OpenAI's chunks. */
function azureStream(includeUsage: boolean): string[] {
  const behaviour = { ...defaultBehaviour(), content: 'Bonjour à tous', usage: { prompt: 31, completion: 5 } };
  const chunks = openAIChatStream(behaviour, 'gpt-4o-2024-11-20', includeUsage, (choice, kind) => ({
    ...choice,
    content_filter_results: kind === 'content' ? { hate: { filtered: false, severity: 'safe' } } : {},
  }));
  return [firstChunkExample, ...chunks].map((chunk) => sse(chunk));
}

describe('azureOpenAiUsageAccounting.prepareRequest', () => {
  it('names the model by the deployment in the path, else by the body (v1 API)', () => {
    expect(prepare({ messages: [] }).model).toBe('gpt-4o prod');
    expect(prepare({ model: 'ignored', messages: [] }).model).toBe('gpt-4o prod');
    expect(prepare({ model: 'gpt-4o', messages: [] }, undefined, '/openai/v1/chat/completions').model).toBe('gpt-4o');
    expect(accounting.prepareRequest('/openai/deployments/emb/embeddings', Buffer.from('{"input":"x"}'), 'application/json').model).toBe('emb');
  });

  it('injects include_usage for api-versions that accept it, and when the version is not known', () => {
    for (const query of [undefined, '', '?api-version=2024-10-21', '?api-version=2024-09-01-preview', '?api-version=2025-04-01-preview', '?api-version=preview']) {
      const prepared = prepare({ messages: [], stream: true }, query);
      expect(prepared.stripUsageChunk).toBe(true);
      expect(JSON.parse(prepared.body.toString())).toEqual({ stream_options: { include_usage: true }, messages: [], stream: true });
    }
  });

  it('leaves streams alone where Azure rejects stream_options: older api-versions and On Your Data', () => {
    for (const [body, query] of [
      [{ messages: [], stream: true }, '?api-version=2024-06-01'],
      [{ messages: [], stream: true }, '?api-version=2024-08-01-preview'],
      [{ messages: [], stream: true }, '?a=1&api-version=2024-10-21&api-version=2023-05-15'],
      [{ messages: [], stream: true, data_sources: [{ type: 'azure_search', parameters: {} }] }, '?api-version=2024-10-21'],
    ] as const) {
      const raw = Buffer.from(JSON.stringify(body));
      const prepared = accounting.prepareRequest(CHAT, raw, 'application/json', query);
      expect(prepared.body).toBe(raw);
      expect(prepared.stripUsageChunk).toBe(false);
    }
  });
});

describe('azureOpenAiUsageAccounting.observeResponse', () => {
  it('reads the documented chat completion', () => {
    const prepared = prepare({ messages: [] });
    const { result } = observe(accounting.observeResponse(prepared, 200, 'application/json'), [providerFixture('azure-openai', 'chat-completion.json')]);
    expect(result).toEqual({ usage: { promptTokens: 19, completionTokens: 10 }, responseModel: 'gpt-4o-2024-11-20', completionText: 'Hello! How can I assist you today?', complete: true });
  });

  it('keeps the opening choices: [] chunk and strips only the injected usage chunk, at every split offset', () => {
    const events = azureStream(true);
    const bytes = Buffer.from(events.join(''));
    const usageEvents = events.filter((event) => event.includes('"choices":[]') && event.includes('"prompt_tokens"'));
    expect(usageEvents).toHaveLength(1);
    expect(events[0]).toContain('"choices":[]');
    const expected = Buffer.from(events.filter((event) => event !== usageEvents[0]).join(''));
    const prepared = prepare({ messages: [], stream: true });
    const { whole, splits } = observeAtEverySplit(() => accounting.observeResponse(prepared, 200, 'text/event-stream; charset=utf-8'), bytes);
    expect(whole.forwarded.toString()).toBe(expected.toString());
    // The opening chunk names model "": the model is the one the later chunks name.
    expect(whole.result).toEqual({ usage: { promptTokens: 31, completionTokens: 5 }, responseModel: 'gpt-4o-2024-11-20', completionText: 'Bonjour à tous', complete: true });
    for (const split of splits) {
      expect(split.forwarded.equals(expected)).toBe(true);
      expect(split.result).toEqual(whole.result);
    }
  });

  it('counts from the text when the stream carries no usage (stream_options not sent)', () => {
    const prepared = prepare({ messages: [], stream: true }, '?api-version=2024-06-01');
    const bytes = Buffer.from(azureStream(false).join(''));
    const { forwarded, result } = observe(accounting.observeResponse(prepared, 200, 'text/event-stream'), [bytes]);
    expect(forwarded.equals(bytes)).toBe(true);
    expect(result).toEqual({ usage: null, responseModel: 'gpt-4o-2024-11-20', completionText: 'Bonjour à tous', complete: true });
  });

  it('reports no usage for error bodies', () => {
    const { result } = observe(accounting.observeResponse(prepare({ messages: [] }), 429, 'application/json'), [providerFixture('azure-openai', 'errors.json')]);
    expect(result).toEqual({ usage: null, completionText: '', complete: true });
  });
});

describe('azureOpenAiUsageAccounting operations and details', () => {
  it.each([
    ['/openai/deployments/x/chat/completions', 'chat_completions'],
    ['/openai/deployments/x/completions', 'completions'],
    ['/openai/deployments/x/embeddings', 'embeddings'],
    ['/openai/v1/chat/completions', 'chat_completions'],
    ['/openai/v1/responses', 'responses'],
    ['/openai/v1/responses/input_tokens', 'count_tokens'],
    ['/openai/deployments/x/images/generations', 'other'],
  ] as const)('names %s as %s', (path, operation) => {
    expect(prepare({ model: 'gpt-4o', input: 'x' }, undefined, path).operation).toBe(operation);
  });

  it('reads cached and reasoning tokens (the prompt caching example: prompt_tokens_details.cached_tokens)', () => {
    const body = JSON.parse(providerFixture('azure-openai', 'chat-completion.json').toString()) as { usage: object };
    body.usage = {
      completion_tokens: 1518,
      prompt_tokens: 1566,
      total_tokens: 3084,
      completion_tokens_details: { reasoning_tokens: 576 },
      prompt_tokens_details: { cached_tokens: 1408 },
    };
    const { result } = observe(accounting.observeResponse(prepare({ messages: [] }), 200, 'application/json'), [Buffer.from(JSON.stringify(body))]);
    expect(result).toEqual({
      usage: { promptTokens: 1566, completionTokens: 1518, cachedReadTokens: 1408, reasoningTokens: 576 },
      responseModel: 'gpt-4o-2024-11-20',
      completionText: 'Hello! How can I assist you today?',
      complete: true,
    });
  });
});
