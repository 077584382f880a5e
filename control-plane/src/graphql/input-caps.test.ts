import { type GraphQLError, type GraphQLObjectType, type GraphQLSchema, type OperationDefinitionNode, buildSchema as buildSdl, parse } from 'graphql';
import { validateName } from '../common/validation';
import { INPUT_CAPS, MAX_ID_LENGTH, assertArgumentsWithinCaps, resolveInputCaps, variablesOverCap } from './input-caps';
import { buildGraphQLSchema } from './schema';

let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await buildGraphQLSchema();
});

function refusal(typeName: string, field: string, args: Record<string, unknown>): { field?: unknown; message: string } | null {
  try {
    assertArgumentsWithinCaps(schema, schema.getType(typeName) as GraphQLObjectType, field, args);
    return null;
  } catch (error) {
    return { field: (error as GraphQLError).extensions.field, message: (error as GraphQLError).message };
  }
}

const register = (overrides: Record<string, unknown>) => ({
  input: { organizationId: '00000000-0000-0000-0000-000000000000', scope: 'ORGANIZATION', provider: 'OPENAI', name: 'n', contextPath: '/p', serviceUrl: 'https://x.test', ...overrides },
});

describe('input caps', () => {
  it('cover every string and list input of the schema', () => {
    // resolveInputCaps throws otherwise; the schema would not have built either.
    const { coordinates } = resolveInputCaps(schema);
    const capped = [...coordinates].filter(([, { cap }]) => cap !== null).map(([coordinate]) => coordinate);
    expect(capped).toEqual(expect.arrayContaining(['RegisterGenAIServiceInput.labels', 'Mutation.addMember(email:)', 'Query.usage(groupBy:)', 'Mutation.deleteConnection(id:)']));
    expect(capped).toEqual(expect.arrayContaining([...INPUT_CAPS.keys()].filter((coordinate) => coordinates.has(coordinate))));
  });

  it('refuse a schema with an uncapped string or list, naming it', () => {
    const sdl = buildSdl(`type Query { a(tags: [String!], note: String, id: ID, n: Int): Int }`);
    expect(() => resolveInputCaps(sdl)).toThrow(/Query\.a\(tags:\) \(no cap\), Query\.a\(note:\) \(no cap\)/);
  });

  it('refuse an over-long list before looking at its items, naming the list', () => {
    const labels = Array.from({ length: 21 }, () => '<not a label>');
    expect(refusal('Mutation', 'registerGenAIService', register({ labels }))).toEqual({ field: 'input.labels', message: 'must have at most 20 items' });
    expect(refusal('Mutation', 'registerGenAIService', register({ labels: labels.slice(0, 20) }))).toBeNull();
  });

  it('refuse an over-long string, a list item and a nested field by path', () => {
    expect(refusal('Mutation', 'registerGenAIService', register({ name: 'x'.repeat(121) }))).toMatchObject({ field: 'input.name', message: 'must be at most 120 characters' });
    expect(refusal('Mutation', 'registerGenAIService', register({ labels: ['ok', 'x'.repeat(64)] }))?.field).toBe('input.labels[1]');
    const environments = [{ environment: 'production' }, { environment: 'staging', backendSecurity: { value: 'k'.repeat(4097) } }];
    expect(refusal('Mutation', 'registerGenAIService', register({ environments }))?.field).toBe('input.environments[1].backendSecurity.value');
    expect(refusal('Mutation', 'addMember', { organizationId: 'x'.repeat(MAX_ID_LENGTH + 1), email: 'a@b', role: 'ADMIN' })?.field).toBe('organizationId');
    expect(refusal('Query', 'usage', { filter: {}, groupBy: Array.from({ length: 8 }, () => 'SERVICE') })?.field).toBe('groupBy');
    expect(refusal('Connection', 'budgets', { environment: 'e'.repeat(64) })?.field).toBe('environment');
  });

  it('are the limits the domain checks apply: a value at the cap passes both', () => {
    const name = 'x'.repeat(120);
    expect(refusal('Mutation', 'registerGenAIService', register({ name }))).toBeNull();
    expect(validateName('input.name', name)).toBe(name);
  });

  it('are declared in the descriptions (ids excepted)', async () => {
    const input = schema.getType('RegisterGenAIServiceInput') as unknown as { getFields(): Record<string, { description?: string | null }> };
    expect(input.getFields().labels.description).toBe('At most 20 items, each at most 63 characters.');
    expect(input.getFields().contextPath.description).toBe('Unique within the organization, e.g. "/openai-prod". At most 200 characters.');
    expect(input.getFields().organizationId.description ?? null).toBeNull();
  });

  describe('on variables as sent, before coercion', () => {
    function variableRefusal(query: string, variables: Record<string, unknown>): { field?: unknown; message: string } | null {
      const document = parse(query);
      const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition')!;
      const refusal = variablesOverCap(schema, document, operation, variables);
      return refusal && { field: refusal.extensions.field, message: refusal.message };
    }

    it('name the same path as the resolver-side check: as an argument, as an object field, in a fragment', () => {
      const labels = Array.from({ length: 110_000 }, () => 'l');
      expect(variableRefusal('mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id } }', { i: { labels } })).toEqual({ field: 'input.labels', message: 'must have at most 20 items' });
      expect(variableRefusal('query($o: ID!, $l: [String!]) { marketplace(organizationId: $o, filter: { labels: $l }) { id } }', { o: 'x', l: labels })?.field).toBe('filter.labels');
      expect(variableRefusal('query($id: ID!, $e: String) { connection(id: $id) { ...F } } fragment F on Connection { budgets(environment: $e) { limit } }', { id: 'x', e: 'e'.repeat(64) })?.field).toBe('environment');
      expect(variableRefusal('mutation($s: ID!, $v: String) { configureServiceEnvironment(serviceId: $s, environment: "production", input: { backendSecurity: { value: $v } }) { id } }', { s: 'x', v: 'k'.repeat(4097) })?.field).toBe('input.backendSecurity.value');
    });

    it('pass values within the caps, and values of the wrong shape (coercion refuses those)', () => {
      expect(variableRefusal('mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id } }', { i: { name: 'ok', labels: ['a', 'b'] } })).toBeNull();
      expect(variableRefusal('mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id } }', { i: { name: 42, labels: 'one', environments: { environment: 'x' } } })).toBeNull();
      expect(variableRefusal('mutation($i: RegisterGenAIServiceInput!) { registerGenAIService(input: $i) { id } }', { i: ['not', 'an', 'object'] })).toBeNull();
    });
  });
});
