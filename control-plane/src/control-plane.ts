// Assembles one control-plane process: database (created and migrated), domain services, HTTP,
// the gRPC config stream for proxies and the Redis fan-out between replicas.
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { ControlPlaneConfig } from './config';
import { ConfigStreamServer } from './config-stream/config-stream-server';
import { RedisChangeFeed } from './config-change/redis-change-feed';
import { createDataSource } from './db/data-source';
import { ensureDatabase } from './db/ensure-database';
import { startControlPlaneHttp, type ControlPlaneHttp } from './http-server';
import { createLogger } from './logger';
import { createServices, type ControlPlaneServices } from './services';
import { backgroundChangeFeed, composeChangeFeeds } from './config-change/change-feed';
import { DeploymentEvents } from './deployment/deployment-events';
import { createDeploymentPubSub } from './deployment/deployment-pub-sub';
import { DeploymentStore } from './deployment/deployment-store';
import { RolloutScheduler } from './deployment/rollout-queue';
import { type RolloutRuntime, startRolloutWorker } from './deployment/rollout-runtime';
import { registerQueueMetrics } from './deployment/queue-metrics';
import { BudgetCounters } from './rate-limit/budget-counters';

export interface ControlPlane {
  db: DataSource;
  services: ControlPlaneServices;
  http: ControlPlaneHttp;
  configStream: ConfigStreamServer;
  graphqlUrl: string;
  grpcAddress: string;
  logger: Logger;
  /** Stops the in-process rollout worker, if any (the rest keeps running). */
  stopInProcessWorker(): Promise<void>;
  /** Idempotent. */
  stop(): Promise<void>;
}

/** Creates the database when missing and applies pending migrations. */
export async function prepareDatabase(databaseUrl: string): Promise<DataSource> {
  await ensureDatabase(databaseUrl);
  const db = createDataSource(databaseUrl);
  await db.initialize();
  await db.runMigrations({ transaction: 'each' });
  return db;
}

export async function startControlPlane(config: ControlPlaneConfig, options: { logger?: Logger; db?: DataSource } = {}): Promise<ControlPlane> {
  const logger = options.logger ?? createLogger('control-plane');
  // Whatever started is stopped again, in reverse order, on stop() or when startup fails halfway.
  const cleanups: Array<() => Promise<void> | void> = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch((error: unknown) => logger.warn({ err: String(error) }, 'shutdown step failed'));
  };
  try {
    const db = options.db ?? (await prepareDatabase(config.databaseUrl));
    if (!options.db) cleanups.push(() => db.destroy());
    const changes = new RedisChangeFeed(config.redisUrl, config.redisNamespace, logger);
    cleanups.push(() => changes.stop());
    const events = new DeploymentEvents(config.redisUrl, config.redisNamespace, logger);
    cleanups.push(() => events.close());
    const scheduler = new RolloutScheduler(config.redisUrl, config.redisNamespace, new DeploymentStore(db), events, logger);
    cleanups.push(() => scheduler.close());
    scheduler.startSweeper(config.rollout.sweepIntervalMs, config.rollout.timeoutMs + config.rollout.lockDurationMs + config.rollout.sweepIntervalMs);
    const pubSub = createDeploymentPubSub();
    void events.statusChanges.subscribe((event) => pubSub.publish('DEPLOYMENT_STATUS', event));
    const budgetCounters = new BudgetCounters(config.redisUrl, config.redisNamespace);
    cleanups.push(() => budgetCounters.close());
    // Mutations answer once committed; their announcements finish in the background (and before the
    // feeds' Redis clients close, on stop: cleanups run in reverse).
    const feed = backgroundChangeFeed(composeChangeFeeds(changes, scheduler), (error) => logger.warn({ err: String(error) }, 'could not announce a change'));
    cleanups.push(() => feed.drain());
    const services = createServices(db, config.secretBox, feed, budgetCounters);
    const configStream = new ConfigStreamServer(
      db,
      config.secretBox,
      logger,
      {
        dataPlaneToken: config.dataPlaneToken,
        credentials: services.dataPlaneCredentials,
        allowAnonymous: config.developmentMode,
        pollIntervalMs: config.revisionPollMs,
        heartbeatIntervalMs: config.proxyHeartbeatMs,
        maxUnflushedConfigBytes: config.maxUnflushedConfigBytes,
        tls: config.grpcTls,
        onProxyReport: (environment) => void events.proxyReports.publish({ environment }),
      },
      services.usage,
    );
    cleanups.push(() => configStream.stop());
    services.dataPlaneCredentials.onRevoked = (credentialId) => configStream.credentialRevoked(credentialId);
    changes.onChange((change) => configStream.environmentChanged(change.environment));
    await changes.start();
    if (config.adminToken) await services.auth.ensureBootstrapAdmin(config.adminToken);
    const grpcPort = await configStream.listen(config.grpcHost, config.grpcPort);
    let rollouts: RolloutRuntime | null = config.rollout.inProcessWorker ? await startRolloutWorker(config, db, logger) : null;
    cleanups.push(() => rollouts?.stop());
    const http = await startControlPlaneHttp({ config, db, services, logger, pubSub, registerMetrics: (registry) => registerQueueMetrics(registry, scheduler.queue) });
    cleanups.push(() => http.stop());
    const grpcAddress = `${config.grpcHost}:${grpcPort}`;
    logger.info({ graphql: `${http.url}/graphql`, grpc: grpcAddress }, 'control plane listening');
    let stopping: Promise<void> | undefined;
    return {
      db,
      services,
      http,
      configStream,
      graphqlUrl: `${http.url}/graphql`,
      grpcAddress,
      logger,
      async stopInProcessWorker() {
        const running = rollouts;
        rollouts = null;
        await running?.stop();
      },
      stop() {
        stopping ??= stopAll();
        return stopping;
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
