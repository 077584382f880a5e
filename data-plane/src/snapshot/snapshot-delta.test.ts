// SnapshotCompiler.applyDelta and the key index it updates: one change costs what it changes.
import { consumerKeyFixture, serviceFixture, snapshotFixture, TEST_ENVIRONMENT } from '../../../test/support/data-plane/snapshot-fixtures';
import type { SnapshotDeltaMessage } from '../config-stream/wire-types';
import { ConsumerKeyIndex, hashConsumerKey } from './consumer-key-index';
import { SnapshotCompileError, SnapshotCompiler } from './snapshot-compiler';
import { UpstreamAgentPool } from './upstream-target';

const pool = new UpstreamAgentPool();
const compiler = new SnapshotCompiler({ environment: TEST_ENVIRONMENT, agentPool: pool });
afterAll(() => pool.destroyAll());

function delta(fields: Partial<SnapshotDeltaMessage> & { base_revision: string; revision: string }): SnapshotDeltaMessage {
  return { upserted_services: [], removed_service_ids: [], upserted_keys: [], removed_key_hashes: [], ...fields };
}

const base = compiler.compile(
  snapshotFixture({
    revision: 5,
    services: [serviceFixture({ id: 'a', context_path: '/a' }), serviceFixture({ id: 'b', context_path: '/b' })],
    consumerKeys: [consumerKeyFixture('tgk_a', 'a'), consumerKeyFixture('tgk_b', 'b')],
  }),
);

describe('SnapshotCompiler.applyDelta', () => {
  it('adds, replaces and removes services and keys, leaving the base snapshot as it was', () => {
    const next = compiler.applyDelta(
      base,
      delta({
        base_revision: '5',
        revision: '8',
        upserted_services: [serviceFixture({ id: 'b', context_path: '/b2' }), serviceFixture({ id: 'c', context_path: '/c' })],
        removed_service_ids: ['a'],
        upserted_keys: [consumerKeyFixture('tgk_c', 'c')],
        removed_key_hashes: [hashConsumerKey('tgk_a'), hashConsumerKey('tgk_never_seen')],
      }),
    );
    expect(next.revision).toBe(8n);
    expect(Object.isFrozen(next)).toBe(true);
    expect([...next.services.keys()].sort()).toEqual(['b', 'c']);
    expect(next.routes.match('acme', '/b2/x')?.service.id).toBe('b');
    expect(next.routes.match('acme', '/b/x')).toBeNull();
    expect(next.routes.match('acme', '/a/x')).toBeNull();
    expect(next.consumerKeys.lookup('tgk_a')).toBeUndefined();
    expect(next.consumerKeys.lookup('tgk_b')?.serviceId).toBe('b');
    expect(next.consumerKeys.lookup('tgk_c')).toEqual({ connectionId: 'conn-c', serviceId: 'c', projectId: 'project-1', organizationId: 'org-acme' });
    expect(next.consumerKeys.size).toBe(2);
    // Requests holding the base keep seeing it whole.
    expect(base.revision).toBe(5n);
    expect(base.consumerKeys.lookup('tgk_a')?.serviceId).toBe('a');
    expect(base.routes.match('acme', '/a')?.service.id).toBe('a');
    expect(base.services.size).toBe(2);
  });

  it('refuses a key removed after it was used (its hash is remembered by key, its grant is not)', () => {
    expect(base.consumerKeys.lookup('tgk_b')?.serviceId).toBe('b');
    expect(base.consumerKeys.lookup('tgk_b')?.serviceId).toBe('b');
    const next = compiler.applyDelta(base, delta({ base_revision: '5', revision: '6', removed_key_hashes: [hashConsumerKey('tgk_b')] }));
    expect(next.consumerKeys.lookup('tgk_b')).toBeUndefined();
    expect(base.consumerKeys.lookup('tgk_b')?.serviceId).toBe('b');
    // Re-issued to another service under the same key: the grant is read anew.
    const moved = compiler.applyDelta(next, delta({ base_revision: '6', revision: '7', upserted_keys: [consumerKeyFixture('tgk_b', 'a')] }));
    expect(moved.consumerKeys.lookup('tgk_b')?.serviceId).toBe('a');
  });

  it('keeps the route table and compiled services it did not touch', () => {
    const next = compiler.applyDelta(base, delta({ base_revision: '5', revision: '6', upserted_keys: [consumerKeyFixture('tgk_a2', 'a')] }));
    expect(next.routes).toBe(base.routes);
    expect(next.services).toBe(base.services); // keys alone: the services map is shared, not copied
    expect(next.services.get('a')).toBe(base.services.get('a'));
    expect(next.consumerKeys.lookup('tgk_a2')?.serviceId).toBe('a');
  });

  it.each<[string, SnapshotDeltaMessage, string]>([
    ['a delta on another revision', delta({ base_revision: '4', revision: '6' }), 'delta is based on revision 4, the applied revision is 5'],
    ['a delta that does not move forward', delta({ base_revision: '5', revision: '5' }), 'delta revision 5 is not above its base_revision 5'],
    ['a service that does not compile', delta({ base_revision: '5', revision: '6', upserted_services: [serviceFixture({ id: 'a', upstream_url: 'notaurl' })] }), 'service a: upstream_url "notaurl" is not a valid URL'],
    ['two services on one route', delta({ base_revision: '5', revision: '6', upserted_services: [serviceFixture({ id: 'c', context_path: '/a' })] }), 'services a and c share the route /acme/a'],
    ['a key upserted twice', delta({ base_revision: '5', revision: '6', upserted_keys: [consumerKeyFixture('k', 'a'), consumerKeyFixture('k', 'b')] }), 'two consumer keys share one key_hash'],
    ['a malformed removed hash', delta({ base_revision: '5', revision: '6', removed_key_hashes: ['zz'] }), 'removed key_hash "zz" is not SHA-256 hex'],
  ])('refuses %s whole', (_what, message, reason) => {
    expect(() => compiler.applyDelta(base, message)).toThrow(SnapshotCompileError);
    expect(() => compiler.applyDelta(base, message)).toThrow(reason);
  });
});

