import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { printGraphQLSchema } from '../../control-plane/src/graphql/schema';

describe('schema/schema.graphql', () => {
  it('is exactly what the code emits (run `npm run schema:emit` after changing the API)', async () => {
    const committed = readFileSync(join(__dirname, '../../schema/schema.graphql'), 'utf8');
    expect(await printGraphQLSchema()).toBe(committed);
  });
});
