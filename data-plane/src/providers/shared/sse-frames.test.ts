import { piecesOf } from '../../../../test/support/data-plane/observer-harness';
import { MAX_SSE_EVENT_BYTES } from './sse-response-observer';
import { SseFramer, sseEvent, sseFields } from './sse-frames';

/** Every frame the framer gives for these pieces, then what end() gives (held event, rest). */
function split(pieces: readonly Buffer[]): { frames: string[]; rest: string } {
  const framer = new SseFramer();
  const frames: string[] = [];
  for (const piece of pieces) expect(framer.push(piece, (frame) => frames.push(frame.toString('utf8')))).toBe(true);
  const rest = framer.end((frame) => frames.push(frame.toString('utf8')));
  return { frames, rest: rest.toString('utf8') };
}

const EVENTS = [
  'event: message_start\ndata: {"type":"message_start"}\n\n',
  ': a comment line\n\n',
  'data: {"a":1}\r\n\r\n',
  'data: line one\ndata: line two\r\r',
  'event: ping\rdata: {}\n\n',
  'data: [DONE]\n\n',
];
const STREAM = Buffer.from(EVENTS.join(''), 'utf8');

describe('SseFramer', () => {
  it('splits a stream into its events, each with the blank line that ends it, whatever the line terminators', () => {
    expect(split([STREAM])).toEqual({ frames: EVENTS, rest: '' });
  });

  it('gives the same events however the bytes are chunked (every split point, and byte by byte)', () => {
    for (let cut = 1; cut < STREAM.length; cut += 1) expect(split(piecesOf(STREAM, [cut]))).toEqual({ frames: EVENTS, rest: '' });
    expect(split(piecesOf(STREAM, Array.from({ length: STREAM.length }, (_, i) => i)))).toEqual({ frames: EVENTS, rest: '' });
  });

  it('holds an event ended by a CR at a chunk end until the next byte, so a CRLF split across chunks stays whole', () => {
    const framer = new SseFramer();
    const frames: string[] = [];
    framer.push(Buffer.from('data: x\r\n\r'), (frame) => frames.push(frame.toString()));
    expect(frames).toEqual([]);
    framer.push(Buffer.from('\ndata: y\n\n'), (frame) => frames.push(frame.toString()));
    expect(frames).toEqual(['data: x\r\n\r\n', 'data: y\n\n']);
  });

  it('hands an incomplete trailing event over at the end, and an event ended by a final CR as a frame', () => {
    expect(split([Buffer.from('data: a\n\ndata: {"cut')])).toEqual({ frames: ['data: a\n\n'], rest: 'data: {"cut' });
    expect(split([Buffer.from('data: a\r\r')])).toEqual({ frames: ['data: a\r\r'], rest: '' });
  });

  it('gives up on an event larger than MAX_SSE_EVENT_BYTES', () => {
    const framer = new SseFramer();
    expect(framer.push(Buffer.alloc(MAX_SSE_EVENT_BYTES + 1, 0x61), () => undefined)).toBe(false);
    expect(framer.end(() => undefined)).toHaveLength(MAX_SSE_EVENT_BYTES + 1);
  });
});

describe('sseFields', () => {
  it('reads the event name and the data lines joined by LF', () => {
    expect(sseFields(Buffer.from('event: message_delta\ndata: {"a":\ndata:1}\n\n'))).toEqual({ event: 'message_delta', data: '{"a":\n1}' });
    expect(sseFields(Buffer.from('data:[DONE]\r\n\r\n'))).toEqual({ event: undefined, data: '[DONE]' });
  });

  it('is null for a block without data', () => {
    expect(sseFields(Buffer.from(': keep-alive\n\n'))).toBeNull();
    expect(sseFields(Buffer.from('\n'))).toBeNull();
  });

  it('reads back what sseEvent writes', () => {
    expect(sseFields(Buffer.from(sseEvent({ type: 'message_stop' }, 'message_stop')))).toEqual({ event: 'message_stop', data: '{"type":"message_stop"}' });
  });
});
