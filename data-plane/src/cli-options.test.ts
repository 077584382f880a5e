import { DataPlaneCliUsageError, parseDataPlaneCliOptions } from './cli-options';

const files: Record<string, Buffer> = { '/tls/cert.pem': Buffer.from('CERT'), '/tls/key.pem': Buffer.from('KEY'), '/cp/ca.pem': Buffer.from('CA') };
const readFile = (path: string): Buffer => {
  const content = files[path];
  if (content === undefined) throw new Error('ENOENT');
  return content;
};

function parse(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const parsed = parseDataPlaneCliOptions(argv, env, readFile);
  if (parsed === 'help') throw new Error('unexpected help');
  return parsed;
}

describe('parseDataPlaneCliOptions', () => {
  it('applies the documented defaults', () => {
    expect(parse(['--environment', 'production'])).toEqual({
      logLevel: 'info',
      options: {
        environment: 'production',
        host: '127.0.0.1',
        port: 8080,
        controlPlane: { address: '127.0.0.1:50051' },
        proxyId: undefined,
        maxBodyBytes: undefined,
        upstreamHeadersTimeoutMs: undefined,
        upstreamIdleTimeoutMs: undefined,
        realtimeKeepaliveMs: undefined,
        shutdownGraceMs: undefined,
        accessLog: false,
        rateLimiting: { redisUrl: 'redis://127.0.0.1:6379', redisNamespace: 'tokengate', redisTimeoutMs: undefined, leaseShare: undefined, leaseCap: undefined, localShare: undefined, defaultCompletionTokens: undefined, usageReportIntervalMs: undefined },
      },
    });
  });

  it('reads the rate-limiting settings and refuses a share outside (0, 1]', () => {
    const { options } = parse(['--environment', 'production', '--local-share', '0.25', '--redis-timeout-ms', '20'], { REDIS_URL: 'redis://redis:6379', TOKENGATE_DEFAULT_COMPLETION_TOKENS: '512', TOKENGATE_REDIS_NAMESPACE: 'staging' });
    expect(options.rateLimiting).toEqual({ redisUrl: 'redis://redis:6379', redisNamespace: 'staging', redisTimeoutMs: 20, leaseShare: undefined, leaseCap: undefined, localShare: 0.25, defaultCompletionTokens: 512, usageReportIntervalMs: undefined });
    expect(() => parse(['--environment', 'production', '--local-share', '1.5'])).toThrow(/local-share/);
  });

  it('reads the degraded-mode settings: lease (share in [0, 1]) or an explicit fail-open', () => {
    const leased = parse(['--environment', 'production', '--lease-share', '0.1'], { TOKENGATE_DEGRADED_BUDGET: 'lease' }).options.rateLimiting;
    expect(leased).toMatchObject({ degradedMode: 'lease', leaseShare: 0.1 });
    expect(parse(['--environment', 'production', '--degraded-budget', 'fail-open']).options.rateLimiting).toMatchObject({ degradedMode: 'fail-open' });
    expect(() => parse(['--environment', 'production', '--degraded-budget', 'open'])).toThrow(/--degraded-budget \(TOKENGATE_DEGRADED_BUDGET\) must be lease or fail-open/);
    expect(() => parse(['--environment', 'production', '--lease-share', '-0.1'])).toThrow(/--lease-share \(TOKENGATE_BUDGET_LEASE_SHARE\) must be a number in \[0, 1\]/);
  });

  it('takes a Redis Cluster URL and refuses a malformed one with the syntax, never the password', () => {
    const cluster = 'redis+cluster://:s3cret@redis-0:7000,redis-1:7001';
    expect(parse(['--environment', 'production', '--redis-url', cluster]).options.rateLimiting?.redisUrl).toBe(cluster);
    const refusal = () => parse(['--environment', 'production'], { REDIS_URL: 'redis+cluster://:s3cret@redis-0:7000/2' });
    expect(refusal).toThrow(DataPlaneCliUsageError);
    expect(refusal).toThrow(/--redis-url \(REDIS_URL\): a cluster URL is redis\+cluster:\/\/\[user:password@\]host:port,host:port/);
    expect(refusal).not.toThrow(/s3cret/);
  });

  it('reads variables, lets flags win, and loads TLS material', () => {
    const { options } = parse(['--port=9090', '--tls-cert', '/tls/cert.pem', '--tls-key', '/tls/key.pem', '--access-log', 'true'], {
      TOKENGATE_ENVIRONMENT: 'development',
      TOKENGATE_PROXY_PORT: '8081',
      TOKENGATE_CONTROL_PLANE_GRPC: 'cp:50051',
      TOKENGATE_DATAPLANE_TOKEN: 'secret-token',
      TOKENGATE_CONTROL_PLANE_CA: '/cp/ca.pem',
      TOKENGATE_PROXY_ID: 'proxy-a',
      TOKENGATE_MAX_BODY_BYTES: '2048',
      TOKENGATE_UPSTREAM_CA_FILE: '/cp/ca.pem',
      TOKENGATE_PROXY_LISTEN_BACKLOG: '8192',
      TOKENGATE_REALTIME_KEEPALIVE_MS: '15000',
    });
    expect(options).toMatchObject({
      environment: 'development',
      port: 9090,
      tls: { cert: Buffer.from('CERT'), key: Buffer.from('KEY') },
      controlPlane: { address: 'cp:50051', token: 'secret-token', tls: { caCert: Buffer.from('CA') } },
      proxyId: 'proxy-a',
      maxBodyBytes: 2048,
      accessLog: true,
      upstreamAgents: { freeSocketTimeoutMs: 15_000, maxSocketsPerOrigin: null, ca: Buffer.from('CA') },
      listenBacklog: 8192,
      realtimeKeepaliveMs: 15_000,
    });
  });

  it.each([
    [[], {}, '--environment (TOKENGATE_ENVIRONMENT) is required'],
    [['--environment', 'p', '--port', 'eighty'], {}, '--port (TOKENGATE_PROXY_PORT) must be an integer from 0 to 65535, got "eighty"'],
    [['--environment', 'p', '--tls-cert', '/tls/cert.pem'], {}, '--tls-cert and --tls-key go together'],
    [['--environment', 'p', '--tls-cert', '/missing', '--tls-key', '/tls/key.pem'], {}, '--tls-cert: cannot read /missing'],
    [['--environment', 'p', '--realtime-keepalive-ms', '10'], {}, '--realtime-keepalive-ms (TOKENGATE_REALTIME_KEEPALIVE_MS) must be an integer from 100 to 3600000, got "10"'],
    [['--environment'], {}, '--environment needs a value'],
    [['--token', 'x'], {}, 'unknown flag --token'],
    [['production'], {}, 'unexpected argument "production"'],
  ])('rejects %j', (argv, env, message) => {
    expect(() => parseDataPlaneCliOptions(argv, env, readFile)).toThrow(DataPlaneCliUsageError);
    expect(() => parseDataPlaneCliOptions(argv, env, readFile)).toThrow(message);
  });

  it('answers --help', () => {
    expect(parseDataPlaneCliOptions(['--environment', 'p', '--help'], {}, readFile)).toBe('help');
  });
});
