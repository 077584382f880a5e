import { apiKeyAuth, consumerKeyFixture, rateLimitFixture, serviceFixture, sigV4Auth, snapshotFixture, TEST_AWS_CREDENTIALS, TEST_ENVIRONMENT } from '../../../test/support/data-plane/snapshot-fixtures';
import type { ServiceMessage } from '../config-stream/wire-types';
import { SnapshotCompileError, SnapshotCompiler } from './snapshot-compiler';
import { UpstreamAgentPool } from './upstream-target';

const pool = new UpstreamAgentPool();
const compiler = new SnapshotCompiler({ environment: TEST_ENVIRONMENT, agentPool: pool });

afterAll(() => pool.destroyAll());

function compileServices(...services: ServiceMessage[]) {
  return compiler.compile(snapshotFixture({ revision: 7, services }));
}

function reasonFor(...services: ServiceMessage[]): string {
  try {
    compileServices(...services);
  } catch (error) {
    expect(error).toBeInstanceOf(SnapshotCompileError);
    return (error as Error).message;
  }
  throw new Error('expected the snapshot to be refused');
}

describe('SnapshotCompiler', () => {
  it('compiles routes, keys, upstreams and authenticators once', () => {
    const compiled = compiler.compile(
      snapshotFixture({
        revision: '18446744073709551615',
        services: [
          serviceFixture({ id: 'openai', upstream_url: 'https://api.openai.com/v1/', rate_limit: rateLimitFixture({ max_prompt_tokens: '500' }) }),
          serviceFixture({ id: 'bedrock', provider: 'AWS_BEDROCK', upstream_url: 'http://[::1]:8443', backend_auth: sigV4Auth() }),
          serviceFixture({ id: 'unconfigured', backend_auth: null }),
        ],
        consumerKeys: [consumerKeyFixture('tgk_openai', 'openai')],
      }),
    );
    expect(compiled.revision).toBe(18446744073709551615n);
    expect(Object.isFrozen(compiled)).toBe(true);
    const openai = compiled.services.get('openai');
    expect(openai?.upstream).toMatchObject({ protocol: 'https:', hostname: 'api.openai.com', port: 443, hostHeader: 'api.openai.com', basePath: '/v1', origin: 'https://api.openai.com' });
    expect(openai?.authenticator?.kind).toBe('headers');
    expect(openai?.rateLimit).toEqual({ timeUnit: 'MINUTE', maxPromptTokens: 500n, maxCompletionTokens: null, maxTotalTokens: 1000n, shadow: false });
    expect(compiled.services.get('bedrock')?.upstream).toMatchObject({ hostname: '::1', port: 8443, hostHeader: '[::1]:8443', basePath: '' });
    expect(compiled.services.get('bedrock')?.authenticator?.kind).toBe('signed-body');
    expect(compiled.services.get('unconfigured')?.authenticator).toBeNull();
    expect(compiled.routes.match('acme', '/openai/chat/completions')?.service.id).toBe('openai');
    expect(compiled.consumerKeys.lookup('tgk_openai')).toEqual({ connectionId: 'conn-openai', serviceId: 'openai', projectId: 'project-1', organizationId: 'org-acme' });
    expect(compiled.consumerKeys.lookup('tgk_other')).toBeUndefined();
  });

  it('shares one keep-alive agent per upstream origin', () => {
    const compiled = compileServices(
      serviceFixture({ id: 'a', upstream_url: 'http://127.0.0.1:7001/x' }),
      serviceFixture({ id: 'b', upstream_url: 'http://127.0.0.1:7001/y' }),
      serviceFixture({ id: 'c', upstream_url: 'http://127.0.0.1:7002' }),
    );
    const agent = (id: string) => compiled.services.get(id)?.upstream.agent;
    expect(agent('a')).toBe(agent('b'));
    expect(agent('a')).not.toBe(agent('c'));
    expect(compileServices(serviceFixture({ id: 'a', upstream_url: 'http://127.0.0.1:7001' })).services.get('a')?.upstream.agent).toBe(agent('a'));
  });

  it.each<[string, ServiceMessage, string]>([
    ['a malformed upstream URL', serviceFixture({ id: 's', upstream_url: 'not a url' }), 'service s: upstream_url "not a url" is not a valid URL'],
    ['a non-HTTP upstream URL', serviceFixture({ id: 's', upstream_url: 'ftp://example.com' }), 'must use http or https'],
    ['an upstream URL with a query', serviceFixture({ id: 's', upstream_url: 'https://example.com/v1?x=1' }), 'must not have a query or fragment'],
    ['an upstream URL with user info', serviceFixture({ id: 's', upstream_url: 'https://user:pw@example.com' }), 'must not contain user info'],
    // An enum value this proxy does not know (a newer control plane) decodes as its number, outside the generated type.
    ['an unknown provider', serviceFixture({ id: 's', provider: 42 as unknown as ServiceMessage['provider'] }), 'service s: provider 42 is not supported by this proxy'],
    ['an unspecified provider', serviceFixture({ id: 's', provider: 'PROVIDER_UNSPECIFIED' }), 'provider PROVIDER_UNSPECIFIED is not supported'],
    ['a context path with a trailing slash', serviceFixture({ id: 's', context_path: '/x/' }), 'context_path "/x/" is not normalized'],
    ['a context path with a dot segment', serviceFixture({ id: 's', context_path: '/x/../y' }), 'is not normalized'],
    ['an empty organization handle', serviceFixture({ id: 's', organization_handle: '' }), 'organization_handle "" is not a valid handle'],
    ['SigV4 without a region', serviceFixture({ id: 's', provider: 'AWS_BEDROCK', backend_auth: sigV4Auth({ region: '' }) }), 'service s: backend_auth: aws_sigv4.region is empty'],
    ['SigV4 without an access key', serviceFixture({ id: 's', provider: 'AWS_BEDROCK', backend_auth: sigV4Auth({ accessKeyId: '' }) }), 'aws_sigv4.access_key_id is empty'],
    ['SigV4 without a secret', serviceFixture({ id: 's', provider: 'AWS_BEDROCK', backend_auth: sigV4Auth({ secretAccessKey: '' }) }), 'aws_sigv4.secret_access_key is empty'],
    ['SigV4 for OpenAI', serviceFixture({ id: 's', backend_auth: sigV4Auth() }), 'openai services authenticate with an API key header, not AWS SigV4'],
    ['an empty backend_auth', serviceFixture({ id: 's', backend_auth: {} }), 'backend_auth has neither api_key nor aws_sigv4 set'],
    ['an API key without value', serviceFixture({ id: 's', backend_auth: apiKeyAuth('Authorization', '') }), 'api_key.header_value is empty'],
    ['an invalid header name', serviceFixture({ id: 's', backend_auth: apiKeyAuth('Bad Header', 'x') }), 'is not a valid HTTP header name'],
    ['a reserved header name', serviceFixture({ id: 's', backend_auth: apiKeyAuth('Host', 'x') }), 'is reserved'],
    ['an unknown rate-limit unit', serviceFixture({ id: 's', rate_limit: rateLimitFixture({ time_unit: 'TIME_UNIT_UNSPECIFIED' }) }), 'rate_limit: time_unit TIME_UNIT_UNSPECIFIED is not MINUTE, HOUR or DAY'],
  ])('refuses %s with a clear reason', (_what, service, reason) => {
    expect(reasonFor(service)).toContain(reason);
  });

  it('never puts a secret into a reason', () => {
    const secret = 'Bearer sk-secret\r\ninjected';
    const reason = reasonFor(serviceFixture({ id: 's', backend_auth: apiKeyAuth('Authorization', secret) }));
    expect(reason).toContain('contains characters not allowed');
    expect(reason).not.toContain('sk-secret');
    const sigv4Reason = reasonFor(serviceFixture({ id: 's', provider: 'AWS_BEDROCK', backend_auth: sigV4Auth({ region: 'moon-1' }) }));
    expect(sigv4Reason).not.toContain(TEST_AWS_CREDENTIALS.secretAccessKey);
  });

  it('refuses duplicate routes and ids, bad key hashes and other environments', () => {
    expect(reasonFor(serviceFixture({ id: 'a', context_path: '/x' }), serviceFixture({ id: 'b', context_path: '/x' }))).toBe('services a and b share the route /acme/x');
    expect(reasonFor(serviceFixture({ id: 'a' }), serviceFixture({ id: 'a', context_path: '/other' }))).toBe('service id a appears twice');
    expect(() => compiler.compile(snapshotFixture({ revision: 1, consumerKeys: [{ ...consumerKeyFixture('k', 'a'), key_hash: 'nothex' }] }))).toThrow('not SHA-256 hex');
    expect(() => compiler.compile(snapshotFixture({ revision: 1, consumerKeys: [consumerKeyFixture('k', 'a'), consumerKeyFixture('k', 'b')] }))).toThrow('two consumer keys share one key_hash');
    expect(() => compiler.compile(snapshotFixture({ revision: 1, environment: 'production' }))).toThrow('snapshot is for environment "production", this proxy serves "test"');
    expect(() => compiler.compile(snapshotFixture({ revision: 'abc' }))).toThrow('revision "abc" is not an unsigned integer');
  });
});
