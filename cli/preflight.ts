// Before starting: can we reach PostgreSQL and Redis? If not, say which, where, and how to start it.
import { Socket, createServer } from 'node:net';
import { Client } from 'pg';
import { parseRedisUrl, redact as redactRedisUrl } from '../control-plane/src/common/redis-connection';

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

async function tcpReachable(host: string, port: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, host, () => done(true));
  });
}

export async function checkDependencies(databaseUrl: string, redisUrl: string | null): Promise<string[]> {
  const problems: string[] = [];
  const db = new URL(databaseUrl);
  const client = new Client({ connectionString: Object.assign(new URL(databaseUrl), { pathname: '/postgres' }).toString(), connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
  } catch (error) {
    problems.push(
      `PostgreSQL is not reachable at ${db.hostname}:${db.port || 5432} (DATABASE_URL=${redact(databaseUrl)}): ${(error as Error).message}.\n` +
        '  Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
    );
  } finally {
    await client.end().catch(() => undefined);
  }
  if (redisUrl) {
    const target = parseRedisUrl(redisUrl);
    // A cluster is reachable when one of its listed nodes is (the client discovers the others).
    const single = target.kind === 'single' ? new URL(redisUrl) : null;
    const nodes = single ? [{ host: single.hostname, port: Number(single.port || 6379) }] : target.kind === 'cluster' ? target.nodes : [];
    const reachable = await Promise.all(nodes.map((node) => tcpReachable(node.host, node.port)));
    if (!reachable.includes(true)) {
      problems.push(
        `Redis is not reachable at ${nodes.map((node) => `${node.host}:${node.port}`).join(', ')} (REDIS_URL=${redactRedisUrl(redisUrl)}).\n` +
          '  Start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no',
      );
    }
  }
  return problems;
}

export interface Listener {
  host: string;
  port: number;
  /** What listens there, e.g. "the development proxy". */
  what: string;
  /** The variable that moves it. */
  variable: string;
}

/**
 * Which of `listeners` cannot be bound now. `tokengate start` asks before starting anything: a proxy
 * port held by another Tokengate would otherwise answer the new one's readiness check for it.
 */
export async function checkListenersFree(listeners: Listener[]): Promise<string[]> {
  const problems = await Promise.all(
    listeners
      .filter((l) => l.port !== 0)
      .map(
        (l) =>
          new Promise<string | null>((resolve) => {
            const probe = createServer();
            probe.once('error', (error: NodeJS.ErrnoException) =>
              resolve(`${l.host}:${l.port} (${l.what}) is in use${error.code === 'EADDRINUSE' ? ' (is Tokengate already running?)' : `: ${error.message}`}; stop what holds it or set ${l.variable}`),
            );
            probe.listen(l.port, l.host, () => probe.close(() => resolve(null)));
          }),
      ),
  );
  return problems.filter((p): p is string => p !== null);
}
