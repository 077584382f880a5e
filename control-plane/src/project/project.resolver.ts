import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { type RequestContext, requireActor } from '../graphql/context';
import { CreateProjectInput, ProjectType } from './project.types';

@Resolver(() => ProjectType)
export class ProjectResolver {
  @Query(() => [ProjectType])
  async projects(@Arg('organizationId', () => ID) organizationId: string, @Ctx() ctx: RequestContext): Promise<ProjectType[]> {
    return (await ctx.services.projects.list(requireActor(ctx), organizationId)).map(ProjectType.from);
  }

  @Mutation(() => ProjectType, { description: 'Organization ADMINs only.' })
  async createProject(@Arg('input') input: CreateProjectInput, @Ctx() ctx: RequestContext): Promise<ProjectType> {
    return ProjectType.from(await ctx.services.projects.create(requireActor(ctx), input));
  }
}
