import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { Role } from '../auth/role';
import type { OrganizationEntity } from './organization.entity';

@ObjectType('Organization')
export class OrganizationType {
  @Field(() => ID) id: string;
  @Field() handle: string;
  @Field() name: string;
  @Field() createdAt: Date;

  static from(row: OrganizationEntity): OrganizationType {
    return Object.assign(new OrganizationType(), { id: row.id, handle: row.handle, name: row.name, createdAt: row.createdAt });
  }
}

@InputType()
export class CreateOrganizationInput {
  @Field({ description: 'URL-safe, unique: the first segment of every proxy path of this organization.' }) handle: string;
  @Field() name: string;
}

@ObjectType('User')
export class UserType {
  @Field(() => ID) id: string;
  @Field() email: string;
  @Field() name: string;
}

@ObjectType('Membership')
export class MembershipType {
  @Field(() => OrganizationType) organization: OrganizationType;
  @Field(() => UserType) user: UserType;
  @Field(() => Role) role: Role;
}

@ObjectType('Viewer')
export class ViewerType {
  @Field(() => UserType) user: UserType;
  @Field() isInstallationAdmin: boolean;
  @Field(() => [MembershipType]) memberships: MembershipType[];
}
