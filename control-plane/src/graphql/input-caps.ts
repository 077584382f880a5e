// Every string and list a GraphQL operation can send has a declared maximum, checked before anything
// else looks at the value, by comparing lengths (O(1) each) against one table: variables as sent,
// before graphql-js coerces them (an Apollo plugin and graphql-ws's onSubscribe, http-server.ts), and
// every field's arguments once more by a global type-graphql middleware, first in line, before the
// resolver (values written in the document reach only this one). An oversized input costs its JSON
// parse, never coercion, normalization, a database round trip or a lock. The numbers are the limits
// the domain checks already apply (common/validation.ts and the services), so a value the services
// accept is never refused here. The schema refuses to build when an input lacks a cap, and each cap
// is appended to its field's description in the SDL.
import {
  type DocumentNode,
  GraphQLError,
  type FragmentDefinitionNode,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputField,
  type GraphQLInputType,
  type GraphQLObjectType,
  type GraphQLSchema,
  Kind,
  type OperationDefinitionNode,
  TypeInfo,
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isObjectType,
  isScalarType,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import type { MiddlewareFn } from 'type-graphql';
import { MAX_EMAIL_LENGTH } from '../auth/auth.service';
import { badUserInput } from '../common/errors';
import {
  MAX_CONNECTION_DESCRIPTION_LENGTH,
  MAX_CONTEXT_PATH_LENGTH,
  MAX_DESCRIPTION_LENGTH,
  MAX_HANDLE_LENGTH,
  MAX_LABEL_LENGTH,
  MAX_LABELS,
  MAX_NAME_LENGTH,
  MAX_SUMMARY_LENGTH,
  MAX_URL_LENGTH,
} from '../common/validation';
import { MAX_API_VERSION_LENGTH, MAX_AWS_REGION_LENGTH, MAX_HEADER_NAME_LENGTH, MAX_SECRET_LENGTH } from '../genai-service/backend-security';
import { MAX_SEARCH_LENGTH } from '../marketplace/marketplace.service';
import { MAX_MODEL_LENGTH, MAX_OPERATION_LENGTH } from '../usage/usage-record';

/** A string's most UTF-16 code units (JavaScript's `length`, as the domain checks count). */
export interface TextCap {
  readonly maxLength: number;
}

/** A list's most items, and the cap of each item when items are strings. */
export interface ListCap {
  readonly maxItems: number;
  readonly items?: TextCap;
}

export type InputCap = TextCap | ListCap;

const text = (maxLength: number): TextCap => ({ maxLength });
const list = (maxItems: number, items?: TextCap): ListCap => ({ maxItems, ...(items ? { items } : {}) });

/** Ids are UUIDs (common/lookup.ts): anything longer is never found. */
export const MAX_ID_LENGTH = 36;
/** Environment configurations given to registerGenAIService at once; more go through configureServiceEnvironment. */
export const MAX_ENVIRONMENT_INPUTS = 100;

const HANDLE = text(MAX_HANDLE_LENGTH);
const NAME = text(MAX_NAME_LENGTH);
const HTTP_URL = text(MAX_URL_LENGTH);
const SECRET = text(MAX_SECRET_LENGTH);
const LABELS = list(MAX_LABELS, text(MAX_LABEL_LENGTH));

const SERVICE = {
  name: NAME,
  contextPath: text(MAX_CONTEXT_PATH_LENGTH),
  serviceUrl: HTTP_URL,
  summary: text(MAX_SUMMARY_LENGTH),
  description: text(MAX_DESCRIPTION_LENGTH),
  labels: LABELS,
};
const BACKEND_SECURITY = {
  headerName: text(MAX_HEADER_NAME_LENGTH),
  value: SECRET,
  apiVersion: text(MAX_API_VERSION_LENGTH),
  awsRegion: text(MAX_AWS_REGION_LENGTH),
  awsAccessKeyId: SECRET,
  awsSecretAccessKey: SECRET,
  awsSessionToken: SECRET,
};
const USAGE_REPORT_FILTER = { environment: HANDLE, model: text(MAX_MODEL_LENGTH), operation: text(MAX_OPERATION_LENGTH) };

function fieldsOf(type: string, caps: Record<string, InputCap>): Array<[string, InputCap]> {
  return Object.entries(caps).map(([field, cap]) => [`${type}.${field}`, cap]);
}

/**
 * The caps, by schema coordinate: `Input.field` for input object fields, `Type.field(arg:)` for
 * arguments. IDs (MAX_ID_LENGTH) and lists of enum values (each value once) have caps by their type;
 * every other string and list must be listed here, or the schema does not build.
 */
export const INPUT_CAPS: ReadonlyMap<string, InputCap> = new Map<string, InputCap>([
  // Organizations, members, tokens, projects, environments
  ...fieldsOf('CreateOrganizationInput', { handle: HANDLE, name: NAME }),
  ['Query.organization(handle:)', HANDLE],
  ['Mutation.addMember(email:)', text(MAX_EMAIL_LENGTH)],
  ['Mutation.addMember(name:)', NAME],
  ...fieldsOf('CreateApiTokenInput', { name: NAME }),
  ...fieldsOf('CreateProjectInput', { handle: HANDLE, name: NAME }),
  ...fieldsOf('CreateEnvironmentInput', { handle: HANDLE, name: NAME, proxyUrl: HTTP_URL }),
  ['Query.dataPlanes(environment:)', HANDLE],
  ['Query.dataPlaneCredentials(environment:)', HANDLE],
  ['Mutation.issueDataPlaneCredential(environment:)', HANDLE],
  ['Mutation.issueDataPlaneCredential(name:)', NAME],
  // GenAI services
  ...fieldsOf('RegisterGenAIServiceInput', { ...SERVICE, environments: list(MAX_ENVIRONMENT_INPUTS) }),
  ...fieldsOf('UpdateGenAIServiceInput', SERVICE),
  ...fieldsOf('ServiceEnvironmentInput', { environment: HANDLE, serviceUrl: HTTP_URL }),
  ...fieldsOf('ConfigureServiceEnvironmentInput', { serviceUrl: HTTP_URL }),
  ...fieldsOf('BackendSecurityInput', BACKEND_SECURITY),
  ['Mutation.configureServiceEnvironment(environment:)', HANDLE],
  ...fieldsOf('MarketplaceFilter', { search: text(MAX_SEARCH_LENGTH), labels: LABELS }),
  ['GenAIService.usage(environment:)', HANDLE],
  // Connections
  ...fieldsOf('CreateConnectionInput', { name: NAME, description: text(MAX_CONNECTION_DESCRIPTION_LENGTH) }),
  ['Mutation.rotateConnectionKey(environment:)', HANDLE],
  ['Mutation.setConnectionQuota(environment:)', HANDLE],
  ['Connection.budgets(environment:)', HANDLE],
  ['Connection.usage(environment:)', HANDLE],
  // Usage
  ...fieldsOf('UsageReportFilter', USAGE_REPORT_FILTER),
  ...fieldsOf('UsageFilter', USAGE_REPORT_FILTER),
]);

type InputSlot = GraphQLArgument | GraphQLInputField;

interface ResolvedCaps {
  /** The cap of every argument and input field that has one. */
  readonly bySlot: WeakMap<InputSlot, InputCap>;
  /** Coordinates in SDL order with their caps, for descriptions and tests. */
  readonly coordinates: ReadonlyMap<string, { slot: InputSlot; cap: InputCap | null }>;
}

const resolved = new WeakMap<GraphQLSchema, ResolvedCaps>();

function isText(type: GraphQLInputType): boolean {
  const nullable = getNullableType(type);
  return isScalarType(nullable) && (nullable.name === 'String' || nullable.name === 'ID');
}

/** What is wrong with a slot's cap for its type: none where one is needed, or one of the wrong shape. */
function capProblem(type: GraphQLInputType, cap: InputCap | null): string | null {
  const nullable = getNullableType(type);
  if (isListType(nullable)) {
    if (cap === null) return 'no cap';
    if (!('maxItems' in cap)) return 'a text cap on a list';
    const item = nullable.ofType as GraphQLInputType;
    if (isListType(getNullableType(item))) return 'lists of lists are not supported';
    if (isText(item) && !cap.items) return 'no cap on its string items';
    return null;
  }
  if (!isText(type)) return cap === null ? null : 'a cap on a value that is neither a string nor a list';
  if (cap === null) return 'no cap';
  return 'maxLength' in cap ? null : 'a list cap on a string';
}

/** The cap an argument or input field gets from its type alone, when the table has none. */
function capByType(type: GraphQLInputType): InputCap | null {
  const nullable = getNullableType(type);
  if (isListType(nullable)) {
    const item = getNamedType(nullable);
    return isEnumType(item) && !isListType(getNullableType(nullable.ofType)) ? list(item.getValues().length) : null;
  }
  return isScalarType(nullable) && nullable.name === 'ID' ? text(MAX_ID_LENGTH) : null;
}

function slotsOf(schema: GraphQLSchema): Array<[string, InputSlot]> {
  const slots: Array<[string, InputSlot]> = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    if (isObjectType(type)) {
      for (const field of Object.values(type.getFields())) for (const arg of field.args) slots.push([`${type.name}.${field.name}(${arg.name}:)`, arg]);
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) slots.push([`${type.name}.${field.name}`, field]);
    }
  }
  return slots;
}

