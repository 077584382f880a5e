// A rotated key's grace period ends at the proxy itself: from its expiry on, lookup refuses the key,
// whether or not a newer snapshot has removed it yet.
import { consumerKeyFixture } from '../../../test/support/data-plane/snapshot-fixtures';
import { ConsumerKeyIndex } from './consumer-key-index';

const organizationOf = () => 'org-acme';

describe('ConsumerKeyIndex expiry', () => {
  const expiresAt = Date.UTC(2031, 0, 15, 12, 0, 0);
  const index = ConsumerKeyIndex.build(
    [consumerKeyFixture('tgk_current', 'openai', 'conn-1'), { ...consumerKeyFixture('tgk_previous', 'openai', 'conn-1'), expires_at_unix_ms: String(expiresAt) }],
    organizationOf,
  );

  it('serves a rotated key until its grace period ends, then refuses it; the current key never expires', () => {
    expect(index.lookup('tgk_previous', expiresAt - 1)).toMatchObject({ connectionId: 'conn-1', expiresAt });
    expect(index.lookup('tgk_previous', expiresAt)).toBeUndefined();
    expect(index.lookup('tgk_current', expiresAt + 86_400_000)).toMatchObject({ connectionId: 'conn-1' });
  });

  it('an expiry set by a delta applies too, and a malformed one is refused (NACK)', () => {
    const updated = index.withChanges([{ ...consumerKeyFixture('tgk_current', 'openai', 'conn-1'), expires_at_unix_ms: String(expiresAt) }], [], organizationOf);
    expect(updated.lookup('tgk_current', expiresAt)).toBeUndefined();
    expect(() => index.withChanges([{ ...consumerKeyFixture('tgk_x', 'openai'), expires_at_unix_ms: '1e400' }], [], organizationOf)).toThrow(/expires_at_unix_ms/);
  });
});
