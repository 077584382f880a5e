import type { EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';
import { notFound } from './errors';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/**
 * Loads a row by id or throws NOT_FOUND. A malformed id is simply not found (never a database error),
 * and `visible` lets callers hide rows of other organizations behind the same NOT_FOUND.
 */
export async function findByIdOrNotFound<T extends ObjectLiteral & { id: string }>(
  tx: EntityManager,
  entity: EntityTarget<T>,
  id: string,
  what: string,
  visible: (row: T) => boolean = () => true,
  options: { readonly lock?: 'share' } = {},
): Promise<T> {
  let row: T | null = null;
  if (isUuid(id)) {
    const repository = tx.getRepository(entity);
    // lock 'share': SELECT … FOR SHARE (in a transaction), taken before `visible` is asked.
    row = options.lock === 'share' ? await repository.findOne({ where: { id } as never, lock: { mode: 'pessimistic_read' } }) : await repository.findOneBy({ id } as never);
  }
  if (!row || !visible(row)) throw notFound(what, id);
  return row;
}
