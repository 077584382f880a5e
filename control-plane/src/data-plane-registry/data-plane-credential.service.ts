// Per-environment credentials of the config stream: issued and revoked by installation admins, stored
// as SHA-256 only. A proxy that presents one is served only that environment's configuration (which
// holds its provider credentials); the installation-wide TOKENGATE_DATAPLANE_TOKEN, when set, still
// opens every environment and is meant for one-machine setups and bootstrapping.
import type { DataSource } from 'typeorm';
import type { Actor } from '../auth/actor';
import { recordAudit } from '../audit/audit-log';
import { badUserInput, notFound } from '../common/errors';
import { generateToken, hashToken } from '../common/secure-token';
import { validateName } from '../common/validation';
import { EnvironmentEntity } from '../environment/environment.entity';
import { DataPlaneCredentialEntity } from './data-plane-credential.entity';
import type { DataPlaneCredentialType, IssuedDataPlaneCredentialType } from './data-plane-credential.types';

export const DATA_PLANE_CREDENTIAL_PREFIX = 'tgd_';

/** Who a presented credential lets in. */
export interface DataPlanePrincipal {
  readonly credentialId: string;
  readonly environment: string;
}

export class DataPlaneCredentialService {
  /** Told when a credential is revoked here, so this replica's streams using it close at once. */
  onRevoked: (credentialId: string) => void = () => undefined;

  constructor(private readonly db: DataSource) {}

  async issue(actor: Actor, environmentHandle: string, name: string): Promise<IssuedDataPlaneCredentialType> {
    actor.requireInstallationAdmin('issuing data-plane credentials');
    const validName = validateName('name', name);
    const environment = await this.db.getRepository(EnvironmentEntity).findOneBy({ handle: environmentHandle });
    if (!environment) throw badUserInput('environment', `unknown environment "${environmentHandle}"`);
    const token = generateToken(DATA_PLANE_CREDENTIAL_PREFIX);
    const credential = await this.db.transaction(async (tx) => {
      const saved = await tx.save(tx.create(DataPlaneCredentialEntity, { environmentId: environment.id, name: validName, tokenHash: hashToken(token), tokenPrefix: token.slice(0, 12), revokedAt: null }));
      await recordAudit(tx, actor, { action: 'dataPlaneCredential.issue', targetType: 'DataPlaneCredential', targetId: saved.id, details: { environment: environmentHandle, name: validName } });
      return saved;
    });
    return { credential: toType(credential, environmentHandle), token };
  }

  async revoke(actor: Actor, id: string): Promise<DataPlaneCredentialType> {
    actor.requireInstallationAdmin('revoking data-plane credentials');
    const revoked = await this.db.transaction(async (tx) => {
      const credential = await tx.findOneBy(DataPlaneCredentialEntity, { id });
      if (!credential) throw notFound('data-plane credential', id);
      if (credential.revokedAt === null) {
        await tx.query('UPDATE data_plane_credentials SET revoked_at = now() WHERE id = $1', [id]);
        await recordAudit(tx, actor, { action: 'dataPlaneCredential.revoke', targetType: 'DataPlaneCredential', targetId: id, details: {} });
      }
      return tx.findOneByOrFail(DataPlaneCredentialEntity, { id });
    });
    this.onRevoked(id);
    const environment = await this.db.getRepository(EnvironmentEntity).findOneByOrFail({ id: revoked.environmentId });
    return toType(revoked, environment.handle);
  }

  async list(actor: Actor, environmentHandle: string | null): Promise<DataPlaneCredentialType[]> {
    actor.requireInstallationAdmin('listing data-plane credentials');
    const rows: Array<DataPlaneCredentialEntity & { handle: string }> = await this.db.query(
      `SELECT c.id, c.name, c.token_prefix AS "tokenPrefix", c.created_at AS "createdAt", c.revoked_at AS "revokedAt", e.handle
         FROM data_plane_credentials c JOIN environments e ON e.id = c.environment_id
        ${environmentHandle === null ? '' : 'WHERE e.handle = $1'}
        ORDER BY c.created_at, c.id`,
      environmentHandle === null ? [] : [environmentHandle],
    );
    return rows.map((row) => toType(row, row.handle));
  }

  /** The environment a presented token opens, or null when it is no live credential. */
  async authenticate(token: string): Promise<DataPlanePrincipal | null> {
    if (!token.startsWith(DATA_PLANE_CREDENTIAL_PREFIX)) return null;
    const rows: Array<{ id: string; handle: string }> = await this.db.query(
      `SELECT c.id, e.handle FROM data_plane_credentials c JOIN environments e ON e.id = c.environment_id WHERE c.token_hash = $1 AND c.revoked_at IS NULL`,
      [hashToken(token)],
    );
    return rows.length === 0 ? null : { credentialId: rows[0].id, environment: rows[0].handle };
  }

  /** Of `ids`, those still live (not revoked, not deleted with their environment). */
  async live(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows: Array<{ id: string }> = await this.db.query('SELECT id FROM data_plane_credentials WHERE id = ANY($1::uuid[]) AND revoked_at IS NULL', [ids]);
    return new Set(rows.map((row) => row.id));
  }
}

function toType(credential: Pick<DataPlaneCredentialEntity, 'id' | 'name' | 'tokenPrefix' | 'createdAt' | 'revokedAt'>, environment: string): DataPlaneCredentialType {
  return { id: credential.id, environment, name: credential.name, tokenPrefix: credential.tokenPrefix, createdAt: credential.createdAt, revokedAt: credential.revokedAt };
}
