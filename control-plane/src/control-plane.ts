// Assembles one control-plane process: database (created and migrated), domain services, HTTP,
// the gRPC config stream for proxies and the Redis fan-out between replicas.
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { ControlPlaneConfig } from './config';
import { ConfigStreamServer } from './config-stream/config-stream-server';
import { RedisChangeFeed } from './config-stream/redis-change-feed';
import { createDataSource } from './db/data-source';
import { ensureDatabase } from './db/ensure-database';
import { startControlPlaneHttp, type ControlPlaneHttp } from './http-server';
import { createLogger } from './logger';
import { createServices, type ControlPlaneServices } from './services';

export interface ControlPlane {
  db: DataSource;
  services: ControlPlaneServices;
  http: ControlPlaneHttp;
  configStream: ConfigStreamServer;
  graphqlUrl: string;
  grpcAddress: string;
  logger: Logger;
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
  const db = options.db ?? (await prepareDatabase(config.databaseUrl));
  const changes = new RedisChangeFeed(config.redisUrl, logger);
  const services = createServices(db, config.secretBox, changes);
  const configStream = new ConfigStreamServer(
    db,
    config.secretBox,
    logger,
    { dataPlaneToken: config.dataPlaneToken, pollIntervalMs: config.revisionPollMs, tls: config.grpcTls },
    services.usage,
  );
  changes.onChange((change) => configStream.environmentChanged(change.environment));
  await changes.start();
  if (config.adminToken) await services.auth.ensureBootstrapAdmin(config.adminToken);
  const grpcPort = await configStream.listen(config.grpcHost, config.grpcPort);
  const http = await startControlPlaneHttp({ config, db, services, logger });
  const grpcAddress = `${config.grpcHost}:${grpcPort}`;
  let stopping: Promise<void> | undefined;
  logger.info({ graphql: `${http.url}/graphql`, grpc: grpcAddress }, 'control plane listening');
  return {
    db,
    services,
    http,
    configStream,
    graphqlUrl: `${http.url}/graphql`,
    grpcAddress,
    logger,
    stop() {
      stopping ??= (async () => {
        await http.stop();
        await configStream.stop();
        await changes.stop();
        if (!options.db) await db.destroy();
      })();
      return stopping;
    },
  };
}
