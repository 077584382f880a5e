// Test support: drives a ResponseObserver the way the proxy does, with the body cut into pieces.
import type { ObservedUsage, ResponseObserver } from '../usage-accounting';
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
  return { forwarded: Buffer.concat(out), result: observer.result() };
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
  return readFileSync(join(__dirname, '../../../../test/fixtures/providers', provider, name));
}
