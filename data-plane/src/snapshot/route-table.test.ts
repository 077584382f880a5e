import type { CompiledService } from './compiled-snapshot';
import { RouteTable } from './route-table';

function service(id: string, contextPath: string, organizationHandle = 'acme'): CompiledService {
  return { id, contextPath, organizationHandle } as CompiledService;
}

describe('RouteTable', () => {
  const table = RouteTable.build([
    service('openai', '/openai'),
    service('team-openai', '/openai/team'),
    service('deep', '/a/b/c'),
    service('other-org', '/openai', 'globex'),
  ]);

  it.each([
    ['acme', '/openai/v1/chat/completions', 'openai', '/v1/chat/completions'],
    ['acme', '/openai', 'openai', ''],
    ['acme', '/openai/', 'openai', '/'],
    ['acme', '/openai/team/v1/models', 'team-openai', '/v1/models'],
    ['acme', '/openai/team', 'team-openai', ''],
    ['acme', '/openai/teams/v1', 'openai', '/teams/v1'],
    ['acme', '/a/b/c/d', 'deep', '/d'],
    ['globex', '/openai/v1/models', 'other-org', '/v1/models'],
  ])('routes /%s%s to %s with provider path %j', (organization, rest, serviceId, providerPath) => {
    const match = table.match(organization, rest);
    expect(match?.service.id).toBe(serviceId);
    expect(match?.providerPath).toBe(providerPath);
  });

  it.each([
    ['acme', '/openaix/v1'],
    ['acme', '/a/b'],
    ['acme', ''],
    ['acme', '/'],
    ['initech', '/openai/v1'],
    ['ACME', '/openai/v1'],
  ])('matches nothing for /%s%s (segment boundaries, unknown organization)', (organization, rest) => {
    expect(table.match(organization, rest)).toBeNull();
  });

  it('refuses two services on one route', () => {
    expect(() => RouteTable.build([service('one', '/x'), service('two', '/x')])).toThrow('services one and two share the route /acme/x');
  });
});
