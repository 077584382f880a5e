// A proxy asks for a full snapshot (after a refused delta, or a gap) while PostgreSQL is down: the
// control plane cannot build it then. Once the database is back it must still send it, without
// waiting for the next configuration change (in a quiet environment there may be none for days, and
// meanwhile the proxy drops every delta, waiting for that snapshot).
import { connectDeltaPeer, type DeltaPeer } from '../config-stream/delta-peer';
import { seedEnvironments, startTestControlPlane, type TestControlPlane } from '../support/control-plane-harness';
import { PrivatePostgres } from '../support/postgres-server';
import { waitFor } from '../support/wait';

let pg: PrivatePostgres;
let cp: TestControlPlane;
let peer: DeltaPeer | undefined;

beforeAll(async () => {
  pg = await PrivatePostgres.start();
  cp = await startTestControlPlane({ TOKENGATE_REVISION_POLL_MS: '500' }, undefined, { database: await pg.migratedDatabase() });
  await seedEnvironments(cp);
});
afterAll(async () => {
  peer?.close();
  await cp?.stop();
  pg?.dispose();
});

it('a SnapshotRequest that arrived while PostgreSQL was down is answered once it is back', async () => {
  peer = connectDeltaPeer(cp.grpcAddress, cp.dataPlaneToken, { proxyId: 'resyncing-proxy', environment: 'production' });
  const first = await peer.nth(0);
  expect(first.kind).toBe('snapshot');
  const revision = first.kind === 'snapshot' ? first.snapshot.revision : '';

  await pg.stop('fast');
  peer.write({ resync: { applied_revision: revision, reason: 'a delta was refused' } });
  // The request reaches the control plane, which fails to build the snapshot (logged), stream intact.
  await waitFor(() => cp.logLines.some((line) => line.includes('proxy asked for a full snapshot')), 'the request to arrive');
  await pg.start();

  const answer = await peer.nth(1, 30_000);
  expect(answer.kind).toBe('snapshot');
  expect(answer.kind === 'snapshot' && answer.snapshot.revision).toBe(revision);
  expect(peer.error).toBeUndefined();
});
