// Finding programs and ports on the machine the benchmark runs on.
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** Path of an executable found on PATH or among `extraCandidates`; null when there is none. */
export function findExecutable(name: string, extraCandidates: readonly string[] = []): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir !== '' && existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  return extraCandidates.find((candidate) => existsSync(candidate)) ?? null;
}

/** A port that was free a moment ago (for programs that cannot listen on port 0 and report it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
