// Serves the console built by Vite (dist/console): index.html revalidated on every load, hashed assets
// cached for good, everything under a Content-Security-Policy that allows nothing but this origin
// (and its WebSocket for subscriptions).
import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { type Request, type Response, Router } from 'express';

// A Host header is client data: it only reaches the CSP when it is a plain host[:port].
const PLAIN_HOST = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/** The policy for every console response; `host` adds the same-host WebSocket origins. */
export function consoleContentSecurityPolicy(host: string | undefined): string {
  const sockets = host && PLAIN_HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    `connect-src 'self'${sockets}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Where the control plane mounts the console; the build's asset URLs start with it (console/vite.config.ts `base`). */
export const CONSOLE_PATH = '/console';

/** dist/console of the package, from the source tree (tests) as from the compiled one (dist/control-plane/...). */
export function defaultConsoleDirectory(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, 'dist', 'console');
}

export function consoleRouter(directory: string = defaultConsoleDirectory()): Router {
  const router = Router();
  const index = path.join(directory, 'index.html');

  router.use((req: Request, res: Response, next) => {
    res.set({
      'Content-Security-Policy': consoleContentSecurityPolicy(req.headers.host),
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'X-Frame-Options': 'DENY',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Resource-Policy': 'same-origin',
    });
    next();
  });
  router.get('/', (_req, res) => {
    if (!existsSync(index)) {
      res.status(503).type('text/plain').set('Cache-Control', 'no-store').send('The console is not built: run `npm run build`.\n');
      return;
    }
    res.set('Cache-Control', 'no-cache').sendFile(index);
  });
  // Vite names every asset by its content hash: a URL never changes meaning.
  router.use('/assets', express.static(path.join(directory, 'assets'), {
    index: false,
    redirect: false,
    immutable: true,
    maxAge: '365d',
  }));
  return router;
}
