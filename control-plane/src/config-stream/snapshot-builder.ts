// Translates database rows into what the proxies serve (the proto model, not the DB model): the full
// snapshot of an environment, or the delta between two of its revisions read from its change log.
import { escapeLiteral, type PoolClient, type QueryResult } from 'pg';
import type { DataSource, QueryRunner } from 'typeorm';
import { PROVIDER_DEFAULTS, type Provider, type TimeUnit } from '../genai-service/provider';
import type { ProviderCredentials } from '../genai-service/service-environment-config.entity';
import { rateLimitPolicy, storedRateLimit } from '../rate-limit/rate-limit-policy';
import type { SecretBox } from '../secrets/secret-box';
import type { BuiltDelta, BuiltSnapshot, SnapshotBackendAuth, SnapshotConsumerKey, SnapshotService } from './snapshot.types';

interface ServiceRow {
  id: string;
  organization_id: string;
  organization_handle: string;
  context_path: string;
  provider: Provider;
  name: string;
  service_url: string;
  marketplace_status: string;
  auth_type: string | null;
  header_name: string | null;
  credentials_sealed: string | null;
  api_version: string | null;
  aws_region: string | null;
  env_service_url: string | null;
  rate_limit_time_unit: TimeUnit | null;
  max_prompt_tokens: number | null;
  max_completion_tokens: number | null;
  max_total_tokens: number | null;
  rate_limit_shadow: boolean | null;
  connection_quota_time_unit: TimeUnit | null;
  connection_quota_max_prompt_tokens: number | null;
  connection_quota_max_completion_tokens: number | null;
  connection_quota_max_total_tokens: number | null;
  connection_quota_shadow: boolean | null;
  stream_cutoff: boolean | null;
}

interface KeyRow {
  key_hash: string;
  connection_id: string;
  service_id: string;
  project_id: string;
  /** The connection's quota override in the key's environment; null unit: none. */
  quota_time_unit: TimeUnit | null;
  quota_max_prompt_tokens: number | null;
  quota_max_completion_tokens: number | null;
  quota_max_total_tokens: number | null;
  quota_shadow: boolean | null;
  /** A rotated key in its grace period: epoch ms when it stops working (text: bigint); null: the current key. */
  expires_at_ms: string | null;
}

/** When a delta is not worth it (or not possible), the proxy gets a full snapshot instead. */
export interface DeltaLimits {
  /** Revisions one delta may span. The change log keeps at least this many per environment. */
  maxRevisions: number;
  /** Services and keys one delta may carry; beyond it a snapshot is as cheap to send and apply. */
  maxEntries: number;
}

export const DEFAULT_DELTA_LIMITS: DeltaLimits = { maxRevisions: 10_000, maxEntries: 20_000 };

/** `Authorization` gets the scheme a provider expects; a value that already has one is sent as is. */
export function headerValue(provider: Provider, headerName: string, key: string): string {
  if (headerName.toLowerCase() !== 'authorization' || /\s/.test(key)) return key;
  return PROVIDER_DEFAULTS[provider].bearer || provider === 'AWS_BEDROCK' ? `Bearer ${key}` : key;
}

function backendAuth(row: ServiceRow, box: SecretBox): SnapshotBackendAuth | undefined {
  if (!row.credentials_sealed) return undefined;
  const credentials = JSON.parse(box.open(row.credentials_sealed)) as ProviderCredentials;
  if (row.auth_type === 'AWS_SIGV4') {
    return {
      aws_sigv4: {
        region: row.aws_region ?? '',
        access_key_id: credentials.awsAccessKeyId ?? '',
        secret_access_key: credentials.awsSecretAccessKey ?? '',
        session_token: credentials.awsSessionToken ?? '',
        service: 'bedrock',
      },
    };
  }
  const headerName = row.header_name ?? PROVIDER_DEFAULTS[row.provider].headerName;
  return { api_key: { header_name: headerName, header_value: headerValue(row.provider, headerName, credentials.apiKey ?? ''), api_version: row.api_version ?? '' } };
}

function serviceMessage(row: ServiceRow, box: SecretBox): SnapshotService {
  const rateLimit = storedRateLimit(row.rate_limit_time_unit, row.max_prompt_tokens, row.max_completion_tokens, row.max_total_tokens, row.rate_limit_shadow);
  const connectionQuota = storedRateLimit(
    row.connection_quota_time_unit,
    row.connection_quota_max_prompt_tokens,
    row.connection_quota_max_completion_tokens,
    row.connection_quota_max_total_tokens,
    row.connection_quota_shadow,
  );
  return {
    id: row.id,
    organization_id: row.organization_id,
    organization_handle: row.organization_handle,
    context_path: row.context_path,
    provider: row.provider,
    name: row.name,
    upstream_url: row.env_service_url ?? row.service_url,
    marketplace_removed: row.marketplace_status === 'REMOVED',
    backend_auth: backendAuth(row, box),
    rate_limit: rateLimit ? rateLimitPolicy(rateLimit) : undefined,
    connection_quota: connectionQuota ? rateLimitPolicy(connectionQuota) : undefined,
    stream_cutoff: row.stream_cutoff === true,
  };
}

