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

/** A refusal is reported as a validation error (graphql-armor would otherwise throw it out of `validate`). */
const REPORT = { propagateOnRejection: false, onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)] };

export interface OperationLimits {
  /** Lexical tokens per document (5,000): graphql-js stops lexing past it, so a huge query costs little. */
  readonly parseOptions: ParseOptions;
  /** graphql-armor's depth, alias (20), directive (20) and cost (20,000) rules; Apollo adds graphql-js's own. */
  readonly validationRules: readonly ValidationRule[];
}

/** Built once per server: the rules hold no per-operation state. */
export function operationLimits(maxDepth: number): OperationLimits {
  return {
    parseOptions: { maxTokens: 5000 },
    validationRules: [
      maxDepthRule({ n: maxDepth, ...REPORT }),
      maxAliasesRule({ n: 20, ...REPORT }),
      maxDirectivesRule({ n: 20, ...REPORT }),
      costLimitRule({ maxCost: 20000, ...REPORT }),
    ],
  };
}

/**
 * Parses and validates one operation as Apollo does, for transports that do not go through Apollo.
 * Returns the document, or the errors to send back (syntax errors included: a client mistake, never a
 * reason to drop the connection).
 */
export function parseAndValidate(schema: GraphQLSchema, query: string, limits: OperationLimits): DocumentNode | readonly GraphQLError[] {
  let document: DocumentNode;
  try {
    document = parse(query, limits.parseOptions);
  } catch (error) {
    if (error instanceof GraphQLError) return [error];
    throw error;
  }
  const errors = validate(schema, document, [...specifiedRules, ...limits.validationRules]);
  return errors.length > 0 ? errors : document;
}
