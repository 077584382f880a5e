// The generated types (wire-types.ts) describe what the loader really decodes with the shared options.
import { loadConfigServiceContract } from './config-proto';
import { apiKeyAuth, consumerKeyFixture, rateLimitFixture, serviceFixture, snapshotFixture } from '../../../test/support/data-plane/snapshot-fixtures';

const contract = loadConfigServiceContract();

it('decodes a snapshot into the generated shape (strings for uint64, enum names, null sub-messages, oneof name)', () => {
  const sent = snapshotFixture({
    revision: '12345678901234567890',
    services: [serviceFixture({ id: 'a', rate_limit: rateLimitFixture() }), serviceFixture({ id: 'b', backend_auth: null, provider: 'AWS_BEDROCK' })],
    consumerKeys: [consumerKeyFixture('k', 'a')],
  });
  const decoded = contract.streamConfig.deserializeResponse(contract.streamConfig.serializeResponse({ snapshot: sent }));
  expect(decoded.message).toBe('snapshot');
  expect(decoded.snapshot).toEqual({ ...sent, services: [{ ...sent.services[0], backend_auth: apiKeyAuth('Authorization', 'Bearer sk-upstream-secret') }, sent.services[1]] });
});

it('decodes a delta with every list present, empty ones included', () => {
  const decoded = contract.streamConfig.deserializeResponse(contract.streamConfig.serializeResponse({ delta: { base_revision: '4', revision: '9', removed_key_hashes: ['ab'] } }));
  expect(decoded).toEqual({
    message: 'delta',
    delta: { base_revision: '4', revision: '9', upserted_services: [], removed_service_ids: [], upserted_keys: [], removed_key_hashes: ['ab'] },
  });
});

it('encodes what the proxy sends', () => {
  const bytes = contract.streamConfig.serializeRequest({ nack: { revision: '18446744073709551615', reason: 'why' } });
  expect(contract.streamConfig.deserializeRequest(bytes)).toEqual({ nack: { revision: '18446744073709551615', reason: 'why' }, message: 'nack' });
  const resync = contract.streamConfig.serializeRequest({ resync: { applied_revision: '3', reason: 'gap' } });
  expect(contract.streamConfig.deserializeRequest(resync)).toEqual({ resync: { applied_revision: '3', reason: 'gap' }, message: 'resync' });
});
