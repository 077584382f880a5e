// Deployment status changes, fanned out to every control-plane replica (GraphQL subscriptions) and
// proxy reports (ACK/NACK/connect), fanned out to the rollout workers waiting on them.
import type { Logger } from 'pino';
import type { DeploymentStatus } from './deployment-status';
import { RedisChannel } from '../common/redis-channel';

export interface DeploymentStatusEvent {
  id: string;
  serviceId: string;
  environmentId: string;
  environment: string;
  status: DeploymentStatus;
  revision: number;
  message: string;
  createdAt: string;
  updatedAt: string;
}

export class DeploymentEvents {
  readonly statusChanges: RedisChannel<DeploymentStatusEvent>;
  readonly proxyReports: RedisChannel<{ environment: string }>;

  constructor(redisUrl: string, namespace: string, logger: Logger) {
    this.statusChanges = new RedisChannel(redisUrl, `${namespace}:deployment-status`, logger);
    this.proxyReports = new RedisChannel(redisUrl, `${namespace}:proxy-reports`, logger);
  }

  close(): void {
    this.statusChanges.close();
    this.proxyReports.close();
  }
}
