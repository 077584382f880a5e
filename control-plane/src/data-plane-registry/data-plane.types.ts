import { Field, Int, ObjectType } from 'type-graphql';

@ObjectType('DataPlane', { description: 'A proxy known to the control plane.' })
export class DataPlaneType {
  @Field() id: string;
  @Field({ description: 'Environment handle.' }) environment: string;
  @Field() version: string;
  @Field(() => Int) appliedRevision: number;
  @Field() connected: boolean;
  @Field() lastSeenAt: Date;
  @Field(() => String, { nullable: true }) lastNackReason: string | null;
  @Field(() => Int, { nullable: true }) lastNackRevision: number | null;
}
