import { filter, pipe } from '@graphql-yoga/subscription';
import { Arg, Ctx, FieldResolver, ID, Resolver, Root, Subscription } from 'type-graphql';
import { type RequestContext, requireActor } from '../graphql/context';
import { assertArgumentsWithinCaps } from '../graphql/input-caps';
import type { DeploymentStatusEvent } from './deployment-events';
import { DeploymentDataPlaneType, DeploymentType } from './deployment.types';

@Resolver(() => DeploymentType)
export class DeploymentResolver {
  @FieldResolver(() => [DeploymentDataPlaneType], { description: 'Proxies of the environment: which revision each applied, when, and its last refusal.' })
  async dataPlanes(@Root() deployment: DeploymentType, @Ctx() ctx: RequestContext): Promise<DeploymentDataPlaneType[]> {
    return ctx.services.deployments.dataPlanesOf(deployment, await ctx.loaders.environmentDataPlanes.load(deployment.environmentId));
  }

  @Subscription(() => DeploymentType, {
    description: 'Every status change of the service’s deployments (any environment), in order.',
    subscribe: async ({ args, context, info }) => {
      // Middlewares wrap resolvers, not subscribe: the caps are checked here.
      assertArgumentsWithinCaps(info.schema, info.parentType, info.fieldName, args);
      const ctx = context as RequestContext;
      const serviceId = (args as { serviceId: string }).serviceId;
      // Authorized like the queries: NOT_FOUND for services of other organizations.
      await ctx.services.genAIServices.get(requireActor(ctx), serviceId);
      return pipe(
        ctx.pubSub.subscribe('DEPLOYMENT_STATUS'),
        filter((event: DeploymentStatusEvent) => event.serviceId === serviceId),
      );
    },
  })
  deploymentStatusChanged(@Root() event: DeploymentStatusEvent, @Arg('serviceId', () => ID) _serviceId: string): DeploymentType {
    return {
      id: event.id,
      serviceId: event.serviceId,
      environmentId: event.environmentId,
      environment: event.environment,
      status: event.status,
      revision: event.revision,
      message: event.message,
      createdAt: new Date(event.createdAt),
      updatedAt: new Date(event.updatedAt),
    };
  }
}
