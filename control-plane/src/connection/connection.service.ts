import type { DataSource, EntityManager } from 'typeorm';
import type { Actor } from '../auth/actor';
import { badUserInput, conflict, isUniqueViolation, notFound } from '../common/errors';
import { findByIdOrNotFound, isUuid } from '../common/lookup';
import { hashToken } from '../common/secure-token';
import { validateName, validateText } from '../common/validation';
import type { ConfigChanges } from '../config-change/config-change';
import { EnvironmentEntity } from '../environment/environment.entity';
import { GenAIServiceEntity } from '../genai-service/genai-service.entity';
import { MarketplaceStatus, RegistrationScope } from '../genai-service/provider';
import { ProjectEntity } from '../project/project.entity';
import { rateLimitType } from '../rate-limit/rate-limit-policy';
import { type ConnectionRows, databaseRows, readEnvironmentLimits } from './connection-limits';
import { ConnectionEntity } from './connection.entity';
import { generateConsumerKey } from './consumer-key-format';
import type { ConnectionEnvironmentType, CreateConnectionInput, IssuedConnectionKeyType } from './connection.types';
import { usageSnippet } from './usage-snippet';

export { CONSUMER_KEY_PREFIX } from './consumer-key-format';
/** The most connections one page of `connections(projectId, first)` holds. */
export const MAX_CONNECTIONS_PAGE = 1000;
/** The longest a rotated key may keep working beside its replacement. */
export const MAX_ROTATION_GRACE_SECONDS = 7 * 24 * 3600;

/** An environment as a new connection's keys need it. */
type KeyEnvironment = Pick<EnvironmentEntity, 'id' | 'handle' | 'proxyUrl'>;
/** A key of a connection as a rotation needs it (current: no expiry set). */
type RotatedKey = { id: string; keyHash: string; current: boolean };

export function endpointUrl(environment: Pick<EnvironmentEntity, 'proxyUrl'>, organizationHandle: string, contextPath: string): string {
  return `${environment.proxyUrl}${environment.proxyUrl.endsWith('/') ? '' : '/'}${organizationHandle}${contextPath}`;
}

/** The service a new connection targets, as its creation checks it. */
type ConnectedService = Pick<GenAIServiceEntity, 'id' | 'organizationId' | 'projectId' | 'scope' | 'marketplaceStatus' | 'contextPath'>;

/**
 * What a new connection to `serviceId` in `projectId` needs, in one round trip: the project (NOT_FOUND
 * unless the actor can read it), its organization's handle, whether `name` is taken in the project,
 * every environment (oldest first: each gets a key), and the service, read with its row locked (FOR
 * SHARE: a concurrent removal from the marketplace cannot slip past the caller's check; NOT_FOUND
 * unless the actor can read it).
 */
async function creationContext(
  tx: EntityManager,
  actor: Actor,
  projectId: string,
  serviceId: string,
  name: string,
): Promise<{ projectId: string; organizationId: string; organizationHandle: string; nameTaken: boolean; environments: KeyEnvironment[]; service: ConnectedService }> {
  const rows: Array<{ id: string; organization_id: string; organization_handle: string; name_taken: boolean; environments: KeyEnvironment[]; service: ConnectedService | null }> = isUuid(projectId)
    ? await tx.query(
        `SELECT p.id, p.organization_id, o.handle AS organization_handle,
                EXISTS (SELECT 1 FROM connections c WHERE c.project_id = p.id AND c.name = $2) AS name_taken,
                (SELECT coalesce(json_agg(json_build_object('id', e.id, 'handle', e.handle, 'proxyUrl', e.proxy_url) ORDER BY e.created_at), '[]'::json)
                   FROM environments e) AS environments,
                (SELECT json_build_object('id', s.id, 'organizationId', s.organization_id, 'projectId', s.project_id, 'scope', s.scope,
                                          'marketplaceStatus', s.marketplace_status, 'contextPath', s.context_path)
                   FROM (SELECT * FROM genai_services WHERE id = $3 FOR SHARE) s) AS service
           FROM projects p JOIN organizations o ON o.id = p.organization_id
          WHERE p.id = $1`,
        // A malformed service id matches no row (and is never a database error).
        [projectId, name, isUuid(serviceId) ? serviceId : null],
      )
    : [];
  const project = rows[0];
  if (project === undefined || !actor.canRead(project.organization_id)) throw notFound('project', projectId);
  const { service } = project;
  if (service === null || !actor.canRead(service.organizationId)) throw notFound('GenAI service', serviceId);
  return { projectId: project.id, organizationId: project.organization_id, organizationHandle: project.organization_handle, nameTaken: project.name_taken, environments: project.environments, service };
}

/**
 * What a key rotation of `connection` in `environmentHandle` needs, in one round trip: the environment
 * (BAD_USER_INPUT when there is none of that handle), the service's context path, the organization's
 * handle, and the connection's keys there.
 */
