// The typed `graphql()` tag: every operation of the console is checked against schema/schema.graphql
// through graphql-env.d.ts, which `npm run typecheck` regenerates from the schema first (it is not
// committed), so a schema change that breaks a console operation fails the typecheck.
import { initGraphQLTada } from 'gql.tada';
import type { introspection } from './graphql-env.d.ts';

export const graphql = initGraphQLTada<{
  introspection: introspection;
  scalars: { DateTimeISO: string; JSONObject: Record<string, unknown> };
}>();

export type { ResultOf, VariablesOf } from 'gql.tada';