describe('ConsumerKeyIndex.withChanges', () => {
  const organizationOf = (serviceId: string) => (serviceId === 'gone' ? undefined : 'org-1');
  const key = (n: number) => consumerKeyFixture(`tgk_${n}`, 's');

  it('answers like an index built from scratch after many changes, folding its overlay into a new base', () => {
    const keys = Array.from({ length: 3000 }, (_, n) => key(n));
    let index = ConsumerKeyIndex.build(keys, organizationOf);
    const present = new Set(keys.map((_, n) => n));
    for (let step = 0; step < 2000; step++) {
      const added = 3000 + step;
      const removed = step * 2;
      index = index.withChanges([key(added)], [hashConsumerKey(`tgk_${removed}`)], organizationOf);
      present.add(added);
      present.delete(removed);
    }
    expect(index.size).toBe(present.size);
    for (let n = 0; n < 5000; n++) expect(index.lookup(`tgk_${n}`) !== undefined).toBe(present.has(n));
  });

  it('answers like a plain map through random adds, re-adds and removals across every fold, earlier indexes unchanged', () => {
    // A small deterministic generator (xorshift), so a failure replays.
    let state = 0x9e3779b9;
    const random = (n: number) => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % n;
    };
    const universe = 1500;
    let index = ConsumerKeyIndex.build(Array.from({ length: 1200 }, (_, n) => key(n)), organizationOf);
    const present = new Set(Array.from({ length: 1200 }, (_, n) => n));
    const kept: Array<{ index: ConsumerKeyIndex; present: Set<number> }> = [];
    for (let step = 0; step < 3000; step++) {
      const removed = Array.from({ length: random(3) }, () => random(universe));
      const added = [...new Set(Array.from({ length: random(3) }, () => random(universe)))];
      index = index.withChanges(added.map(key), removed.map((n) => hashConsumerKey(`tgk_${n}`)), organizationOf);
      for (const n of removed) present.delete(n);
      for (const n of added) present.add(n);
      expect(index.size).toBe(present.size);
      if (step % 250 === 0) kept.push({ index, present: new Set(present) });
    }
    for (const snapshot of [...kept, { index, present }]) {
      for (let n = 0; n < universe; n++) expect(snapshot.index.lookup(`tgk_${n}`) !== undefined).toBe(snapshot.present.has(n));
    }
  });

  it('removes before it upserts, and drops a key whose service it does not know', () => {
    const index = ConsumerKeyIndex.build([key(1)], organizationOf);
    const next = index.withChanges([key(1), consumerKeyFixture('tgk_orphan', 'gone')], [hashConsumerKey('tgk_1')], organizationOf);
    expect(next.lookup('tgk_1')?.serviceId).toBe('s');
    expect(next.lookup('tgk_orphan')).toBeUndefined();
    expect(next.size).toBe(1);
    expect(index.withChanges([], [hashConsumerKey('tgk_1'), hashConsumerKey('tgk_1')], organizationOf).size).toBe(0);
  });
});
