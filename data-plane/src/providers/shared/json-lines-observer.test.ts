import { JsonLinesObserver, MAX_JSON_LINE_BYTES } from './json-lines-observer';
import { tokenCount } from './json-values';

/** Sums `n` over the lines; the total becomes the usage's prompt once the body ended whole. */
function summing(): JsonLinesObserver {
  let total = 0;
  return new JsonLinesObserver(
    (line) => {
      total += tokenCount(line.n) ?? 0;
    },
    (tally) => {
      tally.usage = { promptTokens: total, completionTokens: 0 };
    },
  );
}

describe('JsonLinesObserver', () => {
  it('reads every line however the body is split, the last one without its newline too, and forwards the bytes as they came', () => {
    const body = '{"n":1}\n{"n":20}\n\nnot json\n[1,2]\n{"n":300}';
    for (let at = 1; at < body.length; at += 3) {
      const observer = summing();
      const forwarded = Buffer.concat([observer.write(Buffer.from(body.slice(0, at))), observer.write(Buffer.from(body.slice(at))), observer.flush()]).toString();
      expect(forwarded).toBe(body);
      expect(observer.result()).toMatchObject({ usage: { promptTokens: 321, completionTokens: 0 }, complete: true });
    }
  });

  it('parses only the lines that hold the text it is told to look for', () => {
    const read: unknown[] = [];
    const observer = new JsonLinesObserver((line) => void read.push(line), () => undefined, undefined, '"n"');
    observer.write(Buffer.from('{"n":1}\n{"m":2}\n{"x":"y"}\n{"n":3}'));
    observer.flush();
    expect(read).toEqual([{ n: 1 }, { n: 3 }]);
  });

  it('reports nothing final for a body cut short (no flush)', () => {
    const observer = summing();
    observer.write(Buffer.from('{"n":1}\n{"n":2'));
    expect(observer.result()).toMatchObject({ usage: null, complete: false });
  });

  it('stops following at a line longer than it holds, and says it could not read the body', () => {
    const observer = summing();
    observer.write(Buffer.from('{"n":1}\n{"pad":"'));
    observer.write(Buffer.alloc(MAX_JSON_LINE_BYTES, 0x61));
    observer.write(Buffer.from('"}\n{"n":2}\n'));
    observer.flush();
    expect(observer.result()).toMatchObject({ usage: null, complete: false, unreadable: true });
  });
});
