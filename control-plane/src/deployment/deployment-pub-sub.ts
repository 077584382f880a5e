import { createPubSub } from '@graphql-yoga/subscription';
import type { DeploymentStatusEvent } from './deployment-events';

/** In-process fan-out of deployment status changes to this replica's GraphQL subscribers. */
export function createDeploymentPubSub() {
  return createPubSub<{ DEPLOYMENT_STATUS: [DeploymentStatusEvent] }>();
}

export type DeploymentPubSub = ReturnType<typeof createDeploymentPubSub>;
