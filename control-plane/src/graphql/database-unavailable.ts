// Tells "the database cannot be reached right now" apart from every other internal failure, so a
// client gets SERVICE_UNAVAILABLE (HTTP 503: retry later) instead of a generic internal error.
import { GraphQLError } from 'graphql';

/** Socket errors of the pg driver when PostgreSQL is down, restarting or unreachable. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** SQLSTATEs: 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now; class 08 is connection_exception. */
const SHUTDOWN_STATES = new Set(['57P01', '57P02', '57P03']);
/** pg's own messages for a connection lost or never made (no code attached). */
const LOST_CONNECTION = /^Connection terminated|^timeout exceeded when trying to connect|^Client has encountered a connection error/;

export const SERVICE_UNAVAILABLE = 'SERVICE_UNAVAILABLE';

export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (error === null || typeof error !== 'object' || depth > 4) return false;
  const e = error as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown; errors?: unknown; originalError?: unknown };
  if (typeof e.code === 'string' && (NETWORK_CODES.has(e.code) || SHUTDOWN_STATES.has(e.code) || /^08[0-9A-Z]{3}$/.test(e.code))) return true;
  if (typeof e.message === 'string' && LOST_CONNECTION.test(e.message)) return true;
  const nested = [e.driverError, e.cause, e.originalError, ...(Array.isArray(e.errors) ? e.errors : [])];
  return nested.some((inner) => isDatabaseUnavailable(inner, depth + 1));
}

export function databaseUnavailable(): GraphQLError {
  return new GraphQLError('the database is unavailable; retry shortly', {
    extensions: { code: SERVICE_UNAVAILABLE, http: { status: 503 } },
  });
}
