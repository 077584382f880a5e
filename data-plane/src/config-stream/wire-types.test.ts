// wire-types.ts is hand-written; this keeps it honest against the proto the loader actually reads.
import { loadSync } from '@grpc/proto-loader';
import type { ConsumerKeyMessage, HelloMessage, ServiceMessage, SnapshotMessage, UsageRecordMessage } from './wire-types';
import { CONFIG_PROTO_LOADER_OPTIONS, loadConfigServiceContract } from './config-proto';
import { apiKeyAuth, consumerKeyFixture, rateLimitFixture, serviceFixture, snapshotFixture } from '../testing/snapshot-fixtures';

interface MessageTypeDefinition {
  format: string;
  type: { field: Array<{ name: string }> };
}

const contract = loadConfigServiceContract();
const definition = loadSync(contract.protoPath, CONFIG_PROTO_LOADER_OPTIONS);

function protoFields(message: string): string[] {
  return (definition[`tokengate.v1.${message}`] as unknown as MessageTypeDefinition).type.field.map((field) => field.name).sort();
}

// Objects with every key of the TypeScript interface (the compiler checks completeness).
const hello: Record<keyof HelloMessage, true> = { proxy_id: true, environment: true, version: true, last_applied_revision: true };
const service: Record<keyof ServiceMessage, true> = {
  id: true, organization_handle: true, context_path: true, provider: true, upstream_url: true, backend_auth: true, rate_limit: true, marketplace_removed: true, name: true, organization_id: true,
};
const snapshot: Record<keyof SnapshotMessage, true> = { revision: true, environment: true, services: true, consumer_keys: true, generated_at: true };
const consumerKey: Record<keyof ConsumerKeyMessage, true> = { key_hash: true, connection_id: true, service_id: true, project_id: true };
const usageRecord: Record<keyof UsageRecordMessage, true> = {
  service_id: true, connection_id: true, window_unit: true, window_start: true, prompt_tokens: true, completion_tokens: true, total_tokens: true, requests: true,
  organization_id: true, project_id: true, operation: true, request_model: true, response_model: true, cached_prompt_read_tokens: true,
  cached_prompt_write_tokens: true, reasoning_tokens: true, errors_4xx: true, errors_5xx: true,
};

it.each<[string, Record<string, true>]>([
  ['Hello', hello],
  ['Service', service],
  ['Snapshot', snapshot],
  ['ConsumerKey', consumerKey],
  ['UsageRecord', usageRecord],
])('the %s interface has exactly the proto fields', (message, fields) => {
  expect(Object.keys(fields).sort()).toEqual(protoFields(message));
});

it('decodes a snapshot into the documented shape (strings for uint64, enum names, null sub-messages, oneof name)', () => {
  const sent = snapshotFixture({
    revision: '12345678901234567890',
    services: [serviceFixture({ id: 'a', rate_limit: rateLimitFixture() }), serviceFixture({ id: 'b', backend_auth: null, provider: 'AWS_BEDROCK' })],
    consumerKeys: [consumerKeyFixture('k', 'a')],
  });
  const decoded = contract.streamConfig.deserializeResponse(contract.streamConfig.serializeResponse({ snapshot: sent }));
  expect(decoded.message).toBe('snapshot');
  expect(decoded.snapshot).toEqual({ ...sent, services: [{ ...sent.services[0], backend_auth: apiKeyAuth('Authorization', 'Bearer sk-upstream-secret') }, sent.services[1]] });
});

it('encodes what the proxy sends', () => {
  const bytes = contract.streamConfig.serializeRequest({ nack: { revision: '18446744073709551615', reason: 'why' } });
  expect(contract.streamConfig.deserializeRequest(bytes)).toEqual({ nack: { revision: '18446744073709551615', reason: 'why' }, message: 'nack' });
});
