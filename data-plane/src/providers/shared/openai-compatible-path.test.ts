import { openAiEndpoint, openAiOperation } from './openai-compatible-path';

describe('openAiEndpoint', () => {
  it.each([
    ['/v1/chat/completions', 'chat/completions', 'chat_completions'],
    ['/openai/deployments/gpt-4o/chat/completions/', 'chat/completions', 'chat_completions'],
    ['/v1/completions', 'completions', 'completions'],
    ['/v1/agents/completions', 'agents/completions', 'completions'],
    ['/v1/fim/completions', 'fim/completions', 'completions'],
    ['/v1/responses', 'responses', 'responses'],
    ['/v1/responses/input_tokens', 'responses/input_tokens', 'count_tokens'],
    ['/v1/embeddings', 'embeddings', 'embeddings'],
    ['/v1/models', null, 'other'],
    ['/v1/responses/resp_123', null, 'other'],
    ['/v1/chat/completions//', null, 'other'],
  ] as const)('%s is %p (operation %s)', (path, endpoint, operation) => {
    expect(openAiEndpoint(path)).toBe(endpoint);
    expect(openAiOperation(path)).toBe(operation);
  });
});
