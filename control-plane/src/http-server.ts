// The control plane's HTTP side: GraphQL at /graphql, /healthz, /metrics and the console at /console.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, type BaseContext } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type NextFunction, type Request, type Response } from 'express';
import { GraphQLError, getOperationAST } from 'graphql';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { registerHeapAfterGcMetric } from './common/heap-after-gc';
import type { DataSource } from 'typeorm';
import type { ControlPlaneConfig } from './config';
import { createErrorFormatter } from './graphql/format-error';
import { variablesOverCap } from './graphql/input-caps';
import { databaseUnavailable, isDatabaseUnavailable, SERVICE_UNAVAILABLE } from './graphql/database-unavailable';
import { operationLimits, parseAndValidate } from './graphql/query-limits';
import type { RequestContext } from './graphql/context';
import { createRequestLoaders } from './graphql/request-loaders';
import { buildGraphQLSchema } from './graphql/schema';
import type { ControlPlaneServices } from './services';
import type { DeploymentPubSub } from './deployment/deployment-pub-sub';
import type { Actor } from './auth/actor';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { CONSOLE_PATH, consoleRouter } from './console/console.router';
import { listenError } from './common/config-error';

export interface ControlPlaneHttp {
  server: Server;
  url: string;
  metrics: Registry;
  stop(): Promise<void>;
}

function jsonError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ errors: [{ message, extensions: { code } }] });
}

