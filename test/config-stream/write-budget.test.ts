// The control plane's budget of config bytes being flushed (TOKENGATE_MAX_UNFLUSHED_CONFIG_BYTES): at
// 1 byte, one message is written at a time, so proxies connecting together take turns; each still gets
// its snapshot and every later change, past a proxy that left and one that stopped reading. (Whether
// the latter's write stays unflushed depends on how much grpc-js buffers for a paused reader; if it
// does, its share comes back after 5 s. The test holds either way.)
import { createHash } from 'node:crypto';
import { type Tenant, type TestControlPlane, connectApp, registerOpenAIService, seedEnvironments, seedTenant, startTestControlPlane } from '../support/control-plane-harness';
import { currentRevision } from '../support/gateway-harness';
import { waitFor } from '../support/wait';
import { connectDeltaPeer, type DeltaPeer, HeldConfig } from './delta-peer';

let cp: TestControlPlane;
let tenant: Tenant;
let serviceId: string;
const peers: DeltaPeer[] = [];

beforeAll(async () => {
  cp = await startTestControlPlane({ TOKENGATE_MAX_UNFLUSHED_CONFIG_BYTES: '1' });
  await seedEnvironments(cp);
  tenant = await seedTenant(cp, 'initech');
  serviceId = await registerOpenAIService(cp, tenant, 'http://127.0.0.1:9/v1');
  for (let i = 0; i < 5; i++) await connectApp(cp, tenant, serviceId, `seed-${i}`);
});

afterAll(async () => {
  for (const peer of peers.splice(0)) peer.close();
  await cp?.stop();
});

function peer(proxyId: string, flowControlWindowBytes?: number): DeltaPeer {
  const connected = connectDeltaPeer(cp.grpcAddress, cp.dataPlaneToken, { proxyId, environment: 'production', lastAppliedRevision: 0 }, { flowControlWindowBytes });
  peers.push(connected);
  return connected;
}

it('sends every proxy its snapshot and then each change, one write at a time, past a proxy that stopped reading and one that left', async () => {
  // One proxy stops reading before its snapshot (a small window: its write stays unflushed), one leaves.
  const stalled = peer('budget-stalled', 1024);
  stalled.pause();
  const leaving = peer('budget-leaving');
  const proxies = Array.from({ length: 6 }, (_, i) => peer(`budget-${i}`));
  leaving.close();
  const revision = String(await currentRevision(cp));
  const held = proxies.map(() => new HeldConfig());
  const applied = proxies.map(() => 0);
  const catchUp = (i: number) => {
    for (const message of proxies[i].received.slice(applied[i])) held[i].apply(message);
    applied[i] = proxies[i].received.length;
    return held[i].revision;
  };
  await Promise.all(proxies.map((p, i) => waitFor(() => catchUp(i) === revision, `proxy ${i}'s snapshot at revision ${revision}`)));

  const app = await connectApp(cp, tenant, serviceId, 'after-budget');
  const next = String(await currentRevision(cp));
  await Promise.all(proxies.map((p, i) => waitFor(() => catchUp(i) === next, `proxy ${i} to reach revision ${next}`)));
  const hash = createHash('sha256').update(app.key).digest('hex');
  for (const state of held) expect(state.keys.has(hash)).toBe(true);

  stalled.resume();
  await waitFor(() => stalled.received.length > 0, 'the stalled proxy to get its snapshot once it reads again');
});
