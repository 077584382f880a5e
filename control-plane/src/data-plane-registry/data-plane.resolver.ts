import { Arg, Ctx, Query, Resolver } from 'type-graphql';
import { type RequestContext, requireActor } from '../graphql/context';
import { DataPlaneType } from './data-plane.types';

@Resolver(() => DataPlaneType)
export class DataPlaneResolver {
  @Query(() => [DataPlaneType], { description: 'Proxies that have connected, optionally of one environment (handle).' })
  async dataPlanes(@Arg('environment', () => String, { nullable: true }) environment: string | null, @Ctx() ctx: RequestContext): Promise<DataPlaneType[]> {
    return ctx.services.dataPlanes.list(requireActor(ctx), environment);
  }
}
