import 'reflect-metadata';
import { type GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { createPubSub } from '@graphql-yoga/subscription';
import { buildSchema } from 'type-graphql';
import { AuditResolver } from '../audit/audit.resolver';
import { AuthResolver } from '../auth/auth.resolver';
import { ConnectionResolver } from '../connection/connection.resolver';
import { DataPlaneCredentialResolver } from '../data-plane-registry/data-plane-credential.resolver';
import { DataPlaneResolver } from '../data-plane-registry/data-plane.resolver';
import { DeploymentResolver } from '../deployment/deployment.resolver';
import { EnvironmentResolver } from '../environment/environment.resolver';
import { GenAIServiceResolver } from '../genai-service/genai-service.resolver';
import { OrganizationResolver } from '../organization/organization.resolver';
import { ProjectResolver } from '../project/project.resolver';
import { UsageReportRowResolver, UsageResolver } from '../usage/usage.resolver';
import { declareInputCaps, enforceInputCaps } from './input-caps';
import { rejectNulCharacters } from './reject-nul';
import { freshLoadersAroundMutations } from './request-loaders';

export const RESOLVERS = [
  OrganizationResolver,
  AuthResolver,
  ProjectResolver,
  EnvironmentResolver,
  GenAIServiceResolver,
  DeploymentResolver,
  ConnectionResolver,
  DataPlaneResolver,
  DataPlaneCredentialResolver,
  AuditResolver,
  UsageResolver,
  UsageReportRowResolver,
] as const;

let built: Promise<GraphQLSchema> | undefined;

/** The schema, built once per process (type-graphql metadata is global). */
export function buildGraphQLSchema(): Promise<GraphQLSchema> {
  // Input checks live in the domain services (shared with the CLI), so class-validator is off; what
  // runs before them is the size of every string and list (input-caps.ts), then the NUL check.
  // Lists read their children through per-request loaders, emptied around each mutation (ADR 017).
  // Subscriptions take their pub/sub from the request context (one per replica), so the schema-level
  // one type-graphql insists on is never used.
  built ??= buildSchema({ resolvers: RESOLVERS, validate: false, pubSub: createPubSub(), globalMiddlewares: [enforceInputCaps, rejectNulCharacters, freshLoadersAroundMutations] }).then((schema) => {
    declareInputCaps(schema);
    return schema;
  });
  return built;
}

/** The SDL committed as schema/schema.graphql: sorted, so the file only changes when the API does. */
export async function printGraphQLSchema(): Promise<string> {
  return `${printSchema(lexicographicSortSchema(await buildGraphQLSchema()))}\n`;
}
