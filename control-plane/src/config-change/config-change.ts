// How a change reaches the proxies, in one place. A mutation that alters what proxies serve runs as
// one unit of work (`ConfigChanges.apply`):
//   1. In one transaction: the mutation's own rows, its audit event (`change.audit`, sent with the
//      COMMIT), and for each
//      environment whose proxies serve something else now, one more revision, the change-log rows
//      naming what changed (services, consumer keys) and the service's deployment reopened as
//      PENDING (`change.alters` → revision-ledger.ts). A rolled-back change leaves none of it. The
//      revision bump is the transaction's last statement, sent with its COMMIT: the environment's row
//      lock, which every change there queues on, is held for no round trip (ADR 014).
//   2. After commit, once: the new revisions are announced (`ChangeFeed`): to this replica's config
//      stream directly, to the other replicas over Redis pub/sub (redis-change-feed.ts; a replica
//      ignores its own echo), and to the rollout queue, whose worker then waits for the proxies' ACKs.
//      In the control plane the feed is a background one (change-feed.ts): the mutation does not wait
//      for those Redis round trips.
//   3. The config stream (config-stream/config-stream-server.ts) sends each proxy one delta read from
//      the change log (or a snapshot); a 5 s revision poll there only catches up announcements lost
//      while Redis was away — it announces nothing.
import type { DataSource, EntityManager } from 'typeorm';
import { type AuditRecord, auditInsertStatement, recordAudit } from '../audit/audit-log';
import type { Actor } from '../auth/actor';
import type { ChangeFeed } from './change-feed';
import { type BumpedEnvironment, bumpRevisions, type RevisionBump } from './revision-ledger';

/** What a unit of work records besides its own rows. */
export interface ChangeRecorder {
  /**
   * The audit event of the change, in its transaction: written with the revision bump and the COMMIT
   * (one message, revision-ledger.ts), or before the COMMIT when the change bumps nothing.
   */
  audit(actor: Actor, record: AuditRecord): Promise<void>;
  /**
   * The change alters what the proxies of these environments serve for `serviceId`: each gets a new
   * revision, announced once the transaction has committed. Recorded as the transaction's last
   * statement, once `work` has returned (revision-ledger.ts: the environments' row locks are then
   * held only until the COMMIT right after it); one call per unit of work.
   */
  alters(serviceId: string, environmentIds: string[], message: string, served?: RevisionBump['served']): void;
}

export class ConfigChanges {
  constructor(
    private readonly db: DataSource,
    private readonly feed: ChangeFeed,
  ) {}

  /**
   * Runs `work` in one transaction and commits it, with the revision bump `work` asked for as its last
   * statements (sent with the COMMIT: revision-ledger.ts); after the commit, announces the new
   * revisions, once. (EntityManager.transaction, but committing through bumpRevisions.)
   */
  async apply<T>(work: (tx: EntityManager, change: ChangeRecorder) => Promise<T>): Promise<T> {
    let bump: RevisionBump | null = null;
    let bumped: BumpedEnvironment[] = [];
    const audits: Array<{ actor: Actor; record: AuditRecord }> = [];
    const runner = this.db.createQueryRunner();
    let result: T;
    try {
      await runner.startTransaction();
      result = await work(runner.manager, {
        audit: (actor, record) => {
          audits.push({ actor, record });
          return Promise.resolve();
        },
        alters: (serviceId, environmentIds, message, served) => {
          if (bump !== null) throw new Error('a unit of work alters one service (ChangeRecorder.alters called twice)');
          bump = { serviceId, environmentIds, message, served };
        },
      });
      if (bump === null) {
        for (const { actor, record } of audits) await recordAudit(runner.manager, actor, record);
        await runner.commitTransaction();
      } else {
        bumped = await bumpRevisions(runner, bump, audits.map(({ actor, record }) => auditInsertStatement(actor, record)));
      }
    } catch (error) {
      // The original error is thrown even if the rollback fails (a failed COMMIT has ended the transaction).
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw error;
    } finally {
      await runner.release();
    }
    if (bumped.length > 0) await this.feed.environmentsChanged(bumped, (bump as RevisionBump | null)!.serviceId);
    return result;
  }
}
