import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/**
 * The modules a file loads at run time, following relative imports and re-exports; imports of types
 * only (`import type`, or every specifier marked `type`) are erased by the compilers and not followed.
 */
function runtimeModuleGraph(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [entry];
  const statement = /^(?:import|export)\s+(type\s+)?([^;]*?)\s+from\s+'([^']+)';/gm;
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const [, typeOnly, clause, specifier] of readFileSync(file, 'utf8').matchAll(statement)) {
      const names = /^\{([\s\S]*)\}$/.exec(clause.trim())?.[1].split(',').map((name) => name.trim()).filter((name) => name !== '');
      if (typeOnly !== undefined || (names !== undefined && names.every((name) => name.startsWith('type ')))) continue;
      if (specifier.startsWith('.')) pending.push(join(dirname(file), `${specifier}.ts`));
      else packages.add(specifier);
    }
  }
  return { files: [...files].map((file) => relative(join(__dirname, '..'), file)).sort(), packages: [...packages].sort() };
}

describe('token-worker', () => {
  it('loads prompt counting and the encoders only: no usage observers, adapters, signing or HTTP code', () => {
    const { files, packages } = runtimeModuleGraph(join(__dirname, 'token-worker.ts'));
    expect(packages).toEqual(['js-tiktoken/lite', 'js-tiktoken/ranks/cl100k_base', 'js-tiktoken/ranks/o200k_base', 'node:crypto', 'node:worker_threads']);
    expect(files).toContain('providers/prompt-registry.ts');
    expect(files).toContain('providers/aws-bedrock/bedrock-prompt.ts');
    expect(files.filter((file) => /-usage\.ts$|-adapter\.ts$|-observer\.ts$|sigv4|provider-registry/.test(file))).toEqual([]);
  });
});
