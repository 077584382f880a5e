import { Field, ID, InputType, ObjectType } from 'type-graphql';
import type { ApiTokenEntity } from './api-token.entity';


@ObjectType('ApiToken')
export class ApiTokenType {
  @Field(() => ID) id: string;
  @Field(() => ID) userId: string;
  @Field() name: string;
  @Field({ description: 'First characters of the token, to tell tokens apart.' }) tokenPrefix: string;
  @Field() createdAt: Date;
  @Field(() => Date, { nullable: true, description: 'When it was revoked (revokeApiToken); null while it works.' }) revokedAt: Date | null;

  static from(entity: ApiTokenEntity): ApiTokenType {
    return { id: entity.id, userId: entity.userId, name: entity.name, tokenPrefix: entity.tokenPrefix, createdAt: entity.createdAt, revokedAt: entity.revokedAt };
  }
}

@ObjectType('CreateApiTokenPayload')
export class CreateApiTokenPayload {
  @Field(() => ApiTokenType) apiToken: ApiTokenType;
  @Field({ description: 'The bearer token. Shown only here; store it now.' }) token: string;
}

@InputType()
export class CreateApiTokenInput {
  @Field() name: string;
  @Field(() => ID, { nullable: true, description: 'Defaults to the caller. An organization ADMIN may issue tokens for users who belong only to organizations that ADMIN administers (never for an installation admin); installation admins for anyone.' }) userId?: string | null;
}

