// The TypeScript types both planes use are generated from proto/ and committed (proto/generated);
// this regenerates them and fails when the committed files differ (run `node proto/generate-types.js`).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import SHARED_LOADER_OPTIONS from '../../../proto/loader-options.json';
import { CONFIG_PROTO_OPTIONS } from './config-proto';

const ROOT = join(__dirname, '../../..');

function filesUnder(root: string, dir = root): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(root, path) : [relative(root, path)];
  });
}

it('the committed proto/generated types are what the generator writes today', () => {
  const out = mkdtempSync(join(tmpdir(), 'tokengate-proto-types-'));
  try {
    execFileSync(process.execPath, [join(ROOT, 'proto/generate-types.js'), out], { cwd: ROOT, stdio: 'pipe' });
    const committed = join(ROOT, 'proto/generated');
    const generated = filesUnder(out).sort();
    expect(filesUnder(committed).sort()).toEqual(generated);
    for (const file of generated) {
      expect({ file, text: readFileSync(join(committed, file), 'utf8') }).toEqual({ file, text: readFileSync(join(out, file), 'utf8') });
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

it('the control plane loads the proto with the shared options the types were generated for', () => {
  expect(SHARED_LOADER_OPTIONS).toEqual({ keepCase: true, longs: 'String', enums: 'String', defaults: true, oneofs: true });
  expect(CONFIG_PROTO_OPTIONS).toEqual({ keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
});
