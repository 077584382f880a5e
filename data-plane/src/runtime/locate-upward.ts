// Finds repository files (the proto contract, package.json) from both the TypeScript sources (jest)
// and the compiled tree (dist/data-plane/src/...), which sit at different depths.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Walks up from `startDir` and returns the first `<dir>/<relativePath>` that exists.
 * Throws when none does, naming the start so a misplaced deployment is easy to diagnose.
 */
export function locateUpward(relativePath: string, startDir: string = __dirname): string {
  let dir = startDir;
  for (;;) {
    const candidate = join(dir, relativePath);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find ${relativePath} in ${startDir} or any parent directory`);
    dir = parent;
  }
}
