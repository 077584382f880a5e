import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { USAGE_REPORT_DESCRIPTION, scopedUsageRequest } from '../usage/usage.resolver';
import { UsageDimension, UsageGranularity, UsageReportFilter, UsageReportType, UsageWindowType } from '../usage/usage.types';
import { DeploymentType } from '../deployment/deployment.types';
import { type RequestContext, requireActor } from '../graphql/context';
import { rateLimitType } from '../rate-limit/rate-limit-policy';
import type { GenAIServiceEntity } from './genai-service.entity';
import {
  ConfigureServiceEnvironmentInput,
  GenAIServiceType,
  MarketplaceFilter,
  RegisterGenAIServiceInput,
  ServiceEnvironmentConfigType,
  UpdateGenAIServiceInput,
} from './genai-service.types';
import { connectionQuotaOf, serviceBudgetOf } from './service-limits';

export function toServiceType(row: GenAIServiceEntity): GenAIServiceType {
  return Object.assign(new GenAIServiceType(), {
    id: row.id,
    organizationId: row.organizationId,
    projectId: row.projectId,
    scope: row.scope,
    provider: row.provider,
    name: row.name,
    contextPath: row.contextPath,
    serviceUrl: row.serviceUrl,
    summary: row.summary,
    description: row.description,
    labels: row.labels,
    marketplaceStatus: row.marketplaceStatus,
    removedAt: row.removedAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  });
}

@Resolver(() => GenAIServiceType)
export class GenAIServiceResolver {
  @Query(() => [GenAIServiceType], { description: 'Services registered in the organization (or in one of its projects), removed ones included.' })
  async genAIServices(
    @Arg('organizationId', () => ID) organizationId: string,
    @Arg('projectId', () => ID, { nullable: true }) projectId: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<GenAIServiceType[]> {
    return (await ctx.services.genAIServices.list(requireActor(ctx), organizationId, projectId)).map(toServiceType);
  }

  @Query(() => GenAIServiceType)
  async genAIService(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<GenAIServiceType> {
    return toServiceType(await ctx.services.genAIServices.get(requireActor(ctx), id));
  }

  @Query(() => [GenAIServiceType], { description: 'Published services visible from the organization or from one of its projects.' })
  async marketplace(
    @Arg('organizationId', () => ID) organizationId: string,
    @Arg('projectId', () => ID, { nullable: true }) projectId: string | null,
    @Arg('filter', () => MarketplaceFilter, { nullable: true }) filter: MarketplaceFilter | null,
    @Ctx() ctx: RequestContext,
  ): Promise<GenAIServiceType[]> {
    return (await ctx.services.marketplace.list(requireActor(ctx), organizationId, projectId, filter ?? {})).map(toServiceType);
  }

  @Query(() => [DeploymentType])
  async deployments(@Arg('serviceId', () => ID) serviceId: string, @Ctx() ctx: RequestContext): Promise<DeploymentType[]> {
    return ctx.services.deployments.forService(requireActor(ctx), serviceId);
  }

  @FieldResolver(() => [ServiceEnvironmentConfigType])
  async environmentConfigs(@Root() service: GenAIServiceType, @Ctx() ctx: RequestContext): Promise<ServiceEnvironmentConfigType[]> {
    const rows = await ctx.loaders.serviceConfigRows.load(service.id);
    return rows.map((row) => ({
      environment: row.environmentHandle,
      backendSecurity: {
        authType: row.authType,
        headerName: row.headerName,
        configured: row.credentialsSealed !== null,
        hint: row.credentialsHint,
        apiVersion: row.apiVersion,
        awsRegion: row.awsRegion,
      },
      rateLimit: rateLimitType(serviceBudgetOf(row)),
      connectionQuota: rateLimitType(connectionQuotaOf(row)),
      streamCutoff: row.streamCutoff,
      serviceUrl: row.serviceUrl,
      effectiveServiceUrl: row.serviceUrl ?? service.serviceUrl,
      updatedAt: row.updatedAt,
    }));
  }

  @FieldResolver(() => [DeploymentType], { name: 'deployments' })
  async serviceDeployments(@Root() service: GenAIServiceType, @Ctx() ctx: RequestContext): Promise<DeploymentType[]> {
    return ctx.loaders.serviceDeployments.load(service.id);
  }

  @FieldResolver(() => [UsageWindowType], { description: 'Tokens charged per window (a day where the rate-limit unit is DAY, an hour otherwise) over all connections, newest first.' })
  async usage(
    @Root() service: GenAIServiceType,
    @Arg('environment', () => String, { nullable: true }) environment: string | null,
    @Arg('limit', () => Int, { defaultValue: 50 }) limit: number,
    @Ctx() ctx: RequestContext,
  ): Promise<UsageWindowType[]> {
    return ctx.services.usage.windows(requireActor(ctx), { serviceId: service.id }, environment, limit);
  }

  @FieldResolver(() => UsageReportType, { description: `${USAGE_REPORT_DESCRIPTION} Scoped to this service.` })
  async usageReport(
    @Root() service: GenAIServiceType,
    @Arg('filter', () => UsageReportFilter, { nullable: true }) filter: UsageReportFilter | null,
    @Arg('groupBy', () => [UsageDimension], { nullable: true }) groupBy: UsageDimension[] | null,
    @Arg('granularity', () => UsageGranularity, { nullable: true }) granularity: UsageGranularity | null,
    @Ctx() ctx: RequestContext,
  ): Promise<UsageReportType> {
    return ctx.services.usage.report(requireActor(ctx), scopedUsageRequest({ serviceId: service.id }, filter, groupBy, granularity));
  }

  @Mutation(() => GenAIServiceType, { description: 'ADMIN or PLATFORM_ENGINEER. Publishes the service to the marketplace.' })
  async registerGenAIService(@Arg('input') input: RegisterGenAIServiceInput, @Ctx() ctx: RequestContext): Promise<GenAIServiceType> {
    return toServiceType(await ctx.services.genAIServices.register(requireActor(ctx), input));
  }

  @Mutation(() => GenAIServiceType)
  async updateGenAIService(@Arg('id', () => ID) id: string, @Arg('input') input: UpdateGenAIServiceInput, @Ctx() ctx: RequestContext): Promise<GenAIServiceType> {
    return toServiceType(await ctx.services.genAIServices.update(requireActor(ctx), id, input));
  }

  @Mutation(() => GenAIServiceType)
  async configureServiceEnvironment(
    @Arg('serviceId', () => ID) serviceId: string,
    @Arg('environment', { description: 'Environment handle.' }) environment: string,
    @Arg('input') input: ConfigureServiceEnvironmentInput,
    @Ctx() ctx: RequestContext,
  ): Promise<GenAIServiceType> {
    return toServiceType(await ctx.services.genAIServices.configureEnvironment(requireActor(ctx), serviceId, environment, input));
  }

  @Mutation(() => GenAIServiceType, { description: 'Hides the service and refuses new connections; existing connections keep working until deleted.' })
  async removeFromMarketplace(@Arg('serviceId', () => ID) serviceId: string, @Ctx() ctx: RequestContext): Promise<GenAIServiceType> {
    return toServiceType(await ctx.services.genAIServices.removeFromMarketplace(requireActor(ctx), serviceId));
  }
}