async function rotationContext(
  tx: EntityManager,
  connection: ConnectionEntity,
  environmentHandle: string,
): Promise<{ environment: KeyEnvironment; contextPath: string; organizationHandle: string; keys: RotatedKey[] }> {
  const rows: Array<{ id: string; handle: string; proxy_url: string; context_path: string; organization_handle: string; keys: RotatedKey[] }> = await tx.query(
    `SELECT e.id, e.handle, e.proxy_url, s.context_path, o.handle AS organization_handle,
            (SELECT coalesce(json_agg(json_build_object('id', k.id, 'keyHash', k.key_hash, 'current', k.expires_at IS NULL)), '[]'::json)
               FROM connection_keys k WHERE k.connection_id = $1 AND k.environment_id = e.id) AS keys
       FROM environments e, genai_services s, organizations o
      WHERE e.handle = $2 AND s.id = $3 AND o.id = $4`,
    [connection.id, environmentHandle, connection.serviceId, connection.organizationId],
  );
  const row = rows[0];
  if (row === undefined) throw badUserInput('environment', `unknown environment "${environmentHandle}"`);
  return { environment: { id: row.id, handle: row.handle, proxyUrl: row.proxy_url }, contextPath: row.context_path, organizationHandle: row.organization_handle, keys: row.keys };
}

/**
 * Loads a connection the actor can read for a change, locking its row, in one round trip (NOT_FOUND
 * when there is none the actor can read, or it was deleted concurrently). Whom the actor may read is
 * part of the query, so no lock is ever taken on another organization's row. Anything else the change
 * reads of the connection (its keys) comes in a later statement, once the lock is held: a statement's
 * snapshot predates the lock it waits for, and would miss what the change before it committed.
 */
export async function lockConnection(tx: EntityManager, actor: Actor, connectionId: string): Promise<ConnectionEntity> {
  const rows: Array<{ id: string; organization_id: string; project_id: string; service_id: string; name: string; description: string; created_by: string; created_at: Date }> = isUuid(connectionId)
    ? await tx.query(
        `SELECT id, organization_id, project_id, service_id, name, description, created_by, created_at
           FROM connections WHERE id = $1 AND ($2 OR organization_id = ANY($3::uuid[])) FOR UPDATE`,
        [connectionId, actor.isInstallationAdmin, actor.organizationIds()],
      )
    : [];
  const row = rows[0];
  if (row === undefined) throw notFound('connection', connectionId);
  return tx.create(ConnectionEntity, {
    id: row.id,
    organizationId: row.organization_id,
    projectId: row.project_id,
    serviceId: row.service_id,
    name: row.name,
    description: row.description,
    createdBy: row.created_by,
    createdAt: row.created_at,
  });
}

export class ConnectionService {
  constructor(
    private readonly db: DataSource,
    private readonly changes: ConfigChanges,
  ) {}

