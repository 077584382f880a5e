import { RequestBodyError } from '../usage-accounting';
import { completionLimit, insertFirstMember, parseJsonRequestBody } from './json-request-body';

describe('parseJsonRequestBody', () => {
  it('reads no JSON from an empty body or a declared upload', () => {
    expect(parseJsonRequestBody(Buffer.alloc(0), undefined)).toBeNull();
    expect(parseJsonRequestBody(Buffer.alloc(0), 'application/json')).toBeNull();
    expect(parseJsonRequestBody(Buffer.from('--b\r\n...'), 'multipart/form-data; boundary=b')).toBeNull();
    expect(parseJsonRequestBody(Buffer.from([0, 1, 2]), 'application/octet-stream')).toBeNull();
  });

  it('parses JSON whatever the declared text type (curl -d sends form-urlencoded), past a BOM', () => {
    expect(parseJsonRequestBody(Buffer.from('{"a":1}'), 'application/json; charset=utf-8')).toEqual({ a: 1 });
    expect(parseJsonRequestBody(Buffer.from('{"a":1}'), 'application/x-www-form-urlencoded')).toEqual({ a: 1 });
    expect(parseJsonRequestBody(Buffer.from('\ufeff{"a":1}'), undefined)).toEqual({ a: 1 });
  });

  it('refuses a body that is not JSON with a RequestBodyError that does not quote it', () => {
    for (const [body, type] of [['{"secret prompt": ', 'application/json'], ['model=gpt', 'text/plain'], ['   ', undefined]] as const) {
      let caught: unknown;
      try {
        parseJsonRequestBody(Buffer.from(body), type);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(RequestBodyError);
      expect((caught as Error).message).toMatch(/not valid JSON/);
      expect((caught as Error).message).not.toContain('secret');
    }
  });
});

describe('insertFirstMember', () => {
  it.each([
    ['{"model":"m","stream":true}', '{"stream_options":{"include_usage":true},"model":"m","stream":true}'],
    ['{}', '{"stream_options":{"include_usage":true}}'],
    ['  {  }  ', '  {"stream_options":{"include_usage":true}  }  '],
    ['\ufeff{\n  "temperature": 1.0,\n  "x": "\\u00e9"\n}', '\ufeff{"stream_options":{"include_usage":true},\n  "temperature": 1.0,\n  "x": "\\u00e9"\n}'],
  ])('%j → %j', (body, expected) => {
    const inserted = insertFirstMember(Buffer.from(body), 'stream_options', { include_usage: true });
    expect(inserted.toString()).toBe(expected);
  });
});

describe('completionLimit', () => {
  it('takes the first limit present, nested paths included, times n choices', () => {
    expect(completionLimit({ max_tokens: 10, max_completion_tokens: 20 }, ['max_completion_tokens', 'max_tokens'])).toBe(20);
    expect(completionLimit({ max_tokens: 10 }, ['max_completion_tokens', 'max_tokens'])).toBe(10);
    expect(completionLimit({ max_tokens: 10, n: 3 }, ['max_tokens'], 'n')).toBe(30);
    expect(completionLimit({ max_tokens: 10, n: 1 }, ['max_tokens'], 'n')).toBe(10);
    expect(completionLimit({ inferenceConfig: { maxTokens: 5 } }, ['inferenceConfig.maxTokens'])).toBe(5);
  });

  it('ignores values that are not token counts', () => {
    expect(completionLimit({ max_tokens: '10' }, ['max_tokens'])).toBeNull();
    expect(completionLimit({ max_tokens: -1 }, ['max_tokens'])).toBeNull();
    expect(completionLimit({ max_tokens: 1.5 }, ['max_tokens'])).toBeNull();
    expect(completionLimit(null, ['max_tokens'])).toBeNull();
    expect(completionLimit([1], ['max_tokens'])).toBeNull();
  });
});
