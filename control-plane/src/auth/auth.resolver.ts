import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { type RequestContext, requireActor } from '../graphql/context';
import { MembershipType, OrganizationType } from '../organization/organization.types';
import { Role } from './role';
import { ApiTokenType, CreateApiTokenInput, CreateApiTokenPayload } from './auth.types';

@Resolver()
export class AuthResolver {
  @Mutation(() => CreateApiTokenPayload)
  async createApiToken(@Arg('input') input: CreateApiTokenInput, @Ctx() ctx: RequestContext): Promise<CreateApiTokenPayload> {
    const { token, apiToken } = await ctx.services.auth.createApiToken(requireActor(ctx), input);
    return { token, apiToken: ApiTokenType.from(apiToken) };
  }

  @Query(() => [ApiTokenType], {
    description: 'API tokens of a user (the caller by default), newest first, revoked ones included; never the tokens themselves. Whoever may issue a user\'s tokens may list them.',
  })
  async apiTokens(@Arg('userId', () => ID, { nullable: true }) userId: string | null, @Ctx() ctx: RequestContext): Promise<ApiTokenType[]> {
    return (await ctx.services.auth.listApiTokens(requireActor(ctx), userId ?? null)).map((t) => ApiTokenType.from(t));
  }

  @Mutation(() => ApiTokenType, {
    description: 'Revokes an API token: its next request is UNAUTHENTICATED. Whoever may issue a user\'s tokens may revoke them. The bootstrap token (TOKENGATE_ADMIN_TOKEN) is replaced by changing that variable.',
  })
  async revokeApiToken(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<ApiTokenType> {
    return ApiTokenType.from(await ctx.services.auth.revokeApiToken(requireActor(ctx), id));
  }

  @Mutation(() => MembershipType, { description: 'Adds a user (created on first sight) to an organization with a role, or changes the role. Organization ADMINs only.' })
  async addMember(
    @Arg('organizationId', () => ID) organizationId: string,
    @Arg('email') email: string,
    @Arg('role', () => Role) role: Role,
    @Arg('name', () => String, { nullable: true }) name: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<MembershipType> {
    const actor = requireActor(ctx);
    const { membership, user } = await ctx.services.auth.addMember(actor, { organizationId, email, name, role });
    const organization = (await ctx.services.organizations.list(actor)).find((o) => o.id === membership.organizationId)!;
    return { organization: OrganizationType.from(organization), user: { id: user.id, email: user.email, name: user.name }, role: membership.role };
  }
}
