import { GraphQLError } from 'graphql';
import { contextPathsOverlap, normalizeContextPath, normalizeLabels, normalizeServiceUrl, validateOrganizationHandle } from './validation';

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as GraphQLError).extensions.field as string;
  }
  return undefined;
}

describe('context paths', () => {
  it.each([
    ['/openai', '/openai'],
    ['openai', '/openai'],
    ['/OpenAI//Prod/', '/openai/prod'],
    ['  /gpt-4o.mini_v2 ', '/gpt-4o.mini_v2'],
  ])('normalizes %j to %j', (raw, expected) => {
    expect(normalizeContextPath('f', raw)).toBe(expected);
  });

  it.each(['/', '', '/../etc', '/a/./b', '/a b', '/-lead', '/a?b', '/a%2e', `/${'a'.repeat(201)}`])('refuses %j', (raw) => {
    expect(fieldOf(() => normalizeContextPath('input.contextPath', raw))).toBe('input.contextPath');
  });

  it('detects paths that would shadow each other segment-wise', () => {
    expect(contextPathsOverlap('/a', '/a')).toBe(true);
    expect(contextPathsOverlap('/a', '/a/b')).toBe(true);
    expect(contextPathsOverlap('/a/b', '/a')).toBe(true);
    expect(contextPathsOverlap('/a', '/ab')).toBe(false);
  });
});

describe('service URLs', () => {
  it('accepts http(s) and drops a trailing slash', () => {
    expect(normalizeServiceUrl('f', 'https://api.openai.com/v1/')).toBe('https://api.openai.com/v1');
    expect(normalizeServiceUrl('f', 'http://127.0.0.1:9000')).toBe('http://127.0.0.1:9000');
  });

  it.each(['ftp://x.com', 'javascript:alert(1)', 'not a url', 'https://u:p@x.com', 'https://x.com/?a=1', 'https://x.com/#f', 'file:///etc/passwd'])('refuses %j', (raw) => {
    expect(fieldOf(() => normalizeServiceUrl('input.serviceUrl', raw))).toBe('input.serviceUrl');
  });
});

describe('handles and labels', () => {
  it('reserves organization handles that would shadow proxy endpoints', () => {
    expect(fieldOf(() => validateOrganizationHandle('h', 'healthz'))).toBe('h');
    expect(validateOrganizationHandle('h', 'acme-2')).toBe('acme-2');
  });

  it('dedupes labels and names the offending one', () => {
    expect(normalizeLabels('l', ['chat', ' chat ', 'gpt'])).toEqual(['chat', 'gpt']);
    expect(fieldOf(() => normalizeLabels('l', ['ok', '<script>']))).toBe('l[1]');
  });

  it('counts labels as sent, before reading any: 21 invalid labels name the list, not the first label', () => {
    expect(normalizeLabels('l', Array.from({ length: 20 }, (_, i) => `label-${i % 3}`))).toEqual(['label-0', 'label-1', 'label-2']);
    expect(fieldOf(() => normalizeLabels('l', Array.from({ length: 21 }, () => '<script>')))).toBe('l');
  });
});
