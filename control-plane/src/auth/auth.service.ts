import type { DataSource, EntityManager } from 'typeorm';
import { recordAudit } from '../audit/audit-log';
import { badUserInput, conflict, forbidden, notFound } from '../common/errors';
import { generateToken, hashToken } from '../common/secure-token';
import { isUuid } from '../common/lookup';
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

  /**
   * Whether `actor` may manage (issue, list, revoke) the API tokens of `user`: their own; an
   * installation admin anyone's; an organization ADMIN those of a user all of whose memberships are in
   * organizations that ADMIN administers, never an installation admin's. A token acts with every role
   * its user holds, in every organization, and with the installation-admin flag: one membership was
   * enough before, and an ADMIN added anyone by email, then held their token everywhere.
   */
  private async requireTokenAuthority(tx: EntityManager, actor: Actor, user: UserEntity, doing: string): Promise<void> {
    if (user.id === actor.userId || actor.isInstallationAdmin) return;
    const theirs = await tx.findBy(MembershipEntity, { userId: user.id });
    const administered = theirs.length > 0 && theirs.every((m) => actor.roleIn(m.organizationId) === Role.ADMIN);
    if (!administered || user.isInstallationAdmin) {
      throw forbidden(`you can ${doing} API tokens for yourself, or as ADMIN for users who belong only to organizations you administer`);
    }
  }

  /** Issues an API token for the caller or, for organization admins, for a member of their organization. */
  async createApiToken(actor: Actor, input: { name: string; userId?: string | null }): Promise<{ token: string; apiToken: ApiTokenEntity }> {
    const userId = input.userId ?? actor.userId;
    return this.db.transaction(async (tx) => {
      const user = isUuid(userId) ? await tx.findOneBy(UserEntity, { id: userId }) : null;
      if (!user) throw notFound('user', userId);
      await this.requireTokenAuthority(tx, actor, user, 'create');
      const name = validateName('input.name', input.name);
      const token = generateToken(API_TOKEN_PREFIX);
      const apiToken = await tx.save(tx.create(ApiTokenEntity, { userId, name, tokenHash: hashToken(token), tokenPrefix: token.slice(0, 12) }));
      await recordAudit(tx, actor, { action: 'apiToken.create', targetType: 'ApiToken', targetId: apiToken.id, details: { name, userId } });
      return { token, apiToken };
    });
  }

  /** The API tokens of a user (the caller by default), newest first, revoked ones included; never a token itself. */
  async listApiTokens(actor: Actor, userId: string | null): Promise<ApiTokenEntity[]> {
    const id = userId ?? actor.userId;
    return this.db.transaction(async (tx) => {
      const user = isUuid(id) ? await tx.findOneBy(UserEntity, { id }) : null;
      if (!user) throw notFound('user', id);
      await this.requireTokenAuthority(tx, actor, user, 'list');
      return tx.find(ApiTokenEntity, { where: { userId: id }, order: { createdAt: 'DESC', id: 'ASC' } });
    });
  }

  /**
   * Revokes an API token: the next request presenting it is UNAUTHENTICATED. Who may issue a user's
   * tokens may revoke them (NOT_FOUND for a token of anyone else, as for an unknown one). The bootstrap
   * token is TOKENGATE_ADMIN_TOKEN's: it is replaced by changing that variable, not revoked here.
   */
  async revokeApiToken(actor: Actor, tokenId: string): Promise<ApiTokenEntity> {
    return this.db.transaction(async (tx) => {
      const apiToken = isUuid(tokenId) ? await tx.findOne(ApiTokenEntity, { where: { id: tokenId }, lock: { mode: 'pessimistic_write' } }) : null;
      const user = apiToken ? await tx.findOneBy(UserEntity, { id: apiToken.userId }) : null;
      if (!apiToken || !user) throw notFound('API token', tokenId);
      await this.requireTokenAuthority(tx, actor, user, 'revoke').catch(() => {
        throw notFound('API token', tokenId);
      });
      if (apiToken.name === BOOTSTRAP_TOKEN_NAME && user.email === BOOTSTRAP_ADMIN_EMAIL) {
        throw badUserInput('id', 'this is the bootstrap token of TOKENGATE_ADMIN_TOKEN: set another value there and restart the control plane to replace it');
      }
      if (apiToken.revokedAt !== null) throw conflict('this API token is already revoked');
      const [rows] = (await tx.query('UPDATE api_tokens SET revoked_at = now() WHERE id = $1 RETURNING revoked_at', [apiToken.id])) as [Array<{ revoked_at: Date }>, number];
      apiToken.revokedAt = rows[0].revoked_at;
      await recordAudit(tx, actor, { action: 'apiToken.revoke', targetType: 'ApiToken', targetId: apiToken.id, details: { name: apiToken.name, userId: apiToken.userId } });
      return apiToken;
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
