import { providerAdapterFor } from '../providers/provider-registry';
import { encodedSlashesAllowed, inspectRequestPath } from './path-safety';

const adapter = (name: 'AWS_BEDROCK' | 'OPENAI' | 'AZURE_OPENAI' | 'ANTHROPIC' | 'MISTRAL') => providerAdapterFor(name)!;

const ARN = 'arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-sonnet-20240620-v1%3A0';

describe('inspectRequestPath', () => {
  it.each([
    '/acme/openai/v1/chat/completions',
    '/acme/svc/v1.2/x.json',
    '/acme/svc/.well-known/x',
    '/acme/svc/...x/..a/a..',
    '/acme/svc//double//slash',
    '/acme/bedrock/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse',
    '/acme/azure/openai/deployments/gpt-4o%20prod/chat/completions',
    '/acme/svc/caf%C3%A9/%E2%82%AC',
    '/acme/svc/%2520', // twice encoded space: two levels are allowed
    '/acme/svc/%zz/%2/%',
    `/acme/svc/${'a'.repeat(5000)}`,
  ])('forwards %s', (path) => {
    expect(inspectRequestPath(path)).toEqual({ safe: true, encodedSlashes: false });
  });

  it.each([
    '/acme/svc/%2F/x',
    `/acme/bedrock/model/${ARN}/converse`,
    '/acme/svc/a%2fb',
    '/acme/svc/a%252Fb',
    '/acme/svc/a%EF%BC%8Fb', // fullwidth solidus: '/' after NFKC
  ])('notes the encoded slash of %s', (path) => {
    expect(inspectRequestPath(path)).toEqual({ safe: true, encodedSlashes: true });
  });

  it.each([
    '/acme/svc/../x',
    '/acme/svc/./x',
    '/acme/svc/..',
    '/acme/svc/.',
    '/acme/svc/%2e',
    '/acme/svc/%2E%2e/x',
    '/acme/svc/.%2E/x',
    '/acme/svc/%2e./x',
    '/acme/svc/%252e%252E/x', // twice encoded
    '/acme/svc/..%2fother',
    '/acme/svc/..%2Fother/x',
    '/acme/openai/v1/..%2fother/..%2f..%2fx',
    `/acme/svc/${'a'.repeat(40)}%2f..%2f${'b'.repeat(40)}`, // long segments: the old check skipped those over 6 characters
    '/acme/svc/x%2F..',
    '/acme/svc/x%252F..%252Fy',
    '/acme/svc/...',
    '/acme/svc/..%20',
    '/acme/svc/..%20%20',
    '/acme/svc/..;/x',
    '/acme/svc/..;jsessionid=1/x',
    '/acme/svc/%2e%2e;x',
    '/acme/svc/%EF%BC%8E%EF%BC%8E/x', // fullwidth full stops
    '/acme/svc/%E2%80%A5', // two dot leader: '..' after NFKC
    `/acme/bedrock/model/a%2F..%2F..%2Fb/converse`,
    `/acme/svc/${'.'.repeat(300)}`,
  ])('refuses the dot segment of %s', (path) => {
    expect(inspectRequestPath(path)).toEqual({ safe: false, refusal: 'dot_segment' });
  });

  it.each(['/acme/svc/a\\b', '/acme/svc/..\\x', '/acme/svc/%5c', '/acme/svc/%5C..', '/acme/svc/%255c', '/acme/svc/%EF%BC%BC'])('refuses the backslash of %s', (path) => {
    expect(inspectRequestPath(path)).toEqual({ safe: false, refusal: 'backslash' });
  });

  it.each(['/acme/svc/%00', '/acme/svc/..%00', '/acme/svc/..%00.json', '/acme/svc/%0a', '/acme/svc/%7F', '/acme/svc/%2500'])('refuses the control character of %s', (path) => {
    expect(inspectRequestPath(path)).toEqual({ safe: false, refusal: 'control_character' });
  });

  it.each([
    '/acme/svc/a b',
    '/acme/svc/a\u0001b',
    '/acme/svc/\u007f',
    '/acme/svc/\u00ef\u00bc\u008e\u00ef\u00bc\u008e/x', // fullwidth '．．' sent raw over HTTP/2 (node:http gives bytes latin1)
    '/acme/svc/caf\u00e9',
    '/acme/svc/\u0100',
    '/acme/svc/\u{1F600}',
  ])('refuses %j, whose characters must be percent-encoded', (path) => {
    expect(inspectRequestPath(path)).toEqual({ safe: false, refusal: 'unencoded_character' });
  });

  it.each(['/acme/svc/%25252e', '/acme/svc/%2525252F', '/acme/svc/%252525'])('refuses %s as encoded more than twice', (path) => {
    expect(inspectRequestPath(path)).toEqual({ safe: false, refusal: 'over_encoded' });
  });

  it.each(['/acme/svc/%C0%AE%C0%AE', '/acme/svc/%E0%80%AE', '/acme/svc/%ff', '/acme/svc/%ED%A0%80'])('refuses %s, which is not UTF-8 once decoded', (path) => {
    expect(inspectRequestPath(path)).toEqual({ safe: false, refusal: 'invalid_encoding' });
  });
});

describe('encodedSlashesAllowed', () => {
  it.each([
    `/model/${ARN}/converse`,
    `/model/${ARN}/converse-stream`,
    `/model/${ARN.replace(/%2F/g, '%2f').replace(/%3A/g, '%3a')}/invoke`, // lower-case escapes
    '/guardrail/arn%3Aaws%3Abedrock%3Aus-east-1%3A123%3Aguardrail%2Fabc/version/1/apply',
    '/async-invoke/arn%3Aaws%3Abedrock%3Aus-east-1%3A123%3Aasync-invoke%2Fabc',
    '/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse',
  ])('allows Bedrock %s', (providerPath) => {
    expect(encodedSlashesAllowed(adapter('AWS_BEDROCK'), providerPath)).toBe(true);
  });

  it.each([
    ['AWS_BEDROCK', `/model/x/converse%2Fy`],
    ['AWS_BEDROCK', `/model/${ARN}/x%2Fy`],
    ['AWS_BEDROCK', `/x%2Fy/model/${ARN}`],
    ['AWS_BEDROCK', '/foo/a%2Fb/converse'],
    ['AWS_BEDROCK', '/model/a%252Fb/converse'],
    ['AWS_BEDROCK', '/model/a%EF%BC%8Fb/converse'],
    ['AWS_BEDROCK', `/v1/model/${ARN}/converse`],
    ['OPENAI', '/v1/files/a%2Fb'],
    ['OPENAI', `/model/${ARN}/converse`],
    ['AZURE_OPENAI', '/openai/deployments/a%2Fb/chat/completions'],
    ['ANTHROPIC', '/v1/models/a%2fb'],
    ['MISTRAL', '/v1/models/a%2fb'],
  ] as const)('refuses %s %s', (provider, providerPath) => {
    expect(encodedSlashesAllowed(adapter(provider), providerPath)).toBe(false);
  });
});
