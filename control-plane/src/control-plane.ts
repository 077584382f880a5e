// Assembles one control-plane process: database (created and migrated), domain services, HTTP.
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { ControlPlaneConfig } from './config';
import { createDataSource } from './db/data-source';
import { ensureDatabase } from './db/ensure-database';
import { startControlPlaneHttp, type ControlPlaneHttp } from './http-server';
import { createLogger } from './logger';
import { createServices, type ControlPlaneServices } from './services';

export interface ControlPlane {
  db: DataSource;
  services: ControlPlaneServices;
  http: ControlPlaneHttp;
  graphqlUrl: string;
  logger: Logger;
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
  const services = createServices(db, config.secretBox);
  if (config.adminToken) await services.auth.ensureBootstrapAdmin(config.adminToken);
  const http = await startControlPlaneHttp({ config, db, services, logger });
  logger.info({ graphql: `${http.url}/graphql` }, 'control plane listening');
  return {
    db,
    services,
    http,
    graphqlUrl: `${http.url}/graphql`,
    logger,
    async stop() {
      await http.stop();
      if (!options.db) await db.destroy();
    },
  };
}
