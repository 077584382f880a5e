import { bedrockConverseStream } from '../../../../test/fakes/bedrock';
import { defaultBehaviour } from '../../../../test/fakes/recorder';
import { piecesOf } from '../../../../test/support/data-plane/observer-harness';
import { EventStreamFramer } from './event-stream-framer';

const FRAMES = bedrockConverseStream(defaultBehaviour()).map((frame) => Buffer.from(frame));
const STREAM = Buffer.concat(FRAMES);

/** The frames (base64, cheap to compare) and the rest, for these pieces. */
function split(pieces: readonly Buffer[]): { frames: string[]; rest: string } {
  const framer = new EventStreamFramer();
  const frames: string[] = [];
  for (const piece of pieces) expect(framer.push(piece, (frame) => frames.push(frame.toString('base64')))).toBe(true);
  return { frames, rest: framer.end().toString('base64') };
}
const EXPECTED = { frames: FRAMES.map((frame) => frame.toString('base64')), rest: '' };

describe('EventStreamFramer', () => {
  it('splits a ConverseStream body into its messages however the bytes are chunked', () => {
    expect(split([STREAM])).toEqual(EXPECTED);
    for (let cut = 1; cut < STREAM.length; cut += 1) expect(split(piecesOf(STREAM, [cut]))).toEqual(EXPECTED);
  });

  it('holds an incomplete message and hands it over at the end', () => {
    const framer = new EventStreamFramer();
    const frames: Buffer[] = [];
    framer.push(STREAM.subarray(0, FRAMES[0].length + 5), (frame) => frames.push(frame));
    expect(frames).toEqual([FRAMES[0]]);
    expect(framer.heldBytes).toBe(5);
    expect(framer.end()).toEqual(FRAMES[1].subarray(0, 5));
    expect(framer.heldBytes).toBe(0);
  });

  it('stops at a length no message can have, keeping the bytes from there for end()', () => {
    const framer = new EventStreamFramer();
    const frames: Buffer[] = [];
    const garbage = Buffer.from([0, 0, 0, 3, 1, 2, 3]);
    expect(framer.push(Buffer.concat([FRAMES[0], garbage]), (frame) => frames.push(frame))).toBe(false);
    expect(frames).toEqual([FRAMES[0]]);
    expect(framer.end()).toEqual(garbage);
  });
});
