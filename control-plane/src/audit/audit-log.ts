import { escapeLiteral } from 'pg';
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

/**
 * The same audit event as one INSERT statement with its values as escaped literals, for a unit of work
 * that sends it with other statements in one message (config-change/revision-ledger.ts: with its COMMIT).
 */
export function auditInsertStatement(actor: Actor, record: AuditRecord): string {
  const literal = (value: string | null) => (value === null ? 'NULL' : escapeLiteral(value));
  return `INSERT INTO audit_events (actor_user_id, organization_id, action, target_type, target_id, details)
          VALUES (${literal(actor.userId)}::uuid, ${literal(record.organizationId ?? null)}::uuid, ${literal(record.action)}, ${literal(record.targetType)}, ${literal(record.targetId)}, ${literal(JSON.stringify(record.details ?? {}))}::jsonb)`;
}
