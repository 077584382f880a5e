import type { DataSource, EntityManager } from 'typeorm';
import { recordAudit } from '../audit/audit-log';
import { badUserInput, conflict, forbidden, notFound } from '../common/errors';
import { generateToken, hashToken } from '../common/secure-token';
import { validateName } from '../common/validation';
import { OrganizationEntity } from '../organization/organization.entity';
import { Actor } from './actor';
import { ApiTokenEntity } from './api-token.entity';
import { MembershipEntity } from './membership.entity';
import { Role } from './role';
import { UserEntity } from './user.entity';

export const API_TOKEN_PREFIX = 'tgp_';
export const BOOTSTRAP_ADMIN_EMAIL = 'admin@tokengate.local';
const BOOTSTRAP_TOKEN_NAME = 'bootstrap (TOKENGATE_ADMIN_TOKEN)';
/** 64 characters before the @ and 255 after it, as the pattern below allows. */
export const MAX_EMAIL_LENGTH = 320;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

export class AuthService {
  constructor(private readonly db: DataSource) {}

  /** Resolves a bearer token to its actor, or null when the token is unknown or revoked. */
  async authenticate(token: string): Promise<Actor | null> {
    // One round trip for every request: the user, and a row per membership (one with nulls for none).
    const rows: Array<{ user_id: string; email: string; is_installation_admin: boolean; organization_id: string | null; role: Role | null }> = await this.db.query(
      `SELECT u.id AS user_id, u.email, u.is_installation_admin, m.organization_id, m.role
         FROM api_tokens t JOIN users u ON u.id = t.user_id
         LEFT JOIN memberships m ON m.user_id = u.id
        WHERE t.token_hash = $1 AND t.revoked_at IS NULL`,
      [hashToken(token)],
    );
    if (rows.length === 0) return null;
    const roles = new Map<string, Role>();
    for (const { organization_id, role } of rows) if (organization_id !== null && role !== null) roles.set(organization_id, role);
    return new Actor(rows[0].user_id, rows[0].email, rows[0].is_installation_admin, roles);
  }

  /**
   * Makes TOKENGATE_ADMIN_TOKEN a valid installation-admin token. Idempotent and safe for several
   * replicas starting at once; a changed admin token replaces the previous one.
   */
  async ensureBootstrapAdmin(adminToken: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO users (email, name, is_installation_admin) VALUES ($1, 'Installation admin', true)
         ON CONFLICT (email) DO UPDATE SET is_installation_admin = true`,
        [BOOTSTRAP_ADMIN_EMAIL],
      );
      const [{ id }] = (await tx.query('SELECT id FROM users WHERE email = $1', [BOOTSTRAP_ADMIN_EMAIL])) as Array<{ id: string }>;
      const tokenHash = hashToken(adminToken);
      await tx.query('DELETE FROM api_tokens WHERE user_id = $1 AND name = $2 AND token_hash <> $3', [id, BOOTSTRAP_TOKEN_NAME, tokenHash]);
      await tx.query(
        `INSERT INTO api_tokens (user_id, name, token_hash, token_prefix) VALUES ($1, $2, $3, $4)
         ON CONFLICT (token_hash) DO NOTHING`,
        [id, BOOTSTRAP_TOKEN_NAME, tokenHash, adminToken.slice(0, 8)],
      );
    });
  }

  /** Issues an API token for the caller or, for organization admins, for a member of their organization. */
  async createApiToken(actor: Actor, input: { name: string; userId?: string | null }): Promise<{ token: string; apiToken: ApiTokenEntity }> {
    const userId = input.userId ?? actor.userId;
    return this.db.transaction(async (tx) => {
      const user = await tx.findOneBy(UserEntity, { id: userId });
      if (!user) throw notFound('user', userId);
      if (userId !== actor.userId && !actor.isInstallationAdmin) {
        // The token acts with every role the user holds, in every organization, and with the
        // installation-admin flag: an ADMIN may issue one only for a user all of whose memberships are
        // in organizations that ADMIN administers, never for an installation admin. (One membership was
        // enough before: an ADMIN added anyone by email, then held their token everywhere.)
        const theirs = await tx.findBy(MembershipEntity, { userId });
        const administered = theirs.length > 0 && theirs.every((m) => actor.roleIn(m.organizationId) === Role.ADMIN);
        if (!administered || user.isInstallationAdmin) {
          throw forbidden('you can create API tokens for yourself, or as ADMIN for users who belong only to organizations you administer');
        }
      }
      const name = validateName('input.name', input.name);
      const token = generateToken(API_TOKEN_PREFIX);
      const apiToken = await tx.save(tx.create(ApiTokenEntity, { userId, name, tokenHash: hashToken(token), tokenPrefix: token.slice(0, 12) }));
      await recordAudit(tx, actor, { action: 'apiToken.create', targetType: 'ApiToken', targetId: apiToken.id, details: { name, userId } });
      return { token, apiToken };
    });
  }

  /** Adds (or changes the role of) a user in an organization, creating the user on first sight. */
  async addMember(actor: Actor, input: { organizationId: string; email: string; name?: string | null; role: Role }): Promise<{ membership: MembershipEntity; user: UserEntity }> {
    return this.db.transaction(async (tx) => {
      await this.requireOrganization(tx, input.organizationId);
      actor.requireRole(input.organizationId, [Role.ADMIN], 'adding members');
      const email = input.email.trim().toLowerCase();
      if (!EMAIL.test(email)) throw badUserInput('email', 'must be an email address');
      await tx.query(`INSERT INTO users (email, name) VALUES ($1, $2) ON CONFLICT (email) DO NOTHING`, [email, validateName('name', input.name ?? email)]);
      const user = await tx.findOneByOrFail(UserEntity, { email });
      const existing = await tx.findOneBy(MembershipEntity, { userId: user.id, organizationId: input.organizationId });
      if (existing && existing.role === input.role) throw conflict(`${email} is already a ${input.role} of this organization`);
      if (existing?.role === Role.ADMIN) {
        // The organization keeps an ADMIN: only an ADMIN adds members and issues their tokens. Its ADMIN
        // rows are locked, so two ADMINs demoting each other at once cannot both succeed.
        const admins: unknown[] = await tx.query(`SELECT id FROM memberships WHERE organization_id = $1 AND role = $2 FOR UPDATE`, [input.organizationId, Role.ADMIN]);
        if (admins.length <= 1) throw conflict(`${email} is the organization's last ADMIN: make another member ADMIN first`);
      }
      const membership = existing
        ? await tx.save(Object.assign(existing, { role: input.role }))
        : await tx.save(tx.create(MembershipEntity, { userId: user.id, organizationId: input.organizationId, role: input.role }));
      await recordAudit(tx, actor, {
        action: existing ? 'member.changeRole' : 'member.add',
        targetType: 'User',
        targetId: user.id,
        organizationId: input.organizationId,
        details: { email, role: input.role },
      });
      return { membership, user };
    });
  }

  private async requireOrganization(tx: EntityManager, organizationId: string): Promise<OrganizationEntity> {
    const organization = await tx.findOneBy(OrganizationEntity, { id: organizationId });
    if (!organization) throw notFound('organization', organizationId);
    return organization;
  }
}
