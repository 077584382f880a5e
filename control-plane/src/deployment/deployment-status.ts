import { registerEnumType } from 'type-graphql';

export enum DeploymentStatus {
  PENDING = 'PENDING',
  IN_PROGRESS = 'IN_PROGRESS',
  DEPLOYED = 'DEPLOYED',
  FAILED = 'FAILED',
}

registerEnumType(DeploymentStatus, { name: 'DeploymentStatus' });
