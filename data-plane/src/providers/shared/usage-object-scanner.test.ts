import fc from 'fast-check';
import { openAiUsage } from './openai-compatible-usage';
import { MAX_USAGE_OBJECT_CHARS, UsageObjectScanner } from './usage-object-scanner';

const scan = (pieces: readonly string[]) => {
  const scanner = new UsageObjectScanner(openAiUsage);
  for (const piece of pieces) scanner.write(Buffer.from(piece, 'utf8'));
  return scanner.total;
};

describe('UsageObjectScanner', () => {
  const entry = (prompt: number, completion: number, content: string) =>
    JSON.stringify({ custom_id: 'x', response: { status_code: 200, body: { object: 'chat.completion', choices: [{ message: { content } }], usage: { prompt_tokens: prompt, completion_tokens: completion } } } });
  const body = `{"id":"job","outputs":[${[entry(10, 2, 'a "usage": {"prompt_tokens": 999} in text'), JSON.stringify({ custom_id: 'y', response: { status_code: 400, body: { message: 'bad' } } }), entry(5, 1, 'é ✨')].join(',')}],"status":"SUCCESS"}`;

  it('sums every usage object however the body is cut, and never one quoted inside a string', () => {
    expect(scan([body])).toEqual({ promptTokens: 15, completionTokens: 3 });
    const bytes = Buffer.from(body, 'utf8');
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 12 }), (cuts) => {
        const scanner = new UsageObjectScanner(openAiUsage);
        let start = 0;
        for (const cut of [...cuts].sort((a, b) => a - b)) {
          scanner.write(bytes.subarray(start, cut));
          start = cut;
        }
        scanner.write(bytes.subarray(start));
        expect(scanner.total).toEqual({ promptTokens: 15, completionTokens: 3 });
      }),
    );
  });

  it('finds none in a body without usage, and drops an object too long to be a usage', () => {
    expect(scan(['{"id":"job","outputs":[]}'])).toBeNull();
    const huge = `{"usage":{"prompt_tokens":1,"pad":"${'a'.repeat(2 * MAX_USAGE_OBJECT_CHARS)}"},"next":{"usage":{"prompt_tokens":7,"completion_tokens":0}}}`;
    const pieces = huge.match(/[\s\S]{1,4096}/g) ?? [];
    expect(scan(pieces)).toEqual({ promptTokens: 7, completionTokens: 0 });
  });
});
