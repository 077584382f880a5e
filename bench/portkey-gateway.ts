// The peer gateway Portkey (`@portkey-ai/gateway`, a devDependency) as the benchmark runs it: its own
// Node server (build/start-server.js, a Hono app on @hono/node-server) loaded in this process, as
// `npx @portkey-ai/gateway --port=N --headless` would start it, plus one workaround (below).
//   node dist/bench/portkey-gateway.js --port N
//
// The workaround: Portkey 1.15.2 appends its `x-portkey-*` headers to the Response it builds from the
// upstream's fetch Response; with @hono/node-server newer than 1.14.2 (npm installs 1.19.x for its
// `^1.3.3`), an SSE answer keeps the fetch Response's immutable Headers, so every streamed request
// fails with 500 `TypeError: immutable` (Portkey-AI/gateway issues 1389 and 1550, open). As its
// proposed fix does (PR 1551), an SSE answer is copied into a Response with mutable headers; here at
// fetch, before Portkey sees it. JSON answers are not touched (Portkey's JSON path does not hit it).
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/** Path of Portkey's Node entry point; null when the package is not installed. */
export function portkeyEntryPoint(): string | null {
  try {
    return createRequire(__filename).resolve('@portkey-ai/gateway/build/start-server.js');
  } catch {
    return null;
  }
}

function copySseResponsesAtFetch(): void {
  // Captured before Portkey starts: @hono/node-server then replaces the global Response with its own.
  const FetchResponse = globalThis.Response;
  const fetchUpstream = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const response = await fetchUpstream(input, init);
    if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) return response;
    return new FetchResponse(response.body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string' } } });
  if (values.port === undefined) throw new Error('--port is required');
  const entryPoint = portkeyEntryPoint();
  if (entryPoint === null) throw new Error('@portkey-ai/gateway is not installed');
  copySseResponsesAtFetch();
  // start-server.js reads its flags from process.argv and listens on every interface (no host option).
  process.argv = [process.argv[0], entryPoint, `--port=${values.port}`, '--headless'];
  // Started by the benchmark with an IPC channel: exit with the parent, however it ends.
  process.on('disconnect', () => process.exit(0));
  await import(pathToFileURL(entryPoint).href);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`portkey-gateway: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
