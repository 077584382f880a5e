// Typed GraphQL errors: every refusal carries `extensions.code` (and `field` for bad input).
import { GraphQLError } from 'graphql';

export type ErrorCode = 'UNAUTHENTICATED' | 'FORBIDDEN' | 'BAD_USER_INPUT' | 'NOT_FOUND' | 'CONFLICT';

export function badUserInput(field: string, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', field } });
}

export function notFound(what: string, id: string): GraphQLError {
  return new GraphQLError(`${what} ${JSON.stringify(id)} was not found`, { extensions: { code: 'NOT_FOUND' } });
}

export function conflict(message: string, field?: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'CONFLICT', ...(field ? { field } : {}) } });
}

export function forbidden(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'FORBIDDEN' } });
}

export function unauthenticated(message = 'missing or invalid API token: send `Authorization: Bearer <API token>`'): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED' } });
}

/** PostgreSQL unique_violation, raised when a concurrent write won the race past our own check. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; driverError?: { code?: string } };
  return e?.code === '23505' || e?.driverError?.code === '23505';
}
