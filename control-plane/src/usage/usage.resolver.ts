// The root `usage` report, and the helper the scoped `usageReport` fields of Organization, Project,
// GenAIService and Connection share.
import { Arg, Ctx, FieldResolver, Query, Resolver, Root } from 'type-graphql';
import { badUserInput } from '../common/errors';
import { type RequestContext, requireActor } from '../graphql/context';
import type { UsageReportRequest } from './usage.service';
import { UsageDimension, UsageFilter, UsageGranularity, type UsageReportFilter, UsageReportRowType, UsageReportType } from './usage.types';

export const USAGE_REPORT_DESCRIPTION =
  'Token usage summed per time bucket (granularity; none: one total over the range) and per grouped dimension. ' +
  'ADMINs and PLATFORM_ENGINEERs read the whole organization; others the connections of the projects they can see.';

type ImpliedScope = { organizationId: string } | { projectId: string } | { serviceId: string } | { connectionId: string };

/** A scoped field's request: its filter narrowed to the entity it belongs to (a different id there is a mistake, not an empty report). */
export function scopedUsageRequest(
  scope: ImpliedScope,
  filter: UsageReportFilter | null,
  groupBy: UsageDimension[] | null,
  granularity: UsageGranularity | null,
): UsageReportRequest {
  const given = (filter ?? {}) as Record<string, unknown>;
  for (const [key, id] of Object.entries(scope)) {
    if (given[key] != null && given[key] !== id) throw badUserInput(`filter.${key}`, `this report is already scoped to ${key} ${id}`);
  }
  return { filter: { ...filter, ...scope }, groupBy, granularity };
}

@Resolver()
export class UsageResolver {
  @Query(() => UsageReportType, { description: USAGE_REPORT_DESCRIPTION })
  async usage(
    @Arg('filter', () => UsageFilter) filter: UsageFilter,
    @Arg('groupBy', () => [UsageDimension], { nullable: true }) groupBy: UsageDimension[] | null,
    @Arg('granularity', () => UsageGranularity, { nullable: true }) granularity: UsageGranularity | null,
    @Ctx() ctx: RequestContext,
  ): Promise<UsageReportType> {
    return ctx.services.usage.report(requireActor(ctx), { filter, groupBy, granularity });
  }
}

@Resolver(() => UsageReportRowType)
export class UsageReportRowResolver {
  // The name only where the caller may read the connection itself (as `connection(id)` decides), one
  // query for every row of the report (request loader).
  @FieldResolver(() => String, {
    nullable: true,
    description: 'Name of the connection when the report is grouped by CONNECTION; null otherwise, and when the connection has been deleted.',
  })
  async connectionName(@Root() row: UsageReportRowType, @Ctx() ctx: RequestContext): Promise<string | null> {
    if (row.connectionId === null) return null;
    const connection = await ctx.loaders.connection.load(row.connectionId);
    return connection !== null && requireActor(ctx).canRead(connection.organizationId) ? connection.name : null;
  }
}
