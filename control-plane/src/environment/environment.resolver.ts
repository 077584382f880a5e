import { Arg, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { type RequestContext, requireActor } from '../graphql/context';
import { CreateEnvironmentInput, EnvironmentType } from './environment.types';

@Resolver(() => EnvironmentType)
export class EnvironmentResolver {
  @Query(() => [EnvironmentType], { description: 'Installation-wide environments; each proxy serves one.' })
  async environments(@Ctx() ctx: RequestContext): Promise<EnvironmentType[]> {
    requireActor(ctx);
    return (await ctx.services.environments.list()).map(EnvironmentType.from);
  }

  @Mutation(() => EnvironmentType, { description: 'Installation admins only.' })
  async createEnvironment(@Arg('input') input: CreateEnvironmentInput, @Ctx() ctx: RequestContext): Promise<EnvironmentType> {
    return EnvironmentType.from(await ctx.services.environments.create(requireActor(ctx), input));
  }
}
