import { Arg, Ctx, FieldResolver, Mutation, Query, Resolver, Root } from 'type-graphql';
import { type RequestContext, requireActor } from '../graphql/context';
import { ProjectType } from '../project/project.types';
import { USAGE_REPORT_DESCRIPTION, scopedUsageRequest } from '../usage/usage.resolver';
import { UsageDimension, UsageGranularity, UsageReportFilter, UsageReportType } from '../usage/usage.types';
import { CreateOrganizationInput, MembershipType, OrganizationType, ViewerType } from './organization.types';

@Resolver(() => OrganizationType)
export class OrganizationResolver {
  @Query(() => ViewerType, { description: 'The caller: user, installation-admin flag and memberships.' })
  async viewer(@Ctx() ctx: RequestContext): Promise<ViewerType> {
    const actor = requireActor(ctx);
    const organizations = await ctx.services.organizations.list(actor);
    const user = await ctx.services.organizations.user(actor.userId);
    const userType = { id: user.id, email: user.email, name: user.name };
    const memberships: MembershipType[] = organizations
      .filter((o) => actor.roleIn(o.id))
      .map((o) => ({ organization: OrganizationType.from(o), user: userType, role: actor.roleIn(o.id)! }));
    return { user: userType, isInstallationAdmin: actor.isInstallationAdmin, memberships };
  }

  @Query(() => [OrganizationType])
  async organizations(@Ctx() ctx: RequestContext): Promise<OrganizationType[]> {
    return (await ctx.services.organizations.list(requireActor(ctx))).map(OrganizationType.from);
  }

  @Query(() => OrganizationType)
  async organization(@Arg('handle') handle: string, @Ctx() ctx: RequestContext): Promise<OrganizationType> {
    return OrganizationType.from(await ctx.services.organizations.byHandle(requireActor(ctx), handle));
  }

  @FieldResolver(() => [ProjectType])
  async projects(@Root() organization: OrganizationType, @Ctx() ctx: RequestContext): Promise<ProjectType[]> {
    return (await ctx.services.projects.list(requireActor(ctx), organization.id)).map(ProjectType.from);
  }

  @FieldResolver(() => UsageReportType, { description: `${USAGE_REPORT_DESCRIPTION} Scoped to this organization.` })
  async usageReport(
    @Root() organization: OrganizationType,
    @Arg('filter', () => UsageReportFilter, { nullable: true }) filter: UsageReportFilter | null,
    @Arg('groupBy', () => [UsageDimension], { nullable: true }) groupBy: UsageDimension[] | null,
    @Arg('granularity', () => UsageGranularity, { nullable: true }) granularity: UsageGranularity | null,
    @Ctx() ctx: RequestContext,
  ): Promise<UsageReportType> {
    return ctx.services.usage.report(requireActor(ctx), scopedUsageRequest({ organizationId: organization.id }, filter, groupBy, granularity));
  }

  @Mutation(() => OrganizationType, { description: 'Installation admins only.' })
  async createOrganization(@Arg('input') input: CreateOrganizationInput, @Ctx() ctx: RequestContext): Promise<OrganizationType> {
    return OrganizationType.from(await ctx.services.organizations.create(requireActor(ctx), input));
  }
}
