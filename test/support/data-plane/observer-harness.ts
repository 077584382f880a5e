// Test support: drives a ResponseObserver the way the proxy does, with the body cut into pieces, and a
// stream cut-off reader the way the cutter does.
import type { CutoffStreamReader, CutoffTokens, StreamCutoff } from '../../../data-plane/src/providers/stream-cutoff';
import type { ObservedUsage, PreparedRequest, ResponseObserver } from '../../../data-plane/src/providers/usage-accounting';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Observed {
  /** Everything the observer returned from write() and flush(), in order. */
  readonly forwarded: Buffer;
  readonly result: ObservedUsage;
}

/** `bytes` cut at the given offsets (sorted, deduplicated, out-of-range ones ignored). */
export function piecesOf(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts)].filter((cut) => cut > 0 && cut < bytes.length).sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const point of points) {
    pieces.push(bytes.subarray(from, point));
    from = point;
  }
  pieces.push(bytes.subarray(from));
  return pieces;
}

/** Writes the pieces, then flushes (a response that ended) unless `ended` is false (the client left). */
export function observe(observer: ResponseObserver, pieces: readonly Buffer[], ended = true): Observed {
  const out: Buffer[] = [];
  for (const piece of pieces) out.push(observer.write(piece));
  if (ended) out.push(observer.flush());
  return { forwarded: Buffer.concat(out), result: plainObservation(observer.result()) };
}

/** An observation as a plain object of its members, for toEqual (observers may compute some lazily). */
export function plainObservation(observed: ObservedUsage): ObservedUsage {
  const { usage, reportedPromptTokens, responseModel, completionText, complete, jobId, streamError, unreadable, jobs } = observed;
  return {
    usage,
    ...(reportedPromptTokens === undefined ? {} : { reportedPromptTokens }),
    ...(responseModel === undefined ? {} : { responseModel }),
    completionText,
    complete,
    ...(jobId === undefined ? {} : { jobId }),
    ...(streamError === undefined ? {} : { streamError }),
    ...(unreadable === undefined ? {} : { unreadable }),
    ...(jobs === undefined ? {} : { jobs }),
  };
}

/** The body observed whole, then once per split offset (two pieces); every run must agree with the whole one. */
export function observeAtEverySplit(makeObserver: () => ResponseObserver, bytes: Buffer): { whole: Observed; splits: Observed[] } {
  const whole = observe(makeObserver(), [bytes]);
  const splits: Observed[] = [];
  for (let cut = 1; cut < bytes.length; cut += 1) splits.push(observe(makeObserver(), piecesOf(bytes, [cut])));
  return { whole, splits };
}

/** Byte-by-byte, the most hostile chunking. */
export function observeBytewise(observer: ResponseObserver, bytes: Buffer): Observed {
  return observe(observer, piecesOf(bytes, Array.from({ length: bytes.length }, (_, i) => i)));
}

/** The bytes of a recorded wire example under test/fixtures/providers/. */
export function providerFixture(provider: string, name: string): Buffer {
  return readFileSync(join(__dirname, '../../fixtures/providers', provider, name));
}

/**
 * Drives a stream cut-off reader the way the cutter does: the first `count` events of `stream` are
 * read and accepted (relayed), then the closing events written. Returns what the client would get
 * (those events, then the closing ones) and the text the reader found in the relayed events.
 */
export function cutAfter(reader: CutoffStreamReader, stream: Buffer, count: number, tokens: CutoffTokens, elapsedMs = 0): { relayed: Buffer; text: string } {
  const frames: Buffer[] = [];
  reader.framer.push(stream, (frame) => frames.push(frame));
  let text = '';
  for (const frame of frames.slice(0, count)) {
    text += reader.read(frame);
    reader.accept();
  }
  return { relayed: Buffer.concat([...frames.slice(0, count), reader.closing(tokens, elapsedMs)]), text };
}

/** The cut-off reader for a response of this content type, failing the test when there is none. */
export function openCutoffReader(cutoff: StreamCutoff, prepared: PreparedRequest, contentType: string): CutoffStreamReader {
  const reader = cutoff.open(prepared, contentType);
  if (reader === null) throw new Error(`no cut-off reader for ${contentType}`);
  return reader;
}
