import { Arg, Ctx, ID, Int, Query, Resolver } from 'type-graphql';
import { type RequestContext, requireActor } from '../graphql/context';
import { AuditEventType } from './audit.types';

@Resolver(() => AuditEventType)
export class AuditResolver {
  @Query(() => [AuditEventType], { description: 'Newest first. Organization ADMINs only.' })
  async auditEvents(
    @Arg('organizationId', () => ID) organizationId: string,
    @Arg('limit', () => Int, { defaultValue: 100 }) limit: number,
    @Ctx() ctx: RequestContext,
  ): Promise<AuditEventType[]> {
    return ctx.services.audit.list(requireActor(ctx), organizationId, limit);
  }
}
