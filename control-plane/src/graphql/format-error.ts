import type { GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import type { Logger } from 'pino';
import { isDatabaseUnavailable, SERVICE_UNAVAILABLE } from './database-unavailable';

const EXPOSED_CODES = new Set([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'CONFLICT',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  SERVICE_UNAVAILABLE,
]);

/**
 * Errors we raise on purpose pass through with their code (and `field`); anything else is an
 * internal failure: logged (without inputs) and answered with a generic message, so no database
 * detail or submitted value can leak through an error.
 */
export function createErrorFormatter(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && EXPOSED_CODES.has(code)) {
      const { stacktrace: _s, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, extensions };
    }
    const original = unwrapResolverError(error);
    if (isDatabaseUnavailable(original)) {
      // A mutation cut this way rolled back, unless the connection was lost during its COMMIT.
      logger.warn({ err: original instanceof Error ? original.message : String(original), path: formatted.path }, 'database unavailable while resolving');
      return { message: 'the database is unavailable; retry shortly', locations: formatted.locations, path: formatted.path, extensions: { code: SERVICE_UNAVAILABLE } };
    }
    logger.error({ err: original instanceof Error ? { type: original.name, message: original.message, stack: original.stack } : String(original), path: formatted.path }, 'internal error while resolving');
    return { message: 'internal error', locations: formatted.locations, path: formatted.path, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  };
}
