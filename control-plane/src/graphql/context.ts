import type { Actor } from '../auth/actor';
import { unauthenticated } from '../common/errors';
import type { ControlPlaneServices } from '../services';

/** Per-request GraphQL context. */
export interface RequestContext {
  actor: Actor | null;
  services: ControlPlaneServices;
}

export function requireActor(context: RequestContext): Actor {
  if (!context.actor) throw unauthenticated();
  return context.actor;
}