/**
 * Matches the table against the schema, once per schema. Throws when a string or list input has no
 * cap (a renamed field included: its entry no longer matches), so the control plane never serves an
 * uncapped input. An entry the schema lacks is ignored.
 */
export function resolveInputCaps(schema: GraphQLSchema): ResolvedCaps {
  const known = resolved.get(schema);
  if (known) return known;
  const bySlot = new WeakMap<InputSlot, InputCap>();
  const coordinates = new Map<string, { slot: InputSlot; cap: InputCap | null }>();
  const uncapped: string[] = [];
  for (const [coordinate, slot] of slotsOf(schema)) {
    const cap = INPUT_CAPS.get(coordinate) ?? capByType(slot.type);
    const problem = capProblem(slot.type, cap);
    if (problem !== null) uncapped.push(`${coordinate} (${problem})`);
    if (cap !== null) bySlot.set(slot, cap);
    coordinates.set(coordinate, { slot, cap });
  }
  if (uncapped.length > 0) {
    throw new Error(`GraphQL inputs without a proper cap (declare them in INPUT_CAPS, control-plane/src/graphql/input-caps.ts): ${uncapped.join(', ')}`);
  }
  const caps = { bySlot, coordinates };
  resolved.set(schema, caps);
  return caps;
}

/** The sentence a cap adds to its field's description. */
export function describeCap(cap: InputCap): string {
  if ('maxItems' in cap) return `At most ${cap.maxItems} items${cap.items ? `, each at most ${cap.items.maxLength} characters` : ''}.`;
  return `At most ${cap.maxLength} characters.`;
}

