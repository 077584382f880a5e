import { Field, ID, InputType, ObjectType } from 'type-graphql';


@ObjectType('ApiToken')
export class ApiTokenType {
  @Field(() => ID) id: string;
  @Field(() => ID) userId: string;
  @Field() name: string;
  @Field({ description: 'First characters of the token, to tell tokens apart.' }) tokenPrefix: string;
  @Field() createdAt: Date;
}

@ObjectType('CreateApiTokenPayload')
export class CreateApiTokenPayload {
  @Field(() => ApiTokenType) apiToken: ApiTokenType;
  @Field({ description: 'The bearer token. Shown only here; store it now.' }) token: string;
}

@InputType()
export class CreateApiTokenInput {
  @Field() name: string;
  @Field(() => ID, { nullable: true, description: 'Defaults to the caller. Organization ADMINs may issue tokens for their members.' }) userId?: string | null;
}

