import { forbidden, notFound } from '../common/errors';
import { Role } from './role';

/** The authenticated caller of one request, with its role in each organization it belongs to. */
export class Actor {
  constructor(
    readonly userId: string,
    readonly email: string,
    readonly isInstallationAdmin: boolean,
    private readonly roles: ReadonlyMap<string, Role>,
  ) {}

  roleIn(organizationId: string): Role | undefined {
    return this.roles.get(organizationId);
  }

  organizationIds(): string[] {
    return [...this.roles.keys()];
  }

  canRead(organizationId: string): boolean {
    return this.isInstallationAdmin || this.roles.has(organizationId);
  }

  /** Any role in the organization (or installation admin). */
  requireMember(organizationId: string): void {
    if (!this.canRead(organizationId)) throw forbidden('you are not a member of this organization');
  }

  requireRole(organizationId: string, allowed: Role[], action: string): void {
    if (this.isInstallationAdmin) return;
    const role = this.roles.get(organizationId);
    if (!role) throw forbidden('you are not a member of this organization');
    if (!allowed.includes(role)) throw forbidden(`${action} requires one of the roles ${allowed.join(', ')}; you are ${role}`);
  }

  /**
   * requireRole for a check made before the organization is read, so that a request is authorized
   * before its input is processed: a caller outside the organization gets the NOT_FOUND its lookup
   * would give (whether it exists stays hidden), a member without the role FORBIDDEN.
   */
  requireRoleBeforeLookup(organizationId: string, allowed: Role[], action: string): void {
    if (!this.canRead(organizationId)) throw notFound('organization', organizationId);
    this.requireRole(organizationId, allowed, action);
  }

  requireInstallationAdmin(action: string): void {
    if (!this.isInstallationAdmin) throw forbidden(`${action} requires an installation admin`);
  }
}

export const SERVICE_MANAGERS = [Role.ADMIN, Role.PLATFORM_ENGINEER];
export const ORGANIZATION_ADMINS = [Role.ADMIN];
