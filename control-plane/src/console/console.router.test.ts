import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import { consoleContentSecurityPolicy, consoleRouter, defaultConsoleDirectory } from './console.router';

async function serve(directory: string): Promise<{ url: string; close(): Promise<void> }> {
  const app = express();
  app.use('/console', consoleRouter(directory));
  app.use((_req, res) => void res.status(404).json({ code: 'NOT_FOUND' }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/console`, close: () => new Promise((resolve) => void server.close(() => resolve())) };
}

describe('consoleRouter', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'tokengate-console-'));
    mkdirSync(path.join(dir, 'assets'));
    writeFileSync(path.join(dir, 'index.html'), '<!doctype html><script type="module" src="/console/assets/index-abc123.js"></script>');
    writeFileSync(path.join(dir, 'assets', 'index-abc123.js'), 'export {};');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves index.html for revalidation and hashed assets for good, all under the CSP', async () => {
    const server = await serve(dir);
    try {
      const page = await fetch(server.url);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(page.headers.get('cache-control')).toBe('no-cache');
      expect(page.headers.get('content-security-policy')).toBe(consoleContentSecurityPolicy(new URL(server.url).host));
      expect(page.headers.get('x-frame-options')).toBe('DENY');
      const script = await fetch(`${server.url}/assets/index-abc123.js`);
      expect(script.status).toBe(200);
      expect(script.headers.get('content-type')).toContain('javascript');
      expect(script.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(script.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect((await fetch(`${server.url}/assets/missing.js`)).status).toBe(404);
      expect((await fetch(`${server.url}/assets/../index.html`)).status).not.toBe(200);
    } finally {
      await server.close();
    }
  });

  it('says how to build the console when it is not built', async () => {
    const server = await serve(path.join(dir, 'nowhere'));
    try {
      const page = await fetch(server.url);
      expect(page.status).toBe(503);
      expect(await page.text()).toContain('npm run build');
    } finally {
      await server.close();
    }
  });

  it('only lets a plain Host into the WebSocket origins', () => {
    expect(consoleContentSecurityPolicy('127.0.0.1:4000')).toContain("connect-src 'self' ws://127.0.0.1:4000 wss://127.0.0.1:4000;");
    expect(consoleContentSecurityPolicy("evil; script-src 'unsafe-inline'")).toContain("connect-src 'self';");
  });

  it('finds dist/console of the package from the source tree', () => {
    expect(defaultConsoleDirectory()).toBe(path.resolve(__dirname, '../../../dist/console'));
  });
});
