// `npm run schema:emit`: writes schema/schema.graphql from the type-graphql classes.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { printGraphQLSchema } from './schema';
import { findRepositoryRoot } from '../common/repository-root';

void printGraphQLSchema().then((sdl) => {
  const target = resolve(findRepositoryRoot(__dirname), 'schema/schema.graphql');
  writeFileSync(target, sdl);
  console.log(`wrote ${target}`);
});
