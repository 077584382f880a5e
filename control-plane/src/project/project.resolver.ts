import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { type RequestContext, requireActor } from '../graphql/context';
import { USAGE_REPORT_DESCRIPTION, scopedUsageRequest } from '../usage/usage.resolver';
import { UsageDimension, UsageGranularity, UsageReportFilter, UsageReportType } from '../usage/usage.types';
import { CreateProjectInput, ProjectType } from './project.types';

@Resolver(() => ProjectType)
export class ProjectResolver {
  @Query(() => [ProjectType])
  async projects(@Arg('organizationId', () => ID) organizationId: string, @Ctx() ctx: RequestContext): Promise<ProjectType[]> {
    return (await ctx.services.projects.list(requireActor(ctx), organizationId)).map(ProjectType.from);
  }

  @FieldResolver(() => UsageReportType, { description: `${USAGE_REPORT_DESCRIPTION} Scoped to this project.` })
  async usageReport(
    @Root() project: ProjectType,
    @Arg('filter', () => UsageReportFilter, { nullable: true }) filter: UsageReportFilter | null,
    @Arg('groupBy', () => [UsageDimension], { nullable: true }) groupBy: UsageDimension[] | null,
    @Arg('granularity', () => UsageGranularity, { nullable: true }) granularity: UsageGranularity | null,
    @Ctx() ctx: RequestContext,
  ): Promise<UsageReportType> {
    return ctx.services.usage.report(requireActor(ctx), scopedUsageRequest({ projectId: project.id }, filter, groupBy, granularity));
  }

  @Mutation(() => ProjectType, { description: 'Organization ADMINs only.' })
  async createProject(@Arg('input') input: CreateProjectInput, @Ctx() ctx: RequestContext): Promise<ProjectType> {
    return ProjectType.from(await ctx.services.projects.create(requireActor(ctx), input));
  }
}