export async function startControlPlaneHttp(deps: {
  config: Pick<ControlPlaneConfig, 'host' | 'port' | 'maxRequestBytes' | 'maxQueryDepth'>;
  db: DataSource;
  services: ControlPlaneServices;
  logger: Logger;
  pubSub: DeploymentPubSub;
  /** Extra Prometheus collectors (queue health). */
  registerMetrics?: (registry: Registry) => void;
}): Promise<ControlPlaneHttp> {
  const { config, db, services, logger, pubSub } = deps;
  const app = express();
  app.disable('x-powered-by');
  const server = createServer(app);
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics, prefix: 'tokengate_control_plane_' });
  const stopHeapMetric = registerHeapAfterGcMetric(metrics, 'tokengate_control_plane_');
  deps.registerMetrics?.(metrics);
  const schema = await buildGraphQLSchema();
  const limits = operationLimits(config.maxQueryDepth);

  const bearer = async (header: unknown): Promise<Actor | null | undefined> => {
    if (typeof header !== 'string' || header === '') return undefined;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    try {
      return match ? await services.auth.authenticate(match[1]) : null;
    } catch (error) {
      // The token lookup is the first query of every request: a database that is down shows here.
      if (isDatabaseUnavailable(error)) throw databaseUnavailable();
      throw error;
    }
  };
  // Subscriptions (graphql-ws) on the same path; the token comes in connection_init's payload.
  // Upgrades are handed over here rather than by giving ws the server: ws would also take the server's
  // 'error' events, and graphql-ws prints a stack for one (EADDRINUSE) that startup reports itself.
  const wsServer = new WebSocketServer({ noServer: true, path: '/graphql', maxPayload: config.maxRequestBytes });
  server.on('upgrade', (request, socket, head) => wsServer.handleUpgrade(request, socket, head, (ws) => wsServer.emit('connection', ws, request)));
  const wsCleanup = useServer<Record<string, unknown>>(
    {
      schema,
      // The same parse and validation limits as HTTP; a refused operation gets an `error` message.
      onSubscribe: (_ctx, _id, payload) => {
        const document = parseAndValidate(schema, payload.query, limits);
        if (!('kind' in document)) return document;
        const operation = getOperationAST(document, payload.operationName);
        const refusal = operation && variablesOverCap(schema, document, operation, payload.variables ?? undefined);
        if (refusal) return [refusal];
        return { schema, document, variableValues: payload.variables, operationName: payload.operationName };
      },
      onConnect: async (ctx) => {
        const actor = await bearer(ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization);
        return actor !== null && actor !== undefined;
      },
      // graphql-ws builds a context per operation, and a subscription keeps it: its loaders batch but never cache.
      context: async (ctx): Promise<RequestContext> => ({
        actor: (await bearer(ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization)) ?? null,
        services,
        pubSub,
        loaders: createRequestLoaders(db, services, { cache: false }),
      }),
    },
    wsServer,
  );

  const apollo = new ApolloServer<BaseContext>({
    schema,
    parseOptions: limits.parseOptions,
    validationRules: [...limits.validationRules],
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer: server }),
      // A request that failed because the database is unavailable is a 503 (retry), not a 200 or 500.
      {
        requestDidStart: async () => ({
          willSendResponse: async ({ response }) => {
            if (response.body.kind === 'single' && response.body.singleResult.errors?.some((e) => e.extensions?.code === SERVICE_UNAVAILABLE)) response.http.status = 503;
          },
        }),
      },
      { serverWillStart: async () => ({ drainServer: async () => void (await wsCleanup.dispose()) }) },
      // Oversized variables are refused before graphql-js coerces them (input-caps.ts): 400, as
      // Apollo answers variables it cannot coerce.
      {
        requestDidStart: async () => ({
          didResolveOperation: async ({ document, operation, request }) => {
            const refusal = operation && variablesOverCap(schema, document, operation, request.variables);
            if (refusal) throw new GraphQLError(refusal.message, { extensions: { ...refusal.extensions, http: { status: 400 } } });
          },
        }),
      },
    ],
    formatError: createErrorFormatter(logger),
    introspection: true,
    csrfPrevention: true,
    // The CLI owns SIGINT/SIGTERM and stops Apollo itself; Apollo's own handler would block that shutdown.
    stopOnTerminationSignals: false,
  });
  await apollo.start();

  app.get('/healthz', async (_req, res) => {
    try {
      await db.query('SELECT 1');
      res.json({ status: 'ok' });
    } catch {
      res.status(503).json({ status: 'unavailable', reason: 'database unreachable' });
    }
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.metrics());
  });
  app.use(
    '/graphql',
    express.json({ limit: config.maxRequestBytes }),
    expressMiddleware(apollo, {
      context: async ({ req }): Promise<RequestContext> => {
        const actor = await bearer(req.headers.authorization);
        if (actor === undefined) return { actor: null, services, pubSub, loaders: createRequestLoaders(db, services) };
        if (actor === null) {
          throw new GraphQLError('invalid API token: send `Authorization: Bearer <API token>`', { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
        }
        return { actor, services, pubSub, loaders: createRequestLoaders(db, services) };
      },
    }),
  );
  app.use(CONSOLE_PATH, consoleRouter());
  app.use((_req, res) => jsonError(res, 404, 'NOT_FOUND', 'no such route; GraphQL is served at /graphql'));
  // Body-parser failures: a clear error instead of an HTML page, and nothing reaches a resolver.
  app.use((error: { type?: string; status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    if (error.type === 'entity.too.large') return jsonError(res, 413, 'PAYLOAD_TOO_LARGE', `request body exceeds ${config.maxRequestBytes} bytes`);
    if (error.type === 'entity.parse.failed') return jsonError(res, 400, 'BAD_REQUEST', 'request body is not valid JSON');
    if (error.status && error.status >= 400 && error.status < 500) return jsonError(res, error.status, 'BAD_REQUEST', 'malformed request');
    logger.error({ err: error }, 'unhandled HTTP error');
    return jsonError(res, 500, 'INTERNAL_SERVER_ERROR', 'internal error');
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(listenError(error, 'GraphQL', `${config.host}:${config.port}`, 'TOKENGATE_PORT')));
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${host}:${address.port}`,
    metrics,
    stop: () => {
      stopHeapMetric();
      return apollo.stop();
    },
  };
}
