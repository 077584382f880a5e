import type { EntityManager } from 'typeorm';
import type { Actor } from '../auth/actor';
import { AuditEventEntity } from './audit-event.entity';

export interface AuditRecord {
  action: string;
  targetType: string;
  targetId: string;
  organizationId?: string | null;
  /** Only non-secret facts: callers pass allow-listed fields, never inputs wholesale. */
  details?: Record<string, unknown>;
}

/** Writes the audit event inside the mutation's own transaction: both land or neither does. */
export async function recordAudit(tx: EntityManager, actor: Actor, record: AuditRecord): Promise<void> {
  await tx.insert(AuditEventEntity, {
    actorUserId: actor.userId,
    organizationId: record.organizationId ?? null,
    action: record.action,
    targetType: record.targetType,
    targetId: record.targetId,
    details: (record.details ?? {}) as object,
  });
}
