// What ships is only product: the build output (`npm run build`: tsc into dist/ and the console into
// dist/console — what the Docker image copies) holds no test code, and nothing in it loads a module
// from the repository's test/ folder (fakes, harnesses, fixtures).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');
const dist = path.join(root, 'dist');
/** What tsconfig.build.json and the console build emit (dist/bench comes from the benchmark build, which does not ship). */
const SHIPPED = ['control-plane', 'data-plane', 'cli', 'console'];

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

beforeAll(() => {
  // `npm test` builds first; a lone run of this file builds the server side itself.
  if (!existsSync(path.join(dist, 'control-plane'))) execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'pipe' });
}, 300_000);

it('holds no test files, harnesses, fakes or fixtures', () => {
  const files = SHIPPED.flatMap((dir) => filesUnder(path.join(dist, dir))).map((file) => path.relative(dist, file));
  expect(files.length).toBeGreaterThan(100);
  const testLike = files.filter((file) => /(^|\/)(test|tests|testing|fakes|fixtures|__tests__)(\/|$)|\.test\.js$|observer-harness|proxy-harness|snapshot-fixtures/.test(file));
  expect(testLike).toEqual([]);
});

it('loads nothing from the repository’s test folder', () => {
  const offending: string[] = [];
  for (const dir of SHIPPED.slice(0, 3)) {
    for (const file of filesUnder(path.join(dist, dir)).filter((f) => f.endsWith('.js'))) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/require\("(\.{1,2}\/[^"]+)"\)/g)) {
        // dist/<x> mirrors <x>: where the required module lives in the repository.
        const target = path.relative(root, path.resolve(path.dirname(file).replace(dist, root), match[1]));
        if (target.split(path.sep)[0] === 'test') offending.push(`${path.relative(dist, file)} requires ${match[1]}`);
      }
    }
  }
  expect(offending).toEqual([]);
});