/**
 * Declares the caps in the schema's descriptions (IDs excepted: every id is a UUID), so clients read
 * them in schema/schema.graphql and in introspection. Called once, on the freshly built schema.
 */
export function declareInputCaps(schema: GraphQLSchema): void {
  for (const { slot, cap } of resolveInputCaps(schema).coordinates.values()) {
    if (cap === null || ('maxLength' in cap && getNamedType(slot.type).name === 'ID')) continue;
    slot.description = slot.description ? `${slot.description.replace(/\.?\s*$/, '.')} ${describeCap(cap)}` : describeCap(cap);
  }
}

/**
 * Refuses the first value over its cap as BAD_USER_INPUT naming its path (`input.labels`,
 * `input.environments[2].backendSecurity.value`). Works on coerced arguments and on variables as sent
 * alike: a value of another shape than its type (left to graphql-js's coercion to refuse) is passed over.
 */
function assertWithinCap(caps: ResolvedCaps, type: GraphQLInputType, cap: InputCap | undefined, value: unknown, path: string): void {
  if (value === null || value === undefined) return;
  const nullable = getNullableType(type);
  if (isListType(nullable)) {
    // A single value stands for a one-item list (graphql-js coerces it so).
    if (!Array.isArray(value)) return;
    if (cap && 'maxItems' in cap && value.length > cap.maxItems) throw badUserInput(path, `must have at most ${cap.maxItems} items`);
    const itemType = nullable.ofType as GraphQLInputType;
    const itemCap = cap && 'maxItems' in cap ? cap.items : undefined;
    for (let index = 0; index < value.length; index++) assertWithinCap(caps, itemType, itemCap, value[index], `${path}[${index}]`);
    return;
  }
  if (isInputObjectType(nullable)) {
    if (typeof value !== 'object' || Array.isArray(value)) return;
    const object = value as Record<string, unknown>;
    for (const field of Object.values(nullable.getFields())) {
      assertWithinCap(caps, field.type, caps.bySlot.get(field), object[field.name], `${path}.${field.name}`);
    }
    return;
  }
  if (typeof value === 'string' && cap && 'maxLength' in cap && value.length > cap.maxLength) {
    throw badUserInput(path, `must be at most ${cap.maxLength} characters`);
  }
}

