import { PROMPT_COUNTING } from './prompt-registry';
import { PROVIDER_ADAPTERS } from './provider-registry';
import { RequestBodyError } from './usage-accounting';

describe('PROVIDER_ADAPTERS', () => {
  it('gives every provider a usage accounting that refuses non-JSON bodies and follows error responses untouched', () => {
    expect([...PROVIDER_ADAPTERS.keys()].sort()).toEqual(['ANTHROPIC', 'AWS_BEDROCK', 'AZURE_OPENAI', 'MISTRAL', 'OPENAI']);
    for (const adapter of PROVIDER_ADAPTERS.values()) {
      expect(() => adapter.usage.prepareRequest('/v1/chat/completions', Buffer.from('<xml/>'), 'application/json')).toThrow(RequestBodyError);
      const prepared = adapter.usage.prepareRequest('/v1/models', Buffer.alloc(0), undefined);
      expect(prepared.json).toBeNull();
      const observer = adapter.usage.observeResponse(prepared, 500, 'application/json');
      const body = Buffer.from('{"usage":{"prompt_tokens":1,"input_tokens":1,"inputTokens":1}}');
      expect(observer.write(body)).toBe(body);
      expect(observer.result()).toEqual({ usage: null, completionText: '', complete: true });
    }
  });

  it('gives every adapter the prompt counting the token worker finds by the same provider name', () => {
    expect([...PROMPT_COUNTING.keys()].sort()).toEqual([...PROVIDER_ADAPTERS.keys()].sort());
    for (const [provider, adapter] of PROVIDER_ADAPTERS) {
      expect(adapter.id).toBe(provider);
      expect(adapter.prompt).toBe(PROMPT_COUNTING.get(provider));
    }
  });

  it('names the model of a request for prompt counting as usage accounting names it (one path parse per provider)', () => {
    const paths = [
      '/v1/chat/completions',
      '/v1/messages',
      '/openai/deployments/gpt-4%20prod/chat/completions',
      '/deployments/gpt-35-turbo/embeddings',
      '/openai/v1/responses',
      '/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse',
      '/model/meta.llama3-8b-instruct-v1:0/invoke-with-response-stream',
      '/model/amazon.nova-lite-v1:0/count-tokens',
    ];
    for (const adapter of PROVIDER_ADAPTERS.values()) {
      for (const path of paths) {
        for (const body of [{ model: 'gpt-4o', messages: [] }, { messages: [] }]) {
          const prepared = adapter.usage.prepareRequest(path, Buffer.from(JSON.stringify(body)), 'application/json');
          expect([adapter.id, path, adapter.prompt.requestModel(path, body)]).toEqual([adapter.id, path, prepared.model]);
        }
      }
    }
  });
});
