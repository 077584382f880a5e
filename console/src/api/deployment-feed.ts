// Live deployment statuses of one service over graphql-ws (same origin, token in connection_init).
// After every (re)connection the caller refetches, so events missed while disconnected leave nothing stale.
import { createClient } from 'graphql-ws';
import { print } from 'graphql';
import { graphql, type ResultOf } from '../graphql/graphql';
import { errorFrom, type ApiError } from './client';
import { readToken } from './token-store';

export const DeploymentFields = graphql(`
  fragment DeploymentFields on Deployment @_unmask {
    environment status revision message updatedAt
    dataPlanes { proxyId connected applied appliedRevision appliedAt lastNackReason lastNackRevision lastSeenAt }
  }
`);

const DeploymentStatusChanged = graphql(`
  subscription ConsoleDeployments($serviceId: ID!) { deploymentStatusChanged(serviceId: $serviceId) { ...DeploymentFields } }
`, [DeploymentFields]);

export type DeploymentView = ResultOf<typeof DeploymentFields>;
export type FeedState = 'connecting' | 'live' | 'reconnecting' | 'off';

export interface DeploymentFeedHandlers {
  state(state: FeedState): void;
  next(deployment: DeploymentView): void;
  resync(): void;
  failed(error: ApiError): void;
}

/** Returns the function that stops the feed. */
export function followDeployments(serviceId: string, handlers: DeploymentFeedHandlers): () => void {
  let stopped = false;
  let connections = 0;
  const client = createClient({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`,
    connectionParams: () => ({ authorization: `Bearer ${readToken() ?? ''}` }),
    lazy: false,
    retryAttempts: Infinity,
    shouldRetry: (event) => !(event instanceof CloseEvent && event.code >= 4400 && event.code < 4500),
    on: {
      connecting: () => { if (!stopped) handlers.state(connections ? 'reconnecting' : 'connecting'); },
      connected: () => {
        connections += 1;
        if (stopped) return;
        handlers.state('live');
        handlers.resync();
      },
      closed: () => { if (!stopped) handlers.state('reconnecting'); },
    },
  });
  const unsubscribe = client.subscribe<ResultOf<typeof DeploymentStatusChanged>>(
    { query: print(DeploymentStatusChanged), variables: { serviceId } },
    {
      next: (message) => {
        if (stopped) return;
        if (message.errors?.length) handlers.failed(errorFrom(message.errors));
        else if (message.data) handlers.next(message.data.deploymentStatusChanged);
      },
      error: (error) => {
        if (stopped) return;
        handlers.state('off');
        handlers.failed(Array.isArray(error) ? errorFrom(error) : errorFrom([{ message: 'live updates stopped', extensions: { code: 'UNAUTHENTICATED' } }]));
      },
      complete: () => undefined,
    },
  );
  return () => {
    stopped = true;
    unsubscribe();
    void client.dispose();
  };
}

const STATUS_ORDER: Record<string, number> = { PENDING: 0, IN_PROGRESS: 1, DEPLOYED: 2, FAILED: 2 };

/** Newer wins: a higher revision, or the same revision updated no earlier (events and refetches interleave). */
export function isNewer(incoming: DeploymentView, current: DeploymentView | undefined): boolean {
  if (!current) return true;
  if (incoming.revision !== current.revision) return incoming.revision > current.revision;
  if (incoming.updatedAt !== current.updatedAt) return incoming.updatedAt > current.updatedAt;
  return (STATUS_ORDER[incoming.status] ?? 0) >= (STATUS_ORDER[current.status] ?? 0);
}
