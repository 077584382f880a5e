// How a change reaches the proxies, in one place. A mutation that alters what proxies serve runs as
// one unit of work (`ConfigChanges.apply`):
//   1. In one transaction: the mutation's own rows, its audit event (`change.audit`), and for each
//      environment whose proxies serve something else now, one more revision, the change-log rows
//      naming what changed (services, consumer keys) and the service's deployment reopened as
//      PENDING (`change.alters` → revision-ledger.ts). A rolled-back change leaves none of it.
//   2. After commit, once: the new revisions are announced (`ChangeFeed`): to this replica's config
//      stream directly, to the other replicas over Redis pub/sub (redis-change-feed.ts; a replica
//      ignores its own echo), and to the rollout queue, whose worker then waits for the proxies' ACKs.
//   3. The config stream (config-stream/config-stream-server.ts) sends each proxy one delta read from
//      the change log (or a snapshot); a 5 s revision poll there only catches up announcements lost
//      while Redis was away — it announces nothing.
import type { DataSource, EntityManager } from 'typeorm';
import { type AuditRecord, recordAudit } from '../audit/audit-log';
import type { Actor } from '../auth/actor';
import type { ChangeFeed } from './change-feed';
import { type BumpedEnvironment, bumpRevisions, type ServedChange } from './revision-ledger';

/** What a unit of work records besides its own rows. */
export interface ChangeRecorder {
  /** The audit event of the change, in its transaction. */
  audit(actor: Actor, record: AuditRecord): Promise<void>;
  /**
   * The change alters what the proxies of these environments serve for `serviceId`: each gets a new
   * revision (returned), announced once the transaction has committed.
   */
  alters(serviceId: string, environmentIds: string[], message: string, served?: ServedChange): Promise<BumpedEnvironment[]>;
}

export class ConfigChanges {
  constructor(
    private readonly db: DataSource,
    private readonly feed: ChangeFeed,
  ) {}

  /** Runs `work` in one transaction; after it commits, announces every revision it recorded, once. */
  async apply<T>(work: (tx: EntityManager, change: ChangeRecorder) => Promise<T>): Promise<T> {
    const altered: Array<{ serviceId: string; environments: BumpedEnvironment[] }> = [];
    const result = await this.db.transaction((tx) =>
      work(tx, {
        audit: (actor, record) => recordAudit(tx, actor, record),
        alters: async (serviceId, environmentIds, message, served) => {
          const environments = await bumpRevisions(tx, serviceId, environmentIds, message, served);
          altered.push({ serviceId, environments });
          return environments;
        },
      }),
    );
    for (const { serviceId, environments } of altered) if (environments.length > 0) await this.feed.environmentsChanged(environments, serviceId);
    return result;
  }
}
