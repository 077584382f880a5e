// PostgreSQL text cannot hold U+0000: a string argument carrying it would fail deep in the driver as an
// internal error. This type-graphql middleware refuses it up front as BAD_USER_INPUT naming the field.
import type { MiddlewareFn } from 'type-graphql';
import { badUserInput } from '../common/errors';

/** The path (`input.name`, `filter.search`, `items.2`) of the first string containing NUL, or null. */
export function findNulCharacter(value: unknown, path: string): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path : null;
  if (value === null || typeof value !== 'object') return null;
  for (const [key, nested] of Object.entries(value)) {
    const found = findNulCharacter(nested, path === '' ? key : `${path}.${key}`);
    if (found !== null) return found;
  }
  return null;
}

export const rejectNulCharacters: MiddlewareFn = ({ args }, next) => {
  const field = findNulCharacter(args, '');
  if (field !== null) throw badUserInput(field, 'must not contain the NUL character (U+0000)');
  return next();
};