/** The environment's services (all, or those of `ids`), as the proxies serve them. */
async function readServices(runner: QueryRunner, box: SecretBox, environmentId: string, ids?: string[]): Promise<SnapshotService[]> {
  const rows: ServiceRow[] = await runner.query(
    `SELECT s.id, s.organization_id, o.handle AS organization_handle, s.context_path, s.provider, s.name, s.service_url,
            s.marketplace_status, c.auth_type, c.header_name, c.credentials_sealed, c.api_version, c.aws_region,
            c.service_url AS env_service_url, c.rate_limit_time_unit, c.max_prompt_tokens, c.max_completion_tokens, c.max_total_tokens,
            c.rate_limit_shadow, c.connection_quota_time_unit, c.connection_quota_max_prompt_tokens, c.connection_quota_max_completion_tokens,
            c.connection_quota_max_total_tokens, c.connection_quota_shadow, c.stream_cutoff
       FROM genai_services s
       JOIN organizations o ON o.id = s.organization_id
       LEFT JOIN service_environment_configs c ON c.service_id = s.id AND c.environment_id = $1
      ${ids ? 'WHERE s.id = ANY($2::uuid[])' : ''}
      ORDER BY o.handle, s.context_path`,
    ids ? [environmentId, ids] : [environmentId],
  );
  return rows.map((row) => serviceMessage(row, box));
}

function keyMessage(row: KeyRow): SnapshotConsumerKey {
  const override = storedRateLimit(row.quota_time_unit, row.quota_max_prompt_tokens, row.quota_max_completion_tokens, row.quota_max_total_tokens, row.quota_shadow);
  return {
    key_hash: row.key_hash,
    connection_id: row.connection_id,
    service_id: row.service_id,
    project_id: row.project_id,
    ...(override ? { quota_override: rateLimitPolicy(override) } : {}),
    ...(row.expires_at_ms !== null ? { expires_at_unix_ms: row.expires_at_ms } : {}),
  };
}

/**
 * The environment's consumer keys (all, or those whose hash is in `hashes`), each with its
 * connection's quota override there: one LEFT JOIN through the overrides' primary key, the only
 * addition to a read that covers every key of the environment.
 */
async function readKeys(runner: QueryRunner, environmentId: string, hashes?: string[], page?: { after: string; limit: number }): Promise<SnapshotConsumerKey[]> {
  const rows: KeyRow[] = await runner.query(
    `SELECT k.key_hash, k.connection_id, c.service_id, c.project_id,
            q.time_unit AS quota_time_unit, q.max_prompt_tokens AS quota_max_prompt_tokens, q.max_completion_tokens AS quota_max_completion_tokens,
            q.max_total_tokens AS quota_max_total_tokens, q.shadow AS quota_shadow,
            (floor(extract(epoch FROM k.expires_at) * 1000))::bigint::text AS expires_at_ms
       FROM connection_keys k JOIN connections c ON c.id = k.connection_id
       LEFT JOIN connection_quota_overrides q ON q.connection_id = k.connection_id AND q.environment_id = k.environment_id
      WHERE k.environment_id = $1 AND (k.expires_at IS NULL OR k.expires_at > now()) ${hashes ? 'AND k.key_hash = ANY($2::text[])' : ''}
            ${page ? 'AND k.key_hash > $2' : ''}
      ORDER BY k.key_hash ${page ? 'LIMIT $3' : ''}`,
    hashes ? [environmentId, hashes] : page ? [environmentId, page.after, page.limit] : [environmentId],
  );
  return rows.map(keyMessage);
}

/** Keys read per query of a full snapshot: what is held at once besides the encoded bytes. */
const KEYS_PER_PAGE = 10_000;

/** Every key of the environment, KEYS_PER_PAGE at a time in key-hash order (keyset pagination). */
async function* keyPages(runner: QueryRunner, environmentId: string): AsyncGenerator<SnapshotConsumerKey[]> {
  let after = '';
  for (;;) {
    const page = await readKeys(runner, environmentId, undefined, { after, limit: KEYS_PER_PAGE });
    if (page.length > 0) yield page;
    if (page.length < KEYS_PER_PAGE) return;
    after = page[page.length - 1].key_hash ?? '';
  }
}

interface EnvironmentAt {
  id: string;
  revision: number;
}

/**
 * Runs `read` in a REPEATABLE READ, READ ONLY transaction with the environment's id and revision as
 * it began, so the revision and the content read come from the same instant: whatever is read at
 * revision R holds every change up to R, and no later one. `read` is not called (null is returned)
 * when the environment does not exist.
 *
 * The BEGIN and the environment's row go to PostgreSQL as one message (simple query protocol, the
 * handle as an escaped literal), not as TypeORM's START TRANSACTION, SET TRANSACTION and SELECT: a
 * delta is built for every change in every environment it touches, and on a busy control plane each
 * round trip is a wait (bench:scale).
 */
