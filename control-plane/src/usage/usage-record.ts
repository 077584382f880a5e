// One usage record as a proxy reports it (proto tokengate.v1.UsageRecord), and its clean-up before
// storage: whatever a proxy sends, a batch must store or drop cleanly, never fail (a proxy would be
// stuck re-sending it).
import { isUuid } from '../common/lookup';

export type UsageGranularityName = 'MINUTE' | 'HOUR' | 'DAY';

/** Fields as the control plane's proto loader delivers them; those added later are optional (older proxies and callers). */
export interface UsageRecordInput {
  serviceId: string;
  connectionId: string;
  /** MINUTE from current proxies; older ones sent their rate-limit unit. */
  windowUnit: string;
  windowStart: string;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  requests: number;
  /** Ignored: tenancy comes from the service row, never from the proxy. */
  organizationId?: string;
  /** Used only when the connection no longer exists, and only if it is a project of the service's organization. */
  projectId?: string;
  operation?: string;
  requestModel?: string;
  responseModel?: string;
  cachedPromptReadTokens?: number;
  cachedPromptWriteTokens?: number;
  reasoningTokens?: number;
  errors4xx?: number;
  errors5xx?: number;
  /** Requests admitted only because a budget that refused them is in shadow mode. */
  wouldHaveRefused?: number;
}

/** A record ready for the upsert: ids checked, counts non-negative integers, texts bounded. */
export interface CleanUsageRecord {
  serviceId: string;
  connectionId: string;
  /** 0 MINUTE, 1 HOUR, 2 DAY: the record is added to buckets of this granularity and every coarser one. */
  unitRank: number;
  windowStart: Date;
  projectId: string | null;
  operation: string;
  requestModel: string;
  responseModel: string;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  cachedPromptReadTokens: number;
  cachedPromptWriteTokens: number;
  reasoningTokens: number;
  requests: number;
  errors4xx: number;
  errors5xx: number;
  wouldHaveRefused: number;
}

export const GRANULARITIES: readonly UsageGranularityName[] = ['MINUTE', 'HOUR', 'DAY'];
export const MAX_MODEL_LENGTH = 200;
export const MAX_OPERATION_LENGTH = 64;
/** Operation names are the proxy's own vocabulary (chat_completions, converse_stream, ...); anything else is 'other'. */
const OPERATION = /^[a-z0-9_]{1,64}$/;

/**
 * Maps a decoded UsageRecord message explicitly. protobufjs camel-cases `errors_4xx` only up to the
 * digit, so those two arrive as `errors_4xx` / `errors_5xx`.
 */
export function usageRecordFromMessage(message: unknown): UsageRecordInput {
  const m = (typeof message === 'object' && message !== null ? message : {}) as Record<string, unknown>;
  const textAt = (key: string): string => (typeof m[key] === 'string' ? (m[key] as string) : '');
  const numberAt = (key: string): number => (typeof m[key] === 'number' ? (m[key] as number) : Number(m[key] ?? 0));
  return {
    serviceId: textAt('serviceId'),
    connectionId: textAt('connectionId'),
    windowUnit: textAt('windowUnit'),
    windowStart: textAt('windowStart'),
    promptTokens: numberAt('promptTokens'),
    completionTokens: numberAt('completionTokens'),
    totalTokens: numberAt('totalTokens'),
    requests: numberAt('requests'),
    organizationId: textAt('organizationId'),
    projectId: textAt('projectId'),
    operation: textAt('operation'),
    requestModel: textAt('requestModel'),
    responseModel: textAt('responseModel'),
    cachedPromptReadTokens: numberAt('cachedPromptReadTokens'),
    cachedPromptWriteTokens: numberAt('cachedPromptWriteTokens'),
    reasoningTokens: numberAt('reasoningTokens'),
    errors4xx: numberAt('errors_4xx'),
    errors5xx: numberAt('errors_5xx'),
    wouldHaveRefused: numberAt('wouldHaveRefused'),
  };
}

function count(value: number | undefined): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

/** PostgreSQL text cannot hold NUL; a model name is the client's free text, so it is also bounded. */
function boundedText(value: string | undefined, max: number): string {
  return (value ?? '').replaceAll('\u0000', '').slice(0, max);
}

/** The record ready to store, or null when it cannot be attributed (malformed ids, unit or start). */
export function cleanUsageRecord(record: UsageRecordInput): CleanUsageRecord | null {
  const unitRank = GRANULARITIES.indexOf(record.windowUnit as UsageGranularityName);
  const windowStart = new Date(record.windowStart);
  if (!isUuid(record.serviceId) || !isUuid(record.connectionId) || unitRank < 0 || Number.isNaN(windowStart.getTime())) return null;
  const operation = record.operation ?? '';
  return {
    serviceId: record.serviceId.toLowerCase(),
    connectionId: record.connectionId.toLowerCase(),
    unitRank,
    windowStart,
    projectId: record.projectId && isUuid(record.projectId) ? record.projectId.toLowerCase() : null,
    // '' is what proxies older than the operation field send: kept apart from 'other'.
    operation: operation === '' || OPERATION.test(operation) ? operation : 'other',
    requestModel: boundedText(record.requestModel, MAX_MODEL_LENGTH),
    responseModel: boundedText(record.responseModel, MAX_MODEL_LENGTH),
    promptTokens: count(record.promptTokens),
    completionTokens: count(record.completionTokens),
    totalTokens: count(record.totalTokens),
    cachedPromptReadTokens: count(record.cachedPromptReadTokens),
    cachedPromptWriteTokens: count(record.cachedPromptWriteTokens),
    reasoningTokens: count(record.reasoningTokens),
    requests: count(record.requests),
    errors4xx: count(record.errors4xx),
    errors5xx: count(record.errors5xx),
    wouldHaveRefused: count(record.wouldHaveRefused),
  };
}
