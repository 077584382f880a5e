// `npm start` is for one machine: it keeps a generated admin token, secret key and data-plane token in
// .tokengate/dev.env so restarts can still decrypt what was stored. Explicit variables win.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const GENERATED = {
  TOKENGATE_ADMIN_TOKEN: () => `tgp_admin_${randomBytes(24).toString('base64url')}`,
  TOKENGATE_SECRET_KEY: () => randomBytes(32).toString('base64'),
  TOKENGATE_DATAPLANE_TOKEN: () => `tgd_${randomBytes(24).toString('base64url')}`,
};

export function loadOrCreateDevSecrets(root: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.TOKENGATE_STATE_DIR || join(root, '.tokengate');
  const file = join(dir, 'dev.env');
  const stored = new Map<string, string>();
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
      if (match) stored.set(match[1], match[2]);
    }
  }
  let changed = false;
  for (const [name, generate] of Object.entries(GENERATED)) {
    if (!stored.has(name)) {
      stored.set(name, generate());
      changed = true;
    }
    env[name] ||= stored.get(name);
  }
  if (changed) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(file, [...stored].map(([k, v]) => `${k}=${v}`).join('\n') + '\n', { mode: 0o600 });
  }
  return file;
}
