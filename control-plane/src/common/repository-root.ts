import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Walks up from `start` to the directory holding proto/ (works from sources and from dist/). */
export function findRepositoryRoot(start: string): string {
  let dir = start;
  while (!existsSync(join(dir, 'proto', 'tokengate', 'v1'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the Tokengate repository root above ${start}`);
    dir = parent;
  }
  return dir;
}
