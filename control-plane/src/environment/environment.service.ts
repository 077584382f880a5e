import type { DataSource } from 'typeorm';
import type { Actor } from '../auth/actor';
import { recordAudit } from '../audit/audit-log';
import { badUserInput, conflict, isUniqueViolation } from '../common/errors';
import { normalizeServiceUrl, validateHandle, validateName } from '../common/validation';
import { EnvironmentEntity } from './environment.entity';

export const DEFAULT_PROXY_URL = 'http://127.0.0.1:8080';

export class EnvironmentService {
  constructor(private readonly db: DataSource) {}

  async create(actor: Actor, input: { handle: string; name: string; proxyUrl?: string | null }): Promise<EnvironmentEntity> {
    actor.requireInstallationAdmin('creating environments');
    const handle = validateHandle('input.handle', input.handle);
    const name = validateName('input.name', input.name);
    const proxyUrl = normalizeServiceUrl('input.proxyUrl', input.proxyUrl ?? DEFAULT_PROXY_URL);
    try {
      return await this.db.transaction(async (tx) => {
        const environment = await tx.save(tx.create(EnvironmentEntity, { handle, name, proxyUrl }));
        await recordAudit(tx, actor, { action: 'environment.create', targetType: 'Environment', targetId: environment.id, details: { handle, name, proxyUrl } });
        return environment;
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`an environment with handle "${handle}" already exists`, 'input.handle');
      throw error;
    }
  }

  /** Idempotent creation used at startup (`npm start` creates development and production). */
  async ensure(handle: string, name: string, proxyUrl: string): Promise<void> {
    await this.db.query(`INSERT INTO environments (handle, name, proxy_url) VALUES ($1, $2, $3) ON CONFLICT (handle) DO NOTHING`, [handle, name, proxyUrl]);
  }

  list(): Promise<EnvironmentEntity[]> {
    return this.db.getRepository(EnvironmentEntity).find({ order: { createdAt: 'ASC', handle: 'ASC' } });
  }

  async byHandle(field: string, handle: string): Promise<EnvironmentEntity> {
    const environment = await this.db.getRepository(EnvironmentEntity).findOneBy({ handle });
    if (!environment) throw badUserInput(field, `unknown environment "${handle}"`);
    return environment;
  }
}
