import { loadConfigServiceContract } from '../config-stream/config-proto';
import type { UsageRecordMessage } from '../config-stream/snapshot.types';
import { usageRecordInput } from '../config-stream/usage-record-message';
import { cleanUsageRecord } from './usage-record';

const SERVICE = '6f1c1a52-8a4e-4d8e-9a51-0b7a4f3b9c01';
const CONNECTION = '1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b';

/** A DataPlaneMessage through the same proto and loader options the config stream uses, bytes and back. */
function overTheWire(message: Record<string, unknown>): { usage: { records: UsageRecordMessage[] } } {
  const method = loadConfigServiceContract().service.service.StreamConfig;
  return method.requestDeserialize(method.requestSerialize(message)) as { usage: { records: UsageRecordMessage[] } };
}

describe('usageRecordInput (the config stream) then usageRecordFromMessage', () => {
  it('reads every field of a current proxy\'s record as the loader decodes it', () => {
    const decoded = overTheWire({
      usage: {
        batch_id: 'p:1',
        records: [{
          service_id: SERVICE, connection_id: CONNECTION, window_unit: 'MINUTE', window_start: '2026-12-10T15:42:00.000Z',
          prompt_tokens: 120, completion_tokens: 30, total_tokens: 150, requests: 2, organization_id: 'org', project_id: 'proj',
          operation: 'chat_completions', request_model: 'gpt-4o', response_model: 'gpt-4o-2024-08-06',
          cached_prompt_read_tokens: 64, cached_prompt_write_tokens: 8, reasoning_tokens: 12, errors_4xx: 1, errors_5xx: 3, would_have_refused: 2,
        }],
      },
    });
    expect(usageRecordInput(decoded.usage.records[0])).toEqual({
      serviceId: SERVICE, connectionId: CONNECTION, windowUnit: 'MINUTE', windowStart: '2026-12-10T15:42:00.000Z',
      promptTokens: 120, completionTokens: 30, totalTokens: 150, requests: 2, organizationId: 'org', projectId: 'proj',
      operation: 'chat_completions', requestModel: 'gpt-4o', responseModel: 'gpt-4o-2024-08-06',
      cachedPromptReadTokens: 64, cachedPromptWriteTokens: 8, reasoningTokens: 12, errors4xx: 1, errors5xx: 3, wouldHaveRefused: 2,
    });
  });

  it('gives an older proxy\'s record empty dimensions and zero counts', () => {
    const decoded = overTheWire({ usage: { batch_id: 'p:1', records: [{ service_id: SERVICE, connection_id: CONNECTION, window_unit: 'HOUR', window_start: '2026-12-10T15:00:00.000Z', prompt_tokens: 5, completion_tokens: 1, total_tokens: 6, requests: 1 }] } });
    expect(usageRecordInput(decoded.usage.records[0])).toMatchObject({ windowUnit: 'HOUR', operation: '', requestModel: '', responseModel: '', projectId: '', cachedPromptReadTokens: 0, errors4xx: 0, errors5xx: 0, wouldHaveRefused: 0 });
  });
});

describe('cleanUsageRecord', () => {
  const base = { serviceId: SERVICE, connectionId: CONNECTION, windowUnit: 'MINUTE', windowStart: '2026-12-10T15:42:00.000Z', promptTokens: 10, completionTokens: 5, totalTokens: 15, requests: 1 };

  it('drops records it cannot attribute', () => {
    expect(cleanUsageRecord({ ...base, serviceId: 'not-a-uuid' })).toBeNull();
    expect(cleanUsageRecord({ ...base, connectionId: '' })).toBeNull();
    expect(cleanUsageRecord({ ...base, windowUnit: 'TIME_UNIT_UNSPECIFIED' })).toBeNull();
    expect(cleanUsageRecord({ ...base, windowStart: 'yesterday' })).toBeNull();
  });

  it('bounds what a client controls and keeps counts non-negative integers', () => {
    const clean = cleanUsageRecord({ ...base, requestModel: `gpt\u0000-4o${'x'.repeat(300)}`, operation: 'DROP TABLE', projectId: 'nope', promptTokens: -4, reasoningTokens: Number.NaN, errors5xx: 2.7 });
    expect(clean).toMatchObject({ operation: 'other', projectId: null, promptTokens: 0, reasoningTokens: 0, errors5xx: 2, unitRank: 0 });
    expect(clean?.requestModel).toHaveLength(200);
    expect(clean?.requestModel.startsWith('gpt-4o')).toBe(true);
    expect(cleanUsageRecord({ ...base, operation: '' })?.operation).toBe('');
    expect(cleanUsageRecord({ ...base, operation: 'converse_stream', windowUnit: 'DAY' })).toMatchObject({ operation: 'converse_stream', unitRank: 2 });
  });
});
