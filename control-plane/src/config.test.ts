import { randomBytes } from 'node:crypto';
import { ConfigError, loadControlPlaneConfig } from './config';

describe('loadControlPlaneConfig', () => {
  const key = randomBytes(32).toString('base64');

  it('uses the documented defaults', () => {
    const config = loadControlPlaneConfig({ TOKENGATE_SECRET_KEY: key, TOKENGATE_DATAPLANE_TOKEN: 't' });
    expect(config).toMatchObject({ databaseUrl: 'postgres://postgres@127.0.0.1:5432/tokengate', redisUrl: 'redis://127.0.0.1:6379', port: 4000, grpcPort: 50051, developmentMode: false });
  });

  it('refuses to start without a secret key outside development mode; the installation-wide data-plane token is optional (per-environment credentials)', () => {
    expect(() => loadControlPlaneConfig({ TOKENGATE_DATAPLANE_TOKEN: 't' })).toThrow(ConfigError);
    expect(loadControlPlaneConfig({ TOKENGATE_SECRET_KEY: key }).dataPlaneToken).toBeUndefined();
    expect(() => loadControlPlaneConfig({ TOKENGATE_SECRET_KEY: 'bad', TOKENGATE_DATAPLANE_TOKEN: 't' })).toThrow(/32 random bytes/);
    expect(loadControlPlaneConfig({ TOKENGATE_MODE: 'development' }).developmentMode).toBe(true);
  });

  it('refuses to send provider credentials over a non-loopback cleartext gRPC listener outside development mode, unless allowed', () => {
    const base = { TOKENGATE_SECRET_KEY: key };
    expect(() => loadControlPlaneConfig({ ...base, TOKENGATE_GRPC_HOST: '0.0.0.0' })).toThrow(/refusing to send provider credentials to proxies in cleartext on 0\.0\.0\.0/);
    expect(() => loadControlPlaneConfig({ ...base, TOKENGATE_GRPC_HOST: '10.0.0.5' })).toThrow(/TOKENGATE_GRPC_TLS_CERT/);
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) expect(loadControlPlaneConfig({ ...base, TOKENGATE_GRPC_HOST: host }).grpcHost).toBe(host);
    expect(loadControlPlaneConfig({ ...base, TOKENGATE_GRPC_HOST: '0.0.0.0', TOKENGATE_GRPC_ALLOW_CLEARTEXT: 'true' }).grpcHost).toBe('0.0.0.0');
    expect(loadControlPlaneConfig({ ...base, TOKENGATE_GRPC_HOST: '0.0.0.0', TOKENGATE_GRPC_TLS_CERT: '/c.pem', TOKENGATE_GRPC_TLS_KEY: '/k.pem' }).grpcTls).toEqual({ certFile: '/c.pem', keyFile: '/k.pem', clientCaFile: undefined });
    expect(loadControlPlaneConfig({ TOKENGATE_MODE: 'development', TOKENGATE_GRPC_HOST: '0.0.0.0' }).grpcHost).toBe('0.0.0.0');
  });

  it('refuses malformed numbers', () => {
    expect(() => loadControlPlaneConfig({ TOKENGATE_MODE: 'development', TOKENGATE_PORT: 'eighty' })).toThrow(/TOKENGATE_PORT/);
  });

  it('refuses a DATABASE_URL that is not a PostgreSQL URL, saying what one looks like', () => {
    expect(loadControlPlaneConfig({ TOKENGATE_MODE: 'development', DATABASE_URL: 'postgresql://app@db.internal/tokengate' }).databaseUrl).toBe('postgresql://app@db.internal/tokengate');
    for (const url of ['127.0.0.1:5432/tokengate', 'mysql://root@127.0.0.1/tokengate']) {
      expect(() => loadControlPlaneConfig({ TOKENGATE_MODE: 'development', DATABASE_URL: url })).toThrow(`DATABASE_URL must be a PostgreSQL URL such as postgres://postgres@127.0.0.1:5432/tokengate, got "${url}"`);
    }
  });

  it('takes a Redis Cluster URL and refuses a malformed one, saying the syntax', () => {
    const cluster = 'redis+cluster://redis-0:7000,redis-1:7001,redis-2:7002';
    expect(loadControlPlaneConfig({ TOKENGATE_MODE: 'development', REDIS_URL: cluster }).redisUrl).toBe(cluster);
    expect(() => loadControlPlaneConfig({ TOKENGATE_MODE: 'development', REDIS_URL: 'redis+cluster://redis-0:7000?db=1' })).toThrow(ConfigError);
    expect(() => loadControlPlaneConfig({ TOKENGATE_MODE: 'development', REDIS_URL: 'redis+cluster://redis-0:seventy' })).toThrow(/^REDIS_URL: "redis-0:seventy" is not host:port/);
  });
});
