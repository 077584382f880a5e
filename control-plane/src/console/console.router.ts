// Serves the console: one document, one stylesheet, one script and an icon, all same-origin, under a
// Content-Security-Policy that allows nothing but this origin (and its WebSocket for subscriptions).
import { type Request, type Response, Router } from 'express';
import { CONSOLE_FAVICON, consoleDocument, CONSOLE_STYLES } from './console-page';
import { CONSOLE_SCRIPT } from './console-script';

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

/** Where the control plane mounts the console; the document's asset URLs are built from it. */
export const CONSOLE_PATH = '/console';

export function consoleRouter(basePath: string = CONSOLE_PATH): Router {
  const router = Router();
  const html = consoleDocument(basePath);

  router.use((req: Request, res: Response, next) => {
    res.set({
      'Content-Security-Policy': consoleContentSecurityPolicy(req.headers.host),
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'X-Frame-Options': 'DENY',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Resource-Policy': 'same-origin',
      // Revalidate every time (ETag): the files have no version in their names.
      'Cache-Control': 'no-cache',
    });
    next();
  });
  router.get('/', (_req, res) => void res.type('html').send(html));
  router.get('/console.js', (_req, res) => void res.type('text/javascript').send(CONSOLE_SCRIPT));
  router.get('/console.css', (_req, res) => void res.type('text/css').send(CONSOLE_STYLES));
  router.get('/favicon.svg', (_req, res) => void res.type('image/svg+xml').send(CONSOLE_FAVICON));
  return router;
}
