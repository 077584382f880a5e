import { bedrockRoute, bedrockUnsupportedOperation } from './bedrock-path';

describe('bedrockRoute', () => {
  it.each([
    ['/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse', 'anthropic.claude-3-5-sonnet-20240620-v1:0', 'converse', false],
    ['/model/us.anthropic.claude-sonnet-4-20250514-v1:0/converse-stream', 'us.anthropic.claude-sonnet-4-20250514-v1:0', 'converse_stream', true],
    ['/model/meta.llama3-8b-instruct-v1:0/invoke/', 'meta.llama3-8b-instruct-v1:0', 'invoke', false],
    ['/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fus.meta.llama3/invoke-with-response-stream', 'arn:aws:bedrock:us-east-1:1:inference-profile/us.meta.llama3', 'invoke_stream', true],
    ['/model/anthropic.claude-3-haiku-20240307-v1:0/count-tokens', 'anthropic.claude-3-haiku-20240307-v1:0', 'count_tokens', false],
    ['/model/amazon.nova-lite-v1:0/unknown-action', 'amazon.nova-lite-v1:0', 'other', false],
  ] as const)('%s names %s, %s', (path, model, operation, stream) => {
    expect(bedrockRoute(path)).toEqual({ model, operation, stream });
  });

  it('names no operation after members every object inherits', () => {
    for (const action of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(bedrockRoute(`/model/x/${action}`)?.operation).toBe('other');
    }
  });

  it('is null for paths without a model and action', () => {
    expect(bedrockRoute('/models')).toBeNull();
    expect(bedrockRoute('/model/x')).toBeNull();
    expect(bedrockRoute('/model/x/converse//')).toBeNull();
  });
});

describe('bedrockUnsupportedOperation', () => {
  it('names InvokeModelWithBidirectionalStream, and nothing else', () => {
    expect(bedrockUnsupportedOperation('POST', '/model/amazon.nova-sonic-v1%3A0/invoke-with-bidirectional-stream')).toEqual({ status: 501, message: expect.stringMatching(/InvokeModelWithBidirectionalStream is not supported/) });
    expect(bedrockUnsupportedOperation('POST', '/model/amazon.nova-sonic-v1:0/invoke-with-bidirectional-stream/')).not.toBeNull();
    for (const path of ['/model/m/invoke', '/model/m/invoke-with-response-stream', '/model/m/converse-stream', '/guardrail/g/version/1/apply', '/']) {
      expect(bedrockUnsupportedOperation('POST', path)).toBeNull();
    }
  });
});
