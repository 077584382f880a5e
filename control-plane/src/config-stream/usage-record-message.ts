// A proto UsageRecord as the config stream decodes it (snake_case, uint64 as decimal strings), in the
// shape usage storage reads; usageRecordFromMessage then cleans it like any other input.
import { type UsageRecordInput, usageRecordFromMessage } from '../usage/usage-record';
import type { UsageRecordMessage } from './snapshot.types';

export function usageRecordInput(record: UsageRecordMessage): UsageRecordInput {
  return usageRecordFromMessage({
    serviceId: record.service_id,
    connectionId: record.connection_id,
    windowUnit: record.window_unit,
    windowStart: record.window_start,
    promptTokens: Number(record.prompt_tokens),
    completionTokens: Number(record.completion_tokens),
    totalTokens: Number(record.total_tokens),
    requests: Number(record.requests),
    organizationId: record.organization_id,
    projectId: record.project_id,
    operation: record.operation,
    requestModel: record.request_model,
    responseModel: record.response_model,
    cachedPromptReadTokens: Number(record.cached_prompt_read_tokens),
    cachedPromptWriteTokens: Number(record.cached_prompt_write_tokens),
    reasoningTokens: Number(record.reasoning_tokens),
    errors_4xx: Number(record.errors_4xx),
    errors_5xx: Number(record.errors_5xx),
    wouldHaveRefused: Number(record.would_have_refused),
  });
}
