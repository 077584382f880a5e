import type { DataSource } from 'typeorm';
import type { Actor } from '../auth/actor';
import { Role } from '../auth/role';
import { findByIdOrNotFound } from '../common/lookup';
import { OrganizationEntity } from '../organization/organization.entity';
import type { AuditEventType } from './audit.types';

export class AuditService {
  constructor(private readonly db: DataSource) {}

  async list(actor: Actor, organizationId: string, limit: number): Promise<AuditEventType[]> {
    await findByIdOrNotFound(this.db.manager, OrganizationEntity, organizationId, 'organization', (o) => actor.canRead(o.id));
    actor.requireRole(organizationId, [Role.ADMIN], 'reading the audit log');
    const rows: Array<Record<string, unknown>> = await this.db.query(
      `SELECT a.id, u.email AS actor, a.action, a.target_type, a.target_id, a.details, a.created_at
         FROM audit_events a JOIN users u ON u.id = a.actor_user_id
        WHERE a.organization_id = $1 ORDER BY a.created_at DESC, a.id LIMIT $2`,
      [organizationId, Math.min(Math.max(limit, 1), 500)],
    );
    return rows.map((r) => ({
      id: r.id as string,
      actor: r.actor as string,
      action: r.action as string,
      targetType: r.target_type as string,
      targetId: r.target_id as string,
      details: r.details as Record<string, unknown>,
      createdAt: r.created_at as Date,
    }));
  }
}
