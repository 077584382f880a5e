// Before starting: can we reach PostgreSQL and Redis? If not, say which, where, and how to start it.
import { Socket } from 'node:net';
import { Client } from 'pg';

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
    const redis = new URL(redisUrl);
    if (!(await tcpReachable(redis.hostname, Number(redis.port || 6379)))) {
      problems.push(
        `Redis is not reachable at ${redis.hostname}:${redis.port || 6379} (REDIS_URL=${redact(redisUrl)}).\n` +
          '  Start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no',
      );
    }
  }
  return problems;
}