async function atOneInstant<T>(db: DataSource, environment: string, read: (runner: QueryRunner, env: EnvironmentAt) => Promise<T>): Promise<T | null> {
  const runner = db.createQueryRunner();
  const client = (await runner.connect()) as PoolClient;
  let open = false;
  try {
    open = true;
    const results = (await client.query(
      `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT id, revision FROM environments WHERE handle = ${escapeLiteral(environment)}`,
    )) as unknown as [QueryResult, QueryResult<{ id: string; revision: string }>];
    const row = results[1].rows[0];
    const result = row === undefined ? null : await read(runner, { id: row.id, revision: Number(row.revision) });
    open = false;
    await client.query('COMMIT');
    return result;
  } catch (error) {
    if (open) await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await runner.release();
  }
}

/**
 * One environment's full snapshot, encoded by `encode` as its keys are read a page at a time (so the
 * message objects of a large environment are never all held at once); null when the environment
 * does not exist. `head` is the snapshot without its keys.
 */
export async function buildSnapshot<T>(
  db: DataSource,
  box: SecretBox,
  environment: string,
  encode: (head: BuiltSnapshot, keyPages: AsyncIterable<SnapshotConsumerKey[]>) => Promise<T>,
): Promise<{ revision: number; encoded: T } | null> {
  return atOneInstant(db, environment, async (runner, env) => {
    const services = await readServices(runner, box, env.id);
    const head = { revision: env.revision, environment, generated_at: new Date().toISOString(), services, consumer_keys: [] };
    return { revision: env.revision, encoded: await encode(head, keyPages(runner, env.id)) };
  });
}

/**
 * The changes from `baseRevision` to the environment's current revision, read from its change log:
 * the services and keys the log names, as they are now (a service or key the log names that no
 * longer exists is listed as removed). Returns 'current' when there is nothing newer, and 'snapshot'
 * when a delta cannot or should not be built: the log does not cover every revision in between (it
 * was trimmed, or the revisions predate it), or the delta would exceed `limits`.
 */
export async function buildDelta(db: DataSource, box: SecretBox, environment: string, baseRevision: number, limits: DeltaLimits = DEFAULT_DELTA_LIMITS): Promise<BuiltDelta | 'current' | 'snapshot'> {
  if (baseRevision <= 0) return 'snapshot';
  const built = await atOneInstant(db, environment, async (runner, env): Promise<BuiltDelta | 'current' | 'snapshot'> => {
    if (env.revision <= baseRevision) return 'current';
    if (env.revision - baseRevision > limits.maxRevisions) return 'snapshot';
    // What the log holds for the span, in one query: every revision must have its rows (else the log
    // was trimmed or a change predates it), and what changed must be small enough for a delta. Rows
    // past `rowLimit` (far more than a delta within the limits has) mean a snapshot without reading on.
    const rowLimit = 4 * (limits.maxRevisions + limits.maxEntries);
    const [changed]: Array<{ rows: string; revisions: string; service_ids: string[] | null; key_hashes: string[] | null }> = await runner.query(
      `SELECT count(*) AS rows, count(DISTINCT revision) AS revisions,
              array_agg(DISTINCT service_id) FILTER (WHERE service_id IS NOT NULL) AS service_ids,
              array_agg(DISTINCT key_hash) FILTER (WHERE key_hash IS NOT NULL) AS key_hashes
         FROM (SELECT revision, service_id, key_hash FROM config_changes
                WHERE environment_id = $1 AND revision > $2 AND revision <= $3 LIMIT $4) AS logged`,
      [env.id, baseRevision, env.revision, rowLimit],
    );
    if (Number(changed.rows) >= rowLimit) return 'snapshot';
    if (Number(changed.revisions) !== env.revision - baseRevision) return 'snapshot';
    const serviceIds = changed.service_ids ?? [];
    const keyHashes = changed.key_hashes ?? [];
    if (serviceIds.length + keyHashes.length > limits.maxEntries) return 'snapshot';
    const services = serviceIds.length > 0 ? await readServices(runner, box, env.id, serviceIds) : [];
    const keys = keyHashes.length > 0 ? await readKeys(runner, env.id, keyHashes) : [];
    const presentServices = new Set(services.map((s) => s.id));
    const presentKeys = new Set(keys.map((k) => k.key_hash));
    return {
      base_revision: baseRevision,
      revision: env.revision,
      upserted_services: services,
      removed_service_ids: serviceIds.filter((id) => !presentServices.has(id)).sort(),
      upserted_keys: keys,
      removed_key_hashes: keyHashes.filter((hash) => !presentKeys.has(hash)).sort(),
    };
  });
  return built ?? 'snapshot';
}

/** Deletes change-log rows more than `keepRevisions` behind their environment's revision. */
export async function trimChangeLog(db: DataSource, keepRevisions: number): Promise<number> {
  const rows: Array<{ n: string }> = await db.query(
    `WITH trimmed AS (
       DELETE FROM config_changes c USING environments e
        WHERE e.id = c.environment_id AND c.revision <= e.revision - $1
        RETURNING 1)
     SELECT count(*) AS n FROM trimmed`,
    [keepRevisions],
  );
  return Number(rows[0]?.n ?? 0);
}
