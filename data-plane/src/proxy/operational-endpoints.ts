// /healthz, /readyz and /metrics, served on the proxy port ahead of routing. Only these exact paths are
// taken, so an organization may still be called "metrics" (its routes always have a context path).
import type { DataPlaneMetrics } from '../observability/data-plane-metrics';
import type { SnapshotHolder } from '../snapshot/snapshot-holder';
import type { ProxyResponse } from './proxy-types';

export class OperationalEndpoints {
  constructor(
    private readonly holder: SnapshotHolder,
    private readonly metrics: DataPlaneMetrics,
  ) {}

  /** Answers and returns true when `path` is an operational endpoint. */
  handle(path: string, res: ProxyResponse): boolean {
    switch (path) {
      case '/healthz':
        respond(res, 200, 'text/plain; charset=utf-8', 'ok\n');
        return true;
      case '/readyz': {
        const snapshot = this.holder.current;
        if (snapshot === null) respond(res, 503, 'application/json', '{"status":"not ready","reason":"no configuration snapshot applied yet"}');
        else respond(res, 200, 'application/json', `{"status":"ready","revision":"${snapshot.revision}"}`);
        return true;
      }
      case '/metrics':
        this.metrics.render().then(
          (text) => respond(res, 200, this.metrics.contentType, text),
          () => respond(res, 500, 'text/plain; charset=utf-8', 'metrics unavailable\n'),
        );
        return true;
      default:
        return false;
    }
  }
}

function respond(res: ProxyResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}
