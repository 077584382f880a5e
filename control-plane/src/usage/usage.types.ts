// GraphQL shapes of usage: the per-window view kept for older clients (UsageWindow) and the report
// (filter, grouping, granularity → rows of sums). Separate from the storage rows.
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { TimeUnit } from '../genai-service/provider';

const WOULD_HAVE_REFUSED = 'Requests admitted only because a budget that refused them is in shadow mode (enforce: false).';

@ObjectType('UsageWindow', { description: 'Tokens charged in one window (as reported by the proxies): a day where the rate-limit unit is DAY, an hour otherwise.' })
export class UsageWindowType {
  @Field({ description: 'Environment handle.' }) environment: string;
  @Field(() => TimeUnit) windowUnit: TimeUnit;
  @Field() windowStart: Date;
  @Field(() => Int) promptTokens: number;
  @Field(() => Int) completionTokens: number;
  @Field(() => Int) totalTokens: number;
  @Field(() => Int) requests: number;
  @Field(() => Int, { description: WOULD_HAVE_REFUSED }) wouldHaveRefused: number;
}

export enum UsageGranularity {
  MINUTE = 'MINUTE',
  HOUR = 'HOUR',
  DAY = 'DAY',
}

export enum UsageDimension {
  ENVIRONMENT = 'ENVIRONMENT',
  PROJECT = 'PROJECT',
  SERVICE = 'SERVICE',
  CONNECTION = 'CONNECTION',
  OPERATION = 'OPERATION',
  REQUEST_MODEL = 'REQUEST_MODEL',
  RESPONSE_MODEL = 'RESPONSE_MODEL',
}

registerEnumType(UsageGranularity, {
  name: 'UsageGranularity',
  description: 'Size of a time bucket (UTC calendar minutes, hours, days). MINUTE buckets are kept for 7 days; HOUR and DAY buckets are kept.',
});
registerEnumType(UsageDimension, { name: 'UsageDimension', description: 'A request dimension usage can be grouped by.' });

@InputType('UsageReportFilter', {
  description:
    'Narrows a usage report. Every given field must match (AND). Range: buckets overlapping [from, to) count whole; ' +
    'to defaults to now, from to 24 hours before to. A time series spans at most 1,500 buckets (25 hours of minutes, ' +
    '62 days of hours, about 4 years of days); a total at most 1,500 days.',
})
export class UsageReportFilter {
  @Field(() => Date, { nullable: true, description: 'Start of the range (inclusive).' }) from?: Date | null;
  @Field(() => Date, { nullable: true, description: 'End of the range (exclusive).' }) to?: Date | null;
  @Field(() => String, { nullable: true, description: 'Environment handle.' }) environment?: string | null;
  @Field(() => ID, { nullable: true }) projectId?: string | null;
  @Field(() => ID, { nullable: true }) serviceId?: string | null;
  @Field(() => ID, { nullable: true }) connectionId?: string | null;
  @Field(() => String, { nullable: true, description: 'Matches the request model or the response model.' }) model?: string | null;
  @Field(() => String, { nullable: true, description: 'e.g. chat_completions, completions, responses, embeddings, messages, count_tokens, converse, converse_stream, invoke, invoke_stream, other.' })
  operation?: string | null;
}

@InputType('UsageFilter', {
  description:
    'A UsageReportFilter with its scope: organizationId is required unless projectId, serviceId or connectionId is given ' +
    '(the scope is then that entity\'s organization; when both are given they must agree).',
})
export class UsageFilter extends UsageReportFilter {
  @Field(() => ID, { nullable: true }) organizationId?: string | null;
}

@ObjectType('UsageReportRow', { description: 'Sums over one group. A dimension field is null when the report is not grouped by it.' })
export class UsageReportRowType {
  @Field(() => Date, { nullable: true, description: 'Start of the time bucket; null when the report has no granularity (one total over the range).' })
  bucketStart: Date | null;
  @Field(() => String, { nullable: true, description: 'Environment handle.' }) environment: string | null;
  @Field(() => ID, { nullable: true, description: 'Null also when the project is unknown (a deleted connection).' }) projectId: string | null;
  @Field(() => ID, { nullable: true }) serviceId: string | null;
  @Field(() => ID, { nullable: true }) connectionId: string | null;
  @Field(() => String, { nullable: true, description: "'' when the proxy did not report it (versions before per-operation usage)." }) operation: string | null;
  @Field(() => String, { nullable: true, description: "'' when the request named no model." }) requestModel: string | null;
  @Field(() => String, { nullable: true, description: "'' when the response named no model." }) responseModel: string | null;
  // Sums are Float: exact integers up to 2^53, always a JSON number (Int overflows at 2^31).
  @Field(() => Float, { description: 'Every input token, cached ones included.' }) promptTokens: number;
  @Field(() => Float, { description: 'Reasoning tokens included.' }) completionTokens: number;
  @Field(() => Float) totalTokens: number;
  @Field(() => Float, { description: 'Part of promptTokens read from the provider\'s prompt cache.' }) cachedPromptReadTokens: number;
  @Field(() => Float, { description: 'Part of promptTokens written to the provider\'s prompt cache.' }) cachedPromptWriteTokens: number;
  @Field(() => Float, { description: 'Part of completionTokens spent reasoning, where the provider reports it.' }) reasoningTokens: number;
  @Field(() => Float) requests: number;
  @Field(() => Float, { description: 'Requests answered 4xx (by the provider or by a token budget).' }) errors4xx: number;
  @Field(() => Float, { description: 'Requests answered 5xx (provider errors, unreachable, timeouts).' }) errors5xx: number;
  @Field(() => Int, { description: WOULD_HAVE_REFUSED }) wouldHaveRefused: number;
}

@ObjectType('UsageReport')
export class UsageReportType {
  @Field({ description: 'Start of the range covered (aligned to whole buckets, so possibly earlier than asked).' }) from: Date;
  @Field({ description: 'End of the range covered (exclusive; aligned to whole buckets).' }) to: Date;
  @Field(() => UsageGranularity, { nullable: true }) granularity: UsageGranularity | null;
  @Field(() => [UsageReportRowType], { description: 'Ordered by bucketStart, then by the grouped dimensions. At most 10,000 rows.' })
  rows: UsageReportRowType[];
}
