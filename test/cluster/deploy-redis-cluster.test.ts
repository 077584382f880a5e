// deploy/ on a Redis Cluster: the compose override and the Kubernetes overlay give every Tokengate
// role one cluster URL that both planes' own config parsers read as that cluster, naming nodes the
// override actually runs (each in cluster mode, announced by its name) and the one-shot joins.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadControlPlaneConfig } from '../../control-plane/src/config';
import { parseRedisUrl } from '../../control-plane/src/common/redis-connection';
import { parseDataPlaneCliOptions } from '../../data-plane/src/cli-options';
import { DEPLOY_DIR, type Json, readCompose, readEnvFile, record, scalar, strings, text } from '../deploy/deploy-files';

const variables = readEnvFile(join(DEPLOY_DIR, '.env.example'));
const base = readCompose(variables);
const override = readCompose(variables, join(DEPLOY_DIR, 'docker-compose.redis-cluster.yml'));

/** A service's environment once the override is applied (compose merges environment maps). */
function mergedEnvironment(name: string): Record<string, string> {
  const entries = (service: Json | undefined) => Object.entries(record(service?.environment ?? {}, `${name} environment`)).map(([key, value]) => [key, scalar(value, `${name} ${key}`)]);
  return Object.fromEntries([...entries(base.services.get(name)), ...entries(override.services.get(name))]);
}

const tokengateServices = [...base.services].filter(([, service]) => service.build !== undefined || service.image === base.services.get('control-plane')?.image).map(([name]) => name);
const redisUsers = tokengateServices.filter((name) => mergedEnvironment(name).REDIS_URL !== undefined);

test('every Tokengate role that reads REDIS_URL gets the one cluster URL, read as a cluster by both planes', () => {
  expect(redisUsers.sort()).toEqual(['control-plane', 'migrate', 'proxy-a', 'proxy-b', 'worker']);
  const urls = new Set(redisUsers.map((name) => mergedEnvironment(name).REDIS_URL));
  expect(urls.size).toBe(1);
  const [url] = urls;
  expect(parseRedisUrl(url)).toMatchObject({ kind: 'cluster', tls: false });
  for (const name of ['control-plane', 'worker']) {
    expect(loadControlPlaneConfig({ ...mergedEnvironment(name), TOKENGATE_SECRET_KEY: Buffer.alloc(32, 7).toString('base64') }).redisUrl).toBe(url);
  }
  for (const name of ['proxy-a', 'proxy-b']) {
    const parsed = parseDataPlaneCliOptions(['--environment', 'production'], mergedEnvironment(name), () => Buffer.alloc(0));
    expect(parsed !== 'help' && parsed.options.rateLimiting?.redisUrl).toBe(url);
  }
});

test('the URL names the nodes the override runs, each a cluster-enabled redis:7 announcing its own name on 6379', () => {
  const target = parseRedisUrl(mergedEnvironment('control-plane').REDIS_URL);
  if (target.kind !== 'cluster') throw new Error('not a cluster URL');
  expect(target.nodes.length).toBeGreaterThanOrEqual(3);
  for (const { host, port } of target.nodes) {
    const node = override.services.get(host);
    const command = strings(node?.command, `${host} command`);
    expect({ host, port }).toEqual({ host, port: 6379 });
    expect(command.join(' ')).toContain('--cluster-enabled yes');
    expect(command.join(' ')).toContain(`--cluster-announce-hostname ${host}`);
    expect(command).not.toContain('--port');
    expect(text(node?.image ?? base.services.get(host)?.image, `${host} image`)).toMatch(/^redis:7/);
  }
});

test('the one-shot joins exactly those nodes, and dependents waiting for a healthy `redis` wait for cluster_state:ok', () => {
  const target = parseRedisUrl(mergedEnvironment('control-plane').REDIS_URL);
  if (target.kind !== 'cluster') throw new Error('not a cluster URL');
  const create = record(override.services.get('redis-cluster-create'), 'redis-cluster-create');
  const script = strings(create.command, 'redis-cluster-create command').join(' ');
  expect([...script.matchAll(/getent hosts (\S+)/g)].map((m) => m[1])).toEqual(target.nodes.map((n) => n.host));
  expect(script).toContain('--cluster-replicas 0 --cluster-yes');
  expect(Object.keys(record(create.depends_on, 'redis-cluster-create depends_on')).sort()).toEqual(target.nodes.map((n) => n.host).sort());
  expect(create.restart).toBe('no');
  const health = strings(record(override.services.get('redis')?.healthcheck, 'redis healthcheck').test, 'redis healthcheck.test');
  expect(health.join(' ')).toContain('cluster_state:ok');
  for (const name of ['control-plane', 'worker', 'proxy-a', 'proxy-b']) {
    expect(record(record(base.services.get(name)?.depends_on, `${name} depends_on`).redis, `${name} depends_on.redis`).condition).toBe('service_healthy');
  }
});

test('the Kubernetes overlay sets both ConfigMaps to one cluster URL and changes nothing else', () => {
  const overlay = record(parse(readFileSync(join(DEPLOY_DIR, 'kubernetes-redis-cluster', 'kustomization.yaml'), 'utf8')), 'overlay');
  expect(overlay.resources).toEqual(['../kubernetes']);
  const patches = (overlay.patches as Array<{ target: { kind: string; name: string }; patch: string }>).map(({ target, patch }) => ({ target, operations: parse(patch) as Array<{ op: string; path: string; value: string }> }));
  expect(patches.map((p) => p.target)).toEqual([
    { kind: 'ConfigMap', name: 'tokengate-control-plane' },
    { kind: 'ConfigMap', name: 'tokengate-data-plane' },
  ]);
  const operations = patches.flatMap((p) => p.operations);
  for (const operation of operations) expect(operation).toMatchObject({ op: 'replace', path: '/data/REDIS_URL' });
  const values = new Set(operations.map((operation) => operation.value));
  expect(values.size).toBe(1);
  expect(parseRedisUrl([...values][0])).toMatchObject({ kind: 'cluster' });
});
