// The floor: the least a single Node process must do to proxy HTTP/1.1 (node:http server, keep-alive
// agent, bodies piped both ways, hop-by-hop headers dropped). No routing, auth or accounting.
//   node dist/bench/passthrough-proxy.js --upstream http://127.0.0.1:PORT [--port 0]
import http from 'node:http';
import { parseArgs } from 'node:util';

const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection'];

export function createPassthroughProxy(upstreamUrl: string): http.Server {
  const upstream = new URL(upstreamUrl);
  const agent = new http.Agent({ keepAlive: true, scheduling: 'lifo', maxFreeSockets: 256 });
  return http.createServer((req, res) => {
    const headers: http.OutgoingHttpHeaders = { ...req.headers, host: upstream.host };
    for (const name of HOP_BY_HOP) delete headers[name];
    const outgoing = http.request({ agent, hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (response) => {
      const responseHeaders: http.OutgoingHttpHeaders = { ...response.headers };
      for (const name of HOP_BY_HOP) delete responseHeaders[name];
      res.writeHead(response.statusCode ?? 502, responseHeaders);
      response.pipe(res);
    });
    outgoing.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    res.on('close', () => {
      if (!res.writableFinished) outgoing.destroy();
    });
    req.pipe(outgoing);
  });
}

function main(): void {
  const { values } = parseArgs({ options: { upstream: { type: 'string' }, port: { type: 'string', default: '0' } } });
  if (values.upstream === undefined) throw new Error('--upstream is required');
  const server = createPassthroughProxy(values.upstream);
  server.keepAliveTimeout = 65_000;
  server.listen(Number(values.port), '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`${JSON.stringify({ listening: typeof address === 'object' && address !== null ? address.port : 0 })}\n`);
  });
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0)); // an exit, so that --cpu-prof (BENCH_PROXY_CPU_PROF) writes its profile
}

if (require.main === module) main();
