import { Cluster, Redis } from 'ioredis';
import { createRedisClient, parseRedisUrl, redact, RedisUrlError } from './redis-connection';

describe('parseRedisUrl', () => {
  it('leaves a single Redis URL to ioredis, unchanged', () => {
    for (const url of ['redis://127.0.0.1:6379', 'rediss://:pw@redis.example:6380/2', 'redis://redis', 'redis://:pa,ss@redis:6379']) expect(parseRedisUrl(url)).toEqual({ kind: 'single', url });
  });

  it('reads the nodes, credentials and TLS of a cluster URL', () => {
    expect(parseRedisUrl('redis+cluster://10.0.0.1:7000,redis-1:7001,[::1]:7002,redis-3')).toEqual({
      kind: 'cluster',
      nodes: [{ host: '10.0.0.1', port: 7000 }, { host: 'redis-1', port: 7001 }, { host: '::1', port: 7002 }, { host: 'redis-3', port: 6379 }],
      tls: false,
    });
    expect(parseRedisUrl('rediss+cluster://app:p%40ss@redis-0:7000/')).toEqual({ kind: 'cluster', nodes: [{ host: 'redis-0', port: 7000 }], username: 'app', password: 'p@ss', tls: true });
    expect(parseRedisUrl('redis+cluster://:secret@redis-0:7000')).toMatchObject({ password: 'secret' });
    expect(parseRedisUrl('redis+cluster://app@redis-0:7000')).toMatchObject({ username: 'app' });
  });

  it.each(['redis://redis-0:7000,redis-1:7001', 'redis+cluster://', 'redis+cluster://redis-0:7000/1', 'redis+cluster://redis-0:7000?tls=true', 'redis+cluster://redis-0:0', 'redis+cluster://redis-0:7000,,redis-1:7001', 'redis+cluster://redis-0:x'])(
    'refuses %s with the syntax',
    (url) => {
      expect(() => parseRedisUrl(url)).toThrow(RedisUrlError);
    },
  );

  it('never puts a password in a message', () => {
    expect(() => parseRedisUrl('redis+cluster://app:hunter2@redis-0:7000/9')).toThrow('got "redis+cluster://app:***@redis-0:7000/9"');
    expect(redact('redis+cluster://:hunter2@a:1,b:2')).toBe('redis+cluster://:***@a:1,b:2');
  });
});

describe('createRedisClient', () => {
  it('makes a Redis for one node and a Cluster for a cluster URL, without connecting', () => {
    const single = createRedisClient('redis://127.0.0.1:6379', { lazyConnect: true });
    const cluster = createRedisClient('redis+cluster://:pw@127.0.0.1:7000,127.0.0.1:7001', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 5 });
    try {
      expect(single).toBeInstanceOf(Redis);
      expect(cluster).toBeInstanceOf(Cluster);
      const options = (cluster as Cluster).options;
      expect(options).toMatchObject({ enableOfflineQueue: false, lazyConnect: true, redisOptions: { maxRetriesPerRequest: 0, password: 'pw' } });
      expect(options.clusterRetryStrategy?.(1)).toBe(5);
      // Unset options keep ioredis' defaults (an explicit undefined would override them).
      expect((createRedisClient('redis+cluster://127.0.0.1:7000', { lazyConnect: true }) as Cluster).options.enableOfflineQueue).toBe(true);
    } finally {
      single.disconnect();
      cluster.disconnect();
    }
  });
});
