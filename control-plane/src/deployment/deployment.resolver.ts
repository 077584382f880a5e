import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { DeploymentDataPlaneType, DeploymentType } from './deployment.types';

@Resolver(() => DeploymentType)
export class DeploymentResolver {
  @FieldResolver(() => [DeploymentDataPlaneType], { description: 'Proxies of the environment and whether each applied this revision.' })
  async dataPlanes(@Root() deployment: DeploymentType, @Ctx() ctx: RequestContext): Promise<DeploymentDataPlaneType[]> {
    return ctx.services.deployments.dataPlanesOf(deployment);
  }
}
