import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { type RequestContext, requireActor } from '../graphql/context';
import { DataPlaneCredentialType, IssuedDataPlaneCredentialType } from './data-plane-credential.types';

@Resolver(() => DataPlaneCredentialType)
export class DataPlaneCredentialResolver {
  @Query(() => [DataPlaneCredentialType], { description: 'Installation admins only. Data-plane credentials, optionally of one environment (handle).' })
  async dataPlaneCredentials(@Arg('environment', () => String, { nullable: true }) environment: string | null, @Ctx() ctx: RequestContext): Promise<DataPlaneCredentialType[]> {
    return ctx.services.dataPlaneCredentials.list(requireActor(ctx), environment);
  }

  @Mutation(() => IssuedDataPlaneCredentialType, {
    description:
      'Installation admins only. Issues a credential for the proxies of one environment: presented as their TOKENGATE_DATAPLANE_TOKEN, it receives that environment’s configuration and no other. The token is shown only here. Rotate by issuing a new one, moving the proxies, then revoking the old.',
  })
  async issueDataPlaneCredential(@Arg('environment') environment: string, @Arg('name') name: string, @Ctx() ctx: RequestContext): Promise<IssuedDataPlaneCredentialType> {
    return ctx.services.dataPlaneCredentials.issue(requireActor(ctx), environment, name);
  }

  @Mutation(() => DataPlaneCredentialType, { description: 'Installation admins only. Proxies presenting it are refused from now on, and those connected with it are disconnected.' })
  async revokeDataPlaneCredential(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<DataPlaneCredentialType> {
    return ctx.services.dataPlaneCredentials.revoke(requireActor(ctx), id);
  }
}
