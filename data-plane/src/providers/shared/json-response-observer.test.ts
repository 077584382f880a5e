import { EDGE_BYTES, JsonResponseObserver, MAX_PARSED_JSON_BYTES, findUsageMember } from './json-response-observer';
import { observe, piecesOf, plainObservation } from '../../../../test/support/data-plane/observer-harness';
import { OPENAI_JSON_READER } from './openai-compatible-usage';

describe('JsonResponseObserver', () => {
  it('forwards each chunk at once and reads the usage once the body is complete', () => {
    const body = Buffer.from(JSON.stringify({ choices: [{ message: { content: 'Hi ✓' } }], usage: { prompt_tokens: 3, completion_tokens: 2 } }));
    const observer = new JsonResponseObserver(OPENAI_JSON_READER);
    for (const piece of piecesOf(body, [1, 30, 31, 32])) expect(observer.write(piece)).toBe(piece);
    expect(observer.flush().length).toBe(0);
    expect(plainObservation(observer.result())).toEqual({ usage: { promptTokens: 3, completionTokens: 2 }, completionText: 'Hi ✓', complete: true });
  });

  it('reports a cut or malformed body as incomplete without usage', () => {
    const body = Buffer.from('{"usage":{"prompt_tokens":3,"completion_tokens":2},"choices":[');
    expect(observe(new JsonResponseObserver(OPENAI_JSON_READER), [body], false).result).toEqual({ usage: null, completionText: '', complete: false });
  });

  it('does not keep a huge body: usage found near its end (embeddings) or its start (Mistral chat)', () => {
    const vectors = Array.from({ length: 4000 }, (_, index) => ({ object: 'embedding', index, embedding: Array.from({ length: 20 }, () => 0.0123456789) }));
    const atEnd = Buffer.from(JSON.stringify({ object: 'list', data: vectors, model: 'm', usage: { prompt_tokens: 4000, total_tokens: 4000 } }));
    const atStart = Buffer.from(JSON.stringify({ id: 'x', usage: { prompt_tokens: 16, completion_tokens: 34 }, choices: vectors }));
    expect(atEnd.length).toBeGreaterThan(MAX_PARSED_JSON_BYTES + 2 * EDGE_BYTES);
    for (const [body, expected] of [
      [atEnd, { usage: { promptTokens: 4000, completionTokens: 0 }, responseModel: 'm', completionText: '', complete: true }],
      [atStart, { usage: { promptTokens: 16, completionTokens: 34 }, completionText: '', complete: true }],
    ] as const) {
      const cuts = Array.from({ length: Math.ceil(body.length / 16384) }, (_, i) => i * 16384);
      const { forwarded, result } = observe(new JsonResponseObserver(OPENAI_JSON_READER), piecesOf(body, cuts));
      expect(forwarded.equals(body)).toBe(true);
      expect(result).toEqual(expected);
    }
  });
});

describe('findUsageMember', () => {
  it('takes the last real usage member and ignores look-alikes inside strings', () => {
    const text = JSON.stringify({
      content: 'say "usage": {"prompt_tokens": 999} and \\"usage\\"',
      nested: { usage: { unrelated: true } },
      usage: { prompt_tokens: 5, completion_tokens: 1 },
    });
    expect(findUsageMember(text, OPENAI_JSON_READER)).toEqual({ promptTokens: 5, completionTokens: 1 });
    expect(findUsageMember(text.slice(0, text.lastIndexOf('"usage"')), OPENAI_JSON_READER)).toBeNull();
    expect(findUsageMember('"usage":{"prompt_tokens":5', OPENAI_JSON_READER)).toBeNull();
  });
});
