import { BEDROCK_ESTIMATE_FACTORS, bedrockModelFamily, bedrockPromptCounting } from './bedrock-prompt';

describe('bedrockPromptCounting', () => {
  it('estimates each model family with the factor tokens/README.md documents', () => {
    expect(BEDROCK_ESTIMATE_FACTORS).toEqual({ claude: 1.25, mistral: 1.15, llama: 1.1, openai: 1, unknown: 1.25 });
  });

  it.each([
    ['anthropic.claude-3-5-sonnet-20240620-v1:0', 'claude'],
    ['us.anthropic.claude-sonnet-4-20250514-v1%3A0', 'claude'],
    ['arn:aws:bedrock:us-east-1:123:inference-profile/us.meta.llama3-1-70b-instruct-v1:0', 'llama'],
    ['mistral.mixtral-8x7b-instruct-v0:1', 'mistral'],
    ['openai.gpt-oss-120b-1:0', 'openai'],
    ['amazon.nova-pro-v1:0', 'unknown'],
    ['arn:aws:bedrock:us-east-1:123:application-inference-profile/abc', 'unknown'],
    ['bad%E0%A4%A-llama', 'llama'],
  ] as const)('%s is a %s model', (model, family) => {
    expect(bedrockModelFamily(model)).toBe(family);
    expect(bedrockPromptCounting.estimateFactor(model)).toBe(BEDROCK_ESTIMATE_FACTORS[family]);
    expect(bedrockPromptCounting.encoding(model)).toBe('o200k_base');
  });
});
