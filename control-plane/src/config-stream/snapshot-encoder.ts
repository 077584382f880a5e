// Encodes a large snapshot as a ControlPlaneMessage in slices, yielding to the event loop between
// them: one synchronous encode of 200,000 keys holds the control plane's event loop for seconds
// (GraphQL, ACKs and deltas to other proxies all wait). Protobuf allows it: a message's encoding is
// the concatenation of its fields' encodings, and the entries of a repeated field may be encoded in
// any number of pieces, so Snapshot = encode(Snapshot without keys) + encode({consumer_keys: slice})…
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { BuiltSnapshot, ControlPlaneMessage, SnapshotConsumerKey } from './snapshot.types';

/** Keys encoded between two yields. */
const KEYS_PER_SLICE = 10_000;

/** ControlPlaneMessage field 1 (snapshot), wire type 2 (length-delimited). */
const SNAPSHOT_FIELD_TAG = (1 << 3) | 2;

/** The bytes of the Snapshot inside `{snapshot: …}` as `encode` wrote it (tag, length, then these). */
function snapshotBytes(encoded: Buffer): Buffer {
  if (encoded.length === 0) return encoded; // an empty Snapshot is not written at all
  if (encoded[0] !== SNAPSHOT_FIELD_TAG) throw new Error('unexpected encoding of a ControlPlaneMessage snapshot');
  let offset = 1;
  while (encoded[offset] & 0x80) offset += 1;
  return encoded.subarray(offset + 1);
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest > 0x7f) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/**
 * The same bytes (up to field order, which decoders ignore) as `encode({snapshot})`, produced
 * KEYS_PER_SLICE keys at a time. `encode` is the service's ControlPlaneMessage serializer.
 */
export function encodeSnapshotMessage(snapshot: BuiltSnapshot, encode: (message: ControlPlaneMessage) => Buffer): Promise<Buffer> {
  return encodeSnapshotPages({ ...snapshot, consumer_keys: [] }, [snapshot.consumer_keys], encode);
}

/**
 * The same, with the keys arriving in pages (read from the database a page at a time): only the
 * encoded bytes of the keys read so far are held, never all their message objects at once.
 */
export async function encodeSnapshotPages(
  head: BuiltSnapshot,
  pages: Iterable<SnapshotConsumerKey[]> | AsyncIterable<SnapshotConsumerKey[]>,
  encode: (message: ControlPlaneMessage) => Buffer,
): Promise<Buffer> {
  const parts: Buffer[] = [snapshotBytes(encode({ snapshot: { ...head, consumer_keys: [] } }))];
  for await (const page of pages) {
    for (let start = 0; start < page.length; start += KEYS_PER_SLICE) {
      if (parts.length > 1) await yieldToEventLoop();
      parts.push(snapshotBytes(encode({ snapshot: { consumer_keys: page.slice(start, start + KEYS_PER_SLICE) } })));
    }
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([SNAPSHOT_FIELD_TAG]), varint(body.length), body]);
}
