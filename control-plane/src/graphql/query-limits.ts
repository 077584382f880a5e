// Limits on what one GraphQL operation may ask for, applied identically to HTTP (Apollo) and
// WebSocket subscriptions (graphql-ws): graphql-js's own token limit at parse time, graphql-armor's
// depth, alias, directive and cost rules at validation time. Both transports then refuse an
// oversized operation as a client error (Apollo: HTTP 400 GRAPHQL_PARSE_FAILED / _VALIDATION_FAILED;
// graphql-ws: an `error` message), before any resolver runs.
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import {
  GraphQLError,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type ParseOptions,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

export interface QueryLimits {
  maxDepth: number;
  maxAliases: number;
  maxDirectives: number;
  /** Lexical tokens per document; graphql-js stops lexing past it, so a huge query costs little. */
  maxTokens: number;
  maxCost: number;
}

export function queryLimits(maxDepth: number): QueryLimits {
  return { maxDepth, maxAliases: 20, maxDirectives: 20, maxTokens: 5000, maxCost: 20000 };
}

export function parseOptions(limits: QueryLimits): ParseOptions {
  return { maxTokens: limits.maxTokens };
}

/** A refusal is reported as a validation error (graphql-armor would otherwise throw it out of `validate`). */
const REPORT = { propagateOnRejection: false, onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)] };

/** graphql-armor's rules only; the transports add graphql-js's specified rules themselves. */
export function limitRules(limits: QueryLimits): ValidationRule[] {
  return [
    maxDepthRule({ n: limits.maxDepth, ...REPORT }),
    maxAliasesRule({ n: limits.maxAliases, ...REPORT }),
    maxDirectivesRule({ n: limits.maxDirectives, ...REPORT }),
    costLimitRule({ maxCost: limits.maxCost, ...REPORT }),
  ];
}

/**
 * Parses and validates one operation as Apollo does, for transports that do not go through Apollo.
 * Returns the document, or the errors to send back (syntax errors included: a client mistake, never a
 * reason to drop the connection).
 */
export function parseAndValidate(schema: GraphQLSchema, query: string, limits: QueryLimits): DocumentNode | readonly GraphQLError[] {
  let document: DocumentNode;
  try {
    document = parse(query, parseOptions(limits));
  } catch (error) {
    if (error instanceof GraphQLError) return [error];
    throw error;
  }
  const errors = validate(schema, document, [...specifiedRules, ...limitRules(limits)]);
  return errors.length > 0 ? errors : document;
}
