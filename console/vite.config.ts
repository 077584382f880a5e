// Builds the console into dist/console, served by the control plane at /console under a CSP that
// allows only this origin: no inline scripts or styles, no data: URIs, no CDN.
import { env } from 'node:process';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/console/',
  publicDir: false,
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // Inlined assets would be data: URIs, which img-src 'self' refuses; the polyfill is not needed in Chromium, Firefox or Safari.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 1024,
  },
  // `npm run console:dev`: GraphQL and its subscriptions go to a running control plane.
  server: { proxy: { '/graphql': { target: env.TOKENGATE_CONTROL_PLANE_URL ?? 'http://127.0.0.1:4000', ws: true } } },
  logLevel: 'warn',
});
