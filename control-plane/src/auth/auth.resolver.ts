import { Arg, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import { type RequestContext, requireActor } from '../graphql/context';
import { MembershipType, OrganizationType } from '../organization/organization.types';
import { Role } from './role';
import { CreateApiTokenInput, CreateApiTokenPayload } from './auth.types';

@Resolver()
export class AuthResolver {
  @Mutation(() => CreateApiTokenPayload)
  async createApiToken(@Arg('input') input: CreateApiTokenInput, @Ctx() ctx: RequestContext): Promise<CreateApiTokenPayload> {
    const { token, apiToken } = await ctx.services.auth.createApiToken(requireActor(ctx), input);
    return { token, apiToken: { id: apiToken.id, userId: apiToken.userId, name: apiToken.name, tokenPrefix: apiToken.tokenPrefix, createdAt: apiToken.createdAt } };
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