/** Checks one field's arguments (already coerced by graphql-js) against their caps. */
export function assertArgumentsWithinCaps(schema: GraphQLSchema, parentType: GraphQLObjectType, fieldName: string, args: Record<string, unknown>): void {
  const field: GraphQLField<unknown, unknown> | undefined = parentType.getFields()[fieldName];
  if (!field || field.args.length === 0) return;
  const caps = resolveInputCaps(schema);
  for (const arg of field.args) assertWithinCap(caps, arg.type, caps.bySlot.get(arg), args[arg.name], arg.name);
}

/** First of the global middlewares: nothing else (not even the NUL check) walks an input before its caps hold. */
export const enforceInputCaps: MiddlewareFn = ({ args, info }, next) => {
  assertArgumentsWithinCaps(info.schema, info.parentType, info.fieldName, args);
  return next();
};

/**
 * The caps applied to an operation's variables as sent, before graphql-js coerces them (coercing a
 * 110,000-item list costs tens of milliseconds of the event loop; refusing it here costs reading its
 * length). Each variable is checked where the operation uses it: as an argument, or as a field of an
 * input object literal, in the operation or in a fragment it spreads; the path named is the one the
 * resolver-side check would name. Variables elsewhere (list literals) are left to that check.
 */
export function assertVariablesWithinCaps(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Readonly<Record<string, unknown>> | undefined): void {
  if (!variables || operation.variableDefinitions?.length === 0) return;
  const caps = resolveInputCaps(schema);
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  const pending: Array<OperationDefinitionNode | FragmentDefinitionNode> = [operation];
  const spread = new Set<string>();
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    const typeInfo = new TypeInfo(schema);
    const path: string[] = [];
    visit(
      node,
      visitWithTypeInfo(typeInfo, {
        FragmentSpread(spreadNode) {
          const fragment = fragments.get(spreadNode.name.value);
          if (fragment && !spread.has(fragment.name.value)) {
            spread.add(fragment.name.value);
            pending.push(fragment);
          }
        },
        Argument: {
          enter(argument) {
            path.splice(0, path.length, argument.name.value);
            const definition = typeInfo.getArgument();
            if (argument.value.kind === Kind.VARIABLE && definition) {
              assertWithinCap(caps, definition.type, caps.bySlot.get(definition), variables[argument.value.name.value], argument.name.value);
            }
          },
        },
        ObjectField: {
          enter(field) {
            path.push(field.name.value);
            const parent = getNamedType(typeInfo.getParentInputType() ?? undefined);
            const definition = isInputObjectType(parent) ? parent.getFields()[field.name.value] : undefined;
            if (field.value.kind === Kind.VARIABLE && definition) {
              assertWithinCap(caps, definition.type, caps.bySlot.get(definition), variables[field.value.name.value], path.join('.'));
            }
          },
          leave() {
            path.pop();
          },
        },
      }),
    );
  }
}

/** assertVariablesWithinCaps for the transports: the refusal to send, or null. */
export function variablesOverCap(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Readonly<Record<string, unknown>> | undefined): GraphQLError | null {
  try {
    assertVariablesWithinCaps(schema, document, operation, variables);
    return null;
  } catch (error) {
    if (error instanceof GraphQLError) return error;
    throw error;
  }
}
