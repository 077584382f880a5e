import { loadConfigServiceContract } from './config-proto';
import { encodeSnapshotMessage, encodeSnapshotPages } from './snapshot-encoder';
import type { BuiltSnapshot } from './snapshot.types';

const contract = loadConfigServiceContract();
const decode = (bytes: Buffer) => contract.service.service.StreamConfig.responseDeserialize(bytes) as unknown;

function snapshotWith(keys: number): BuiltSnapshot {
  return {
    revision: 4242,
    environment: 'production',
    generated_at: '2026-12-06T00:00:00.000Z',
    services: [{ id: 's1', organization_handle: 'acme', context_path: '/openai', provider: 'OPENAI', upstream_url: 'https://api.openai.com/v1', name: 'OpenAI', organization_id: 'o1', backend_auth: { api_key: { header_name: 'Authorization', header_value: 'Bearer sk', api_version: '' } } }],
    consumer_keys: Array.from({ length: keys }, (_, n) => ({ key_hash: n.toString(16).padStart(64, '0'), connection_id: `c${n}`, service_id: 's1', project_id: 'p1' })),
  };
}

it.each([0, 1, 10_000, 25_001])('encodes a snapshot of %i keys in slices to what one encode gives', async (keys) => {
  const snapshot = snapshotWith(keys);
  const sliced = await encodeSnapshotMessage(snapshot, contract.encodeResponse);
  const whole = contract.encodeResponse({ snapshot });
  expect(sliced.length).toBe(whole.length);
  expect(decode(sliced)).toEqual(decode(whole));
});

it('encodes keys arriving in pages (as read from the database) to the same message', async () => {
  const snapshot = snapshotWith(25_001);
  const keys = snapshot.consumer_keys;
  async function* pages() {
    for (const [start, end] of [[0, 7], [7, 10_007], [10_007, 25_001]]) yield keys.slice(start, end);
  }
  const paged = await encodeSnapshotPages({ ...snapshot, consumer_keys: [] }, pages(), contract.encodeResponse);
  expect(decode(paged)).toEqual(decode(contract.encodeResponse({ snapshot })));
});
