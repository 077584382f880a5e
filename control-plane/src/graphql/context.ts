import type { Actor } from '../auth/actor';
import { unauthenticated } from '../common/errors';
import type { DeploymentPubSub } from '../deployment/deployment-pub-sub';
import type { ControlPlaneServices } from '../services';
import type { RequestLoaders } from './request-loaders';

/** Per-request GraphQL context. */
export interface RequestContext {
  actor: Actor | null;
  services: ControlPlaneServices;
  /** This replica's deployment status events (subscriptions). */
  pubSub: DeploymentPubSub;
  /** Rows batched across the field resolvers of this request (one set per request, never shared). */
  loaders: RequestLoaders;
}

export function requireActor(context: RequestContext): Actor {
  if (!context.actor) throw unauthenticated();
  return context.actor;
}
