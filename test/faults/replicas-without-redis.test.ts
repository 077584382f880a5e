// Two control-plane replicas sharing one database and one Redis. A change made through one reaches the
// proxies of the other through Redis pub/sub, and still does while Redis is down (the other replica's
// revision poll finds it), and again through pub/sub once Redis is back, empty.
import { connectDeltaPeer, type DeltaPeer } from '../config-stream/delta-peer';
import { connectApp, registerOpenAIService, seedEnvironments, seedTenant, startTestControlPlane, type Tenant, type TestControlPlane } from '../support/control-plane-harness';
import { currentRevision } from '../support/gateway-harness';
import { PrivateRedis } from '../support/redis-server';
import { waitFor } from '../support/wait';

let redis: PrivateRedis;
let a: TestControlPlane;
let b: TestControlPlane;
let tenant: Tenant;
let serviceId: string;
let peer: DeltaPeer | undefined;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  a = await startTestControlPlane({ REDIS_URL: redis.url, TOKENGATE_REVISION_POLL_MS: '1000' });
  b = await startTestControlPlane({ REDIS_URL: redis.url, TOKENGATE_REVISION_POLL_MS: '1000' }, a);
  await seedEnvironments(a);
  tenant = await seedTenant(a, 'acme');
  serviceId = await registerOpenAIService(a, tenant, 'http://127.0.0.1:9/v1');
});
afterAll(async () => {
  peer?.close();
  await b?.stop();
  await a?.stop();
  await redis?.stop();
});

/** The revision the proxy on replica B holds, applying what it is sent in order. */
function heldRevision(): number {
  const last = peer!.received.at(-1);
  if (!last) return 0;
  return Number(last.kind === 'snapshot' ? last.snapshot.revision : last.delta.revision);
}

async function connectThroughA(name: string): Promise<number> {
  await connectApp(a, tenant, serviceId, name);
  return currentRevision(a);
}

it('a change made through replica A reaches a proxy of replica B with Redis up, down, and back empty', async () => {
  peer = connectDeltaPeer(b.grpcAddress, b.dataPlaneToken, { proxyId: 'proxy-on-b', environment: 'production' });
  await peer.nth(0);

  const withRedis = await connectThroughA('with-redis');
  await waitFor(() => heldRevision() >= withRedis, `revision ${withRedis} on B's proxy`);

  await redis.stop();
  const withoutRedis = await connectThroughA('without-redis');
  await waitFor(() => heldRevision() >= withoutRedis, `revision ${withoutRedis} on B's proxy while Redis is down`, 20_000);

  await redis.start(); // empty
  // Once both replicas' subscriptions are back, pub/sub carries changes again (the poll would too).
  const back = await connectThroughA('redis-back');
  await waitFor(() => heldRevision() >= back, `revision ${back} on B's proxy after Redis returned`, 20_000);
  expect(peer.error).toBeUndefined();
});
