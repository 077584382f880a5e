import { Field, ID, Int, ObjectType } from 'type-graphql';
import { DeploymentStatus } from './deployment-status';

@ObjectType('DeploymentDataPlane', { description: 'A proxy of the deployment’s environment and what it has applied.' })
export class DeploymentDataPlaneType {
  @Field() proxyId: string;
  @Field(() => Int) appliedRevision: number;
  @Field({ description: 'True once the proxy has applied the deployment’s revision or a newer one.' }) applied: boolean;
  @Field(() => Date, { nullable: true, description: 'When the proxy applied its current revision.' }) appliedAt: Date | null;
  @Field() connected: boolean;
  @Field() lastSeenAt: Date;
  @Field(() => String, { nullable: true }) lastNackReason: string | null;
  @Field(() => Int, { nullable: true }) lastNackRevision: number | null;
}

@ObjectType('Deployment')
export class DeploymentType {
  @Field(() => ID) id: string;
  @Field(() => ID) serviceId: string;
  @Field({ description: 'Environment handle.' }) environment: string;
  @Field(() => DeploymentStatus) status: DeploymentStatus;
  @Field(() => Int, { description: 'The environment snapshot revision that carries this change.' }) revision: number;
  @Field() message: string;
  @Field() createdAt: Date;
  @Field() updatedAt: Date;
  // Resolved by a field resolver.
  environmentId: string;
  dataPlanes?: DeploymentDataPlaneType[];
}
