import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { notFound } from '../common/errors';
import { USAGE_REPORT_DESCRIPTION, scopedUsageRequest } from '../usage/usage.resolver';
import { UsageDimension, UsageGranularity, UsageReportFilter, UsageReportType, UsageWindowType } from '../usage/usage.types';
import { toServiceType } from '../genai-service/genai-service.resolver';
import { GenAIServiceType, RateLimitInput } from '../genai-service/genai-service.types';
import { type RequestContext, requireActor } from '../graphql/context';
import { ConnectionBudgetType } from './connection-quota.types';
import type { ConnectionEntity } from './connection.entity';
import { MAX_CONNECTIONS_PAGE } from './connection.service';
import { ConnectionEnvironmentType, ConnectionType, CreateConnectionInput, CreateConnectionPayload, IssuedConnectionKeyType } from './connection.types';

function toConnectionType(row: ConnectionEntity): ConnectionType {
  return Object.assign(new ConnectionType(), {
    id: row.id,
    organizationId: row.organizationId,
    projectId: row.projectId,
    serviceId: row.serviceId,
    name: row.name,
    description: row.description,
    createdAt: row.createdAt,
  });
}

/**
 * The connection a field resolver hangs off, read again as ConnectionService.get does (NOT_FOUND when
 * gone or not readable), but through the request's loader: one query for a whole list's connections.
 */
async function readableConnection(ctx: RequestContext, id: string): Promise<ConnectionEntity> {
  const row = await ctx.loaders.connection.load(id);
  if (row === null || !requireActor(ctx).canRead(row.organizationId)) throw notFound('connection', id);
  return row;
}

@Resolver(() => ConnectionType)
export class ConnectionResolver {
  @Query(() => [ConnectionType], { description: "The project's connections, oldest first: all of them, or one page with `first` (and `after`)." })
  async connections(
    @Arg('projectId', () => ID) projectId: string,
    @Arg('first', () => Int, { nullable: true, description: `At most this many (1 to ${MAX_CONNECTIONS_PAGE}); omitted: every connection.` }) first: number | null,
    @Arg('after', () => ID, { nullable: true, description: "Starts after this connection: the id of the previous page's last one." }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<ConnectionType[]> {
    return (await ctx.services.connections.list(requireActor(ctx), projectId, { first: first ?? null, after: after ?? null })).map(toConnectionType);
  }

  @Query(() => ConnectionType)
  async connection(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<ConnectionType> {
    return toConnectionType(await ctx.services.connections.get(requireActor(ctx), id));
  }

  @FieldResolver(() => GenAIServiceType)
  async service(@Root() connection: ConnectionType, @Ctx() ctx: RequestContext): Promise<GenAIServiceType> {
    const row = await readableConnection(ctx, connection.id);
    const service = await ctx.loaders.service.load(row.serviceId);
    if (service === null || !requireActor(ctx).canRead(service.organizationId)) throw notFound('GenAI service', row.serviceId);
    return toServiceType(service);
  }

  @FieldResolver(() => [ConnectionEnvironmentType])
  async environments(@Root() connection: ConnectionType, @Ctx() ctx: RequestContext): Promise<ConnectionEnvironmentType[]> {
    return ctx.services.connections.environments(await readableConnection(ctx, connection.id), ctx.loaders);
  }

  @FieldResolver(() => [ConnectionBudgetType], {
    description:
      "The budgets that apply to the connection now, per environment and dimension: the service's shared budget (SERVICE) and the connection's quota, with what the current window has used. Readable by whoever can read the connection.",
  })
  async budgets(
    @Root() connection: ConnectionType,
    @Arg('environment', () => String, { nullable: true, description: 'Environment handle; all environments when omitted.' }) environment: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<ConnectionBudgetType[]> {
    return ctx.services.connectionQuotas.budgets(await ctx.services.connections.get(requireActor(ctx), connection.id), environment ?? null);
  }

  @FieldResolver(() => [UsageWindowType], { description: 'Tokens this connection was charged per window (a day where the rate-limit unit is DAY, an hour otherwise), newest first.' })
  async usage(
    @Root() connection: ConnectionType,
    @Arg('environment', () => String, { nullable: true }) environment: string | null,
    @Arg('limit', () => Int, { defaultValue: 50 }) limit: number,
    @Ctx() ctx: RequestContext,
  ): Promise<UsageWindowType[]> {
    return ctx.services.usage.windows(requireActor(ctx), { connectionId: connection.id }, environment, limit);
  }

  @FieldResolver(() => UsageReportType, { description: `${USAGE_REPORT_DESCRIPTION} Scoped to this connection.` })
  async usageReport(
    @Root() connection: ConnectionType,
    @Arg('filter', () => UsageReportFilter, { nullable: true }) filter: UsageReportFilter | null,
    @Arg('groupBy', () => [UsageDimension], { nullable: true }) groupBy: UsageDimension[] | null,
    @Arg('granularity', () => UsageGranularity, { nullable: true }) granularity: UsageGranularity | null,
    @Ctx() ctx: RequestContext,
  ): Promise<UsageReportType> {
    return ctx.services.usage.report(requireActor(ctx), scopedUsageRequest({ connectionId: connection.id }, filter, groupBy, granularity));
  }

  @Mutation(() => CreateConnectionPayload, { description: 'Issues one consumer key per environment; the keys are shown only in this response.' })
  async createConnection(@Arg('input') input: CreateConnectionInput, @Ctx() ctx: RequestContext): Promise<CreateConnectionPayload> {
    const { connection, keys } = await ctx.services.connections.create(requireActor(ctx), input);
    return { connection: toConnectionType(connection), keys };
  }

  @Mutation(() => IssuedConnectionKeyType, {
    description:
      'Replaces the key of one environment. Without graceSeconds the old key stops working with the next snapshot; with it, the old key keeps working that long (at most 7 days) beside the new one, then every proxy refuses it. A key still in an earlier grace period is revoked.',
  })
  async rotateConnectionKey(
    @Arg('connectionId', () => ID) connectionId: string,
    @Arg('environment') environment: string,
    @Arg('graceSeconds', () => Int, { nullable: true, description: 'How long the replaced key keeps working: 0 (default) to 604800 (7 days).' }) graceSeconds: number | null,
    @Ctx() ctx: RequestContext,
  ): Promise<IssuedConnectionKeyType> {
    return ctx.services.connections.rotateKey(requireActor(ctx), connectionId, environment, graceSeconds ?? 0);
  }

  @Mutation(() => ConnectionType, {
    description:
      "ADMIN or PLATFORM_ENGINEER. Sets the connection's own quota in one environment, replacing the service's default connection quota (higher or lower); a quota without any max makes the connection unlimited there; quota: null removes the override (the service's default applies again).",
  })
  async setConnectionQuota(
    @Arg('connectionId', () => ID) connectionId: string,
    @Arg('environment', { description: 'Environment handle.' }) environment: string,
    @Arg('quota', () => RateLimitInput, { nullable: true }) quota: RateLimitInput | null,
    @Ctx() ctx: RequestContext,
  ): Promise<ConnectionType> {
    return toConnectionType(await ctx.services.connectionQuotas.setQuota(requireActor(ctx), connectionId, environment, quota ?? null));
  }

  @Mutation(() => Boolean, { description: 'Deletes the connection; its keys stop working with the next snapshot.' })
  async deleteConnection(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    await ctx.services.connections.delete(requireActor(ctx), id);
    return true;
  }
}
