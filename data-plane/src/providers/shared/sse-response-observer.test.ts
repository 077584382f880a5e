import fc from 'fast-check';
import type { EventSourceMessage } from 'eventsource-parser';
import { observe, observeAtEverySplit, observeBytewise, piecesOf } from '../../../../test/support/data-plane/observer-harness';
import { MAX_SSE_EVENT_BYTES, SseResponseObserver } from './sse-response-observer';
import type { UsageTally } from './usage-tally';

/** A reader for tests: collects data as text, `END` completes, events with data `HIDE...` are hidden. */
function testReader(seen: EventSourceMessage[] = []): (event: EventSourceMessage, tally: UsageTally) => boolean {
  return (event, tally) => {
    seen.push(event);
    if (event.data === 'END') tally.complete = true;
    else tally.addText(`${event.data}|`);
    return event.data.startsWith('HIDE');
  };
}

const LINE_ENDINGS = { LF: '\n', CRLF: '\r\n', CR: '\r' } as const;

function stream(eol: string): { bytes: Buffer; withoutHidden: Buffer } {
  const events = [
    `: a comment${eol}event: first${eol}data: héllo 👋${eol}${eol}`,
    `data: multi${eol}data: line${eol}${eol}`,
    `data: HIDE me${eol}${eol}`,
    `${eol}`, // a stray blank line: no event
    `id: 7${eol}data:no-space${eol}${eol}`,
    `data: END${eol}${eol}`,
  ];
  return { bytes: Buffer.from(events.join('')), withoutHidden: Buffer.from(events.filter((event) => !event.includes('HIDE')).join('')) };
}

describe('SseResponseObserver', () => {
  it.each(Object.entries(LINE_ENDINGS))('strips exactly the hidden event, %s line endings, at every split offset', (_name, eol) => {
    const { bytes, withoutHidden } = stream(eol);
    const { whole, splits } = observeAtEverySplit(() => new SseResponseObserver(testReader(), true), bytes);
    expect(whole.forwarded.equals(withoutHidden)).toBe(true);
    expect(whole.result).toEqual({ usage: null, completionText: 'héllo 👋|multi\nline|HIDE me|no-space|', complete: true });
    for (const split of splits) {
      expect(split.forwarded.equals(withoutHidden)).toBe(true);
      expect(split.result).toEqual(whole.result);
    }
    const bytewise = observeBytewise(new SseResponseObserver(testReader(), true), bytes);
    expect(bytewise.forwarded.equals(withoutHidden)).toBe(true);
    expect(bytewise.result).toEqual(whole.result);
  });

  it.each(Object.entries(LINE_ENDINGS))('forwards every chunk as it is when not stripping, %s line endings', (_name, eol) => {
    const { bytes } = stream(eol);
    const observer = new SseResponseObserver(testReader(), false);
    for (const piece of piecesOf(bytes, [3, 17, 18, 40, 41, 90])) expect(observer.write(piece)).toBe(piece);
    expect(observer.flush().length).toBe(0);
    expect(observer.result()).toEqual({ usage: null, completionText: 'héllo 👋|multi\nline|HIDE me|no-space|', complete: true });
  });

  it('gives the same bytes and result for random chunkings (property)', () => {
    const { bytes, withoutHidden } = stream('\r\n');
    const reference = observe(new SseResponseObserver(testReader(), true), [bytes]).result;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 20 }), fc.boolean(), (cuts, strip) => {
        const { forwarded, result } = observe(new SseResponseObserver(testReader(), strip), piecesOf(bytes, cuts));
        expect(forwarded.equals(strip ? withoutHidden : bytes)).toBe(true);
        expect(result).toEqual(reference);
      }),
    );
  });

  it('dispatches each event as soon as its blank line arrives and holds only the incomplete one', () => {
    const seen: EventSourceMessage[] = [];
    const observer = new SseResponseObserver(testReader(seen), true);
    expect(observer.write(Buffer.from('data: one\n\ndata: tw')).toString()).toBe('data: one\n\n');
    expect(seen.map((event) => event.data)).toEqual(['one']);
    expect(observer.write(Buffer.from('o\n')).toString()).toBe('');
    expect(observer.write(Buffer.from('\n')).toString()).toBe('data: two\n\n');
    // A CR ending an event at the end of a chunk dispatches it at once; a following LF belongs to it.
    expect(observer.write(Buffer.from('data: HIDE\r\r')).toString()).toBe('');
    expect(seen.map((event) => event.data)).toEqual(['one', 'two', 'HIDE']);
    expect(observer.write(Buffer.from('\ndata: three\r\n\r\n')).toString()).toBe('data: three\r\n\r\n');
    expect(observer.write(Buffer.from('data: cut sh')).toString()).toBe('');
    expect(observer.flush().toString()).toBe('data: cut sh');
    expect(observer.result()).toEqual({ usage: null, completionText: 'one|two|HIDE|three|', complete: false });
  });

  it('reports a stream cut mid-event as incomplete, with the text of the complete events', () => {
    const { bytes } = stream('\n');
    const cut = bytes.indexOf('data: END') + 6;
    for (const strip of [true, false]) {
      const { result } = observe(new SseResponseObserver(testReader(), strip), [bytes.subarray(0, cut)], false);
      expect(result).toEqual({ usage: null, completionText: 'héllo 👋|multi\nline|HIDE me|no-space|', complete: false });
    }
  });

  it('never throws when a reader does: it forwards everything and reports the response incomplete', () => {
    const failing = (event: EventSourceMessage, tally: UsageTally): boolean => {
      if (event.data === 'boom') throw new Error('reader bug');
      if (event.data === 'END') tally.complete = true;
      return false;
    };
    for (const strip of [true, false]) {
      const bytes = Buffer.from('data: boom\n\ndata: END\n\n');
      const { forwarded, result } = observe(new SseResponseObserver(failing, strip), piecesOf(bytes, [5, 13]));
      expect(forwarded.equals(bytes)).toBe(true);
      expect(result.complete).toBe(false);
    }
  });

  it('gives up stripping (forwarding everything) rather than hold an oversized event', () => {
    const huge = Buffer.from(`data: ${'x'.repeat(MAX_SSE_EVENT_BYTES)}`);
    const observer = new SseResponseObserver(testReader(), true);
    const first = observer.write(huge.subarray(0, 1024));
    const rest = observer.write(huge.subarray(1024));
    const tail = observer.write(Buffer.from('\n\ndata: HIDE\n\n'));
    expect(Buffer.concat([first, rest, tail, observer.flush()]).length).toBe(huge.length + 14);
    expect(observer.result().complete).toBe(false);
  });
});
