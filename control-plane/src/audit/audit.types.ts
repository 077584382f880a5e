import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, ObjectType } from 'type-graphql';

@ObjectType('AuditEvent')
export class AuditEventType {
  @Field(() => ID) id: string;
  @Field({ description: 'Email of the user who acted.' }) actor: string;
  @Field() action: string;
  @Field() targetType: string;
  @Field() targetId: string;
  @Field(() => GraphQLJSONObject) details: Record<string, unknown>;
  @Field() createdAt: Date;
}