  async create(actor: Actor, input: CreateConnectionInput): Promise<{ connection: ConnectionEntity; keys: IssuedConnectionKeyType[] }> {
    const name = validateName('input.name', input.name);
    const description = validateText('input.description', input.description, 2000);
    try {
      const { connection, keys } = await this.changes.apply(async (tx, change) => {
        // A creation is the mutation made most often: three round trips in its transaction (bench:scale).
        const project = await creationContext(tx, actor, input.projectId, input.serviceId, name);
        const { service, environments } = project;
        if (service.organizationId !== project.organizationId || (service.scope === RegistrationScope.PROJECT && service.projectId !== project.projectId)) {
          throw badUserInput('input.serviceId', 'this service is not available to the project (it is registered in another project or organization)');
        }
        if (service.marketplaceStatus === MarketplaceStatus.REMOVED) {
          throw badUserInput('input.serviceId', 'this service has been removed from the marketplace and accepts no new connections');
        }
        // Read with the project (in the statement that locks the service); two creations racing for a name meet the unique index (project_id, name).
        if (project.nameTaken) throw conflict(`the project already has a connection named "${name}"`, 'input.name');
        const { keys, served, rows: keyRows } = newKeys(environments, project.organizationHandle, service.contextPath);
        // The connection and its keys, one statement.
        const [inserted]: Array<{ id: string; created_at: Date }> = await tx.query(
          `WITH c AS (
             INSERT INTO connections (organization_id, project_id, service_id, name, description, created_by)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, created_at),
           k AS (
             INSERT INTO connection_keys (connection_id, environment_id, key_hash, key_prefix)
             SELECT c.id, t.environment_id, t.key_hash, t.key_prefix FROM c, unnest($7::uuid[], $8::text[], $9::text[]) AS t(environment_id, key_hash, key_prefix))
           SELECT id, created_at FROM c`,
          [project.organizationId, project.projectId, service.id, name, description, actor.userId, keyRows.map((r) => r.environmentId), keyRows.map((r) => r.keyHash), keyRows.map((r) => r.keyPrefix)],
        );
        const connection = tx.create(ConnectionEntity, { id: inserted.id, organizationId: project.organizationId, projectId: project.projectId, serviceId: service.id, name, description, createdBy: actor.userId, createdAt: inserted.created_at });
        await change.audit(actor, {
          action: 'connection.create',
          targetType: 'Connection',
          targetId: connection.id,
          organizationId: connection.organizationId,
          details: { name, projectId: project.projectId, serviceId: service.id, environments: keys.map((k) => k.environment) },
        });
        change.alters(service.id, environments.map((e) => e.id), `connection "${name}" created`, { service: false, keys: served });
        return { connection, keys };
      });
      return { connection, keys };
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`the project already has a connection named "${name}"`, 'input.name');
      throw error;
    }
  }

  /** Replaces the connection's key in one environment (issuing one if it had none); the old key stops working. */
  /**
   * Issues a new key for one environment. The replaced key stops working with the next snapshot, or
   * with `graceSeconds` keeps working beside the new one until then (the proxies enforce the expiry);
   * a key still in an earlier grace period is revoked at once: a connection has at most two keys.
   */
  async rotateKey(actor: Actor, connectionId: string, environmentHandle: string, graceSeconds = 0): Promise<IssuedConnectionKeyType> {
    if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > MAX_ROTATION_GRACE_SECONDS) {
      throw badUserInput('graceSeconds', `must be a whole number of seconds from 0 to ${MAX_ROTATION_GRACE_SECONDS} (7 days)`);
    }
    const key = await this.changes.apply(async (tx, change) => {
      const connection = await lockConnection(tx, actor, connectionId);
      const { environment, contextPath, organizationHandle, keys: existing } = await rotationContext(tx, connection, environmentHandle);
      const current = existing.find((k) => k.current);
      const revoked = existing.filter((k) => k !== current || graceSeconds === 0);
      const kept = graceSeconds > 0 ? current : undefined;
      const { keys: [key], served, rows: [row] } = newKeys([environment], organizationHandle, contextPath);
      // The replaced keys revoked (or the current one given its grace period, on the database's clock,
      // like every other timestamp of the control plane), then the new key stored: one statement. The
      // insert's condition reads the first two to their end (a one-time filter, evaluated before its
      // row), so it runs after them (sub-statements of a WITH run in no set order otherwise) and the
      // partial unique indexes (one current, one previous key per environment) no longer see the
      // replaced key.
      const [written]: Array<{ expires_at: Date | null }> = await tx.query(
        `WITH revoked AS (DELETE FROM connection_keys WHERE id = ANY($1::uuid[]) RETURNING id),
              kept AS (UPDATE connection_keys SET expires_at = now() + make_interval(secs => $3) WHERE id = $2 RETURNING expires_at),
              issued AS (
                INSERT INTO connection_keys (connection_id, environment_id, key_hash, key_prefix)
                SELECT $4::uuid, $5::uuid, $6::text, $7::text WHERE (SELECT count(*) FROM revoked) >= 0 AND (SELECT count(*) FROM kept) >= 0
                RETURNING id)
         SELECT (SELECT expires_at FROM kept) AS expires_at, (SELECT count(*) FROM issued) AS issued`,
        [revoked.map((k) => k.id), kept?.id ?? null, graceSeconds, connectionId, row.environmentId, row.keyHash, row.keyPrefix],
      );
      const previousKeyExpiresAt = written.expires_at;
      const keyChanges = [...existing.map((k) => ({ environmentId: environment.id, keyHash: k.keyHash })), ...served];
      await change.audit(actor, {
        action: 'connection.rotateKey',
        targetType: 'Connection',
        targetId: connectionId,
        organizationId: connection.organizationId,
        details: { environment: environmentHandle, graceSeconds, previousKeyExpiresAt: previousKeyExpiresAt?.toISOString() ?? null },
      });
      change.alters(connection.serviceId, [environment.id], `key of connection "${connection.name}" rotated in ${environmentHandle}`, { service: false, keys: keyChanges });
      return { ...key, previousKeyExpiresAt };
    });
    return key;
  }

  async delete(actor: Actor, connectionId: string): Promise<void> {
    await this.changes.apply(async (tx, change) => {
      const connection = await lockConnection(tx, actor, connectionId);
      // The keys (as they are now that the connection is locked), then the connection: one statement.
      const removedKeys: Array<{ environmentId: string; keyHash: string }> = await tx.query(
        `WITH keys AS (DELETE FROM connection_keys WHERE connection_id = $1 RETURNING environment_id, key_hash),
              gone AS (DELETE FROM connections WHERE id = $1)
         SELECT environment_id AS "environmentId", key_hash AS "keyHash" FROM keys`,
        [connectionId],
      );
      const environmentIds = removedKeys.map((k) => k.environmentId);
      await change.audit(actor, { action: 'connection.delete', targetType: 'Connection', targetId: connectionId, organizationId: connection.organizationId, details: { name: connection.name, serviceId: connection.serviceId } });
      change.alters(connection.serviceId, environmentIds, `connection "${connection.name}" deleted`, { service: false, keys: removedKeys });
    });
  }

  async get(actor: Actor, id: string): Promise<ConnectionEntity> {
    return findByIdOrNotFound(this.db.manager, ConnectionEntity, id, 'connection', (c) => actor.canRead(c.organizationId));
  }

  /**
   * The project's connections, oldest first; with `first`, one page of at most that many, after the
   * connection `after` (the previous page's last). Pages follow (created_at, id), so connections
   * created or deleted meanwhile never shift an item into the wrong page.
   */
  async list(actor: Actor, projectId: string, page: { first: number | null; after: string | null } = { first: null, after: null }): Promise<ConnectionEntity[]> {
    await findByIdOrNotFound(this.db.manager, ProjectEntity, projectId, 'project', (p) => actor.canRead(p.organizationId));
    const { first, after } = page;
    if (first !== null && (first < 1 || first > MAX_CONNECTIONS_PAGE)) throw badUserInput('first', `must be between 1 and ${MAX_CONNECTIONS_PAGE}`);
    const query = this.db.getRepository(ConnectionEntity).createQueryBuilder('c').where('c.project_id = :projectId', { projectId }).orderBy('c.created_at', 'ASC').addOrderBy('c.id', 'ASC');
    if (after !== null) {
      const cursor = isUuid(after) ? await this.db.getRepository(ConnectionEntity).findOneBy({ id: after }) : null;
      if (cursor === null || cursor.projectId !== projectId) throw badUserInput('after', 'is not a connection of this project (it may have been deleted: start from the first page)');
      // Compared in the database: created_at keeps microseconds that a JavaScript Date would drop.
      query.andWhere('(c.created_at, c.id) > (SELECT created_at, id FROM connections WHERE id = :after)', { after });
    }
    if (first !== null) query.limit(first);
    return query.getMany();
  }

  /** Per environment: endpoint, key prefix, an SDK snippet (never the key) and the connection's quota. */
  async environments(connection: ConnectionEntity, rows: ConnectionRows = databaseRows(this.db.manager)): Promise<ConnectionEnvironmentType[]> {
    const [service, organization, keys, limits] = await Promise.all([
      rows.serviceOf(connection.serviceId),
      rows.organizationOf(connection.organizationId),
      rows.keys(connection.id),
      readEnvironmentLimits(rows, connection),
    ]);
    const now = Date.now();
    return limits.map(({ environment, config, quota, quotaSource }) => {
      const key = keys.find((k) => k.environmentId === environment.id && k.expiresAt === null);
      const previous = keys.find((k) => k.environmentId === environment.id && k.expiresAt !== null && k.expiresAt.getTime() > now);
      const url = endpointUrl(environment, organization.handle, service.contextPath);
      return {
        environment: environment.handle,
        endpointUrl: url,
        keyPrefix: key?.keyPrefix ?? null,
        keyCreatedAt: key?.createdAt ?? null,
        previousKeyPrefix: previous?.keyPrefix ?? null,
        previousKeyExpiresAt: previous?.expiresAt ?? null,
        usageSnippet: usageSnippet(service.provider, url, config?.serviceUrl ?? service.serviceUrl, config?.apiVersion ?? null),
        quota: rateLimitType(quota),
        quotaSource,
      };
    });
  }
}

/**
 * A new key in each environment: the keys, shown once, to the caller; what the proxies are told (each
 * key's hash in its environment); the rows to store (hash and prefix, never the key).
 */
function newKeys(
  environments: readonly KeyEnvironment[],
  organizationHandle: string,
  contextPath: string,
): { keys: IssuedConnectionKeyType[]; served: Array<{ environmentId: string; keyHash: string }>; rows: Array<{ environmentId: string; keyHash: string; keyPrefix: string }> } {
  const apiKeys = environments.map((environment) => generateConsumerKey(environment.handle));
  const served = environments.map((environment, i) => ({ environmentId: environment.id, keyHash: hashToken(apiKeys[i]) }));
  const rows = served.map((key, i) => ({ ...key, keyPrefix: apiKeys[i].slice(0, 12) }));
  const keys = environments.map((environment, i) => ({ environment: environment.handle, apiKey: apiKeys[i], endpointUrl: endpointUrl(environment, organizationHandle, contextPath) }));
  return { keys, served, rows };
}
