// Translates database rows into the environment snapshot the proxies serve (the proto model, not the DB model).
import type { DataSource } from 'typeorm';
import { PROVIDER_DEFAULTS, type Provider } from '../genai-service/provider';
import type { ProviderCredentials } from '../genai-service/service-environment-config.entity';
import type { SecretBox } from '../secrets/secret-box';
import type { Snapshot, SnapshotService } from './snapshot.types';

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
  rate_limit_time_unit: 'MINUTE' | 'HOUR' | 'DAY' | null;
  max_prompt_tokens: number | null;
  max_completion_tokens: number | null;
  max_total_tokens: number | null;
}

/** `Authorization` gets the scheme a provider expects; a value that already has one is sent as is. */
export function headerValue(provider: Provider, headerName: string, key: string): string {
  if (headerName.toLowerCase() !== 'authorization' || /\s/.test(key)) return key;
  return PROVIDER_DEFAULTS[provider].bearer || provider === 'AWS_BEDROCK' ? `Bearer ${key}` : key;
}

function backendAuth(row: ServiceRow, box: SecretBox): SnapshotService['backendAuth'] {
  if (!row.credentials_sealed) return undefined;
  const credentials = JSON.parse(box.open(row.credentials_sealed)) as ProviderCredentials;
  if (row.auth_type === 'AWS_SIGV4') {
    return {
      awsSigv4: {
        region: row.aws_region ?? '',
        accessKeyId: credentials.awsAccessKeyId ?? '',
        secretAccessKey: credentials.awsSecretAccessKey ?? '',
        sessionToken: credentials.awsSessionToken ?? '',
        service: 'bedrock',
      },
    };
  }
  const headerName = row.header_name ?? PROVIDER_DEFAULTS[row.provider].headerName;
  return { apiKey: { headerName, headerValue: headerValue(row.provider, headerName, credentials.apiKey ?? ''), apiVersion: row.api_version ?? '' } };
}

/**
 * Reads one environment's snapshot in a REPEATABLE READ transaction, so the revision and the
 * content come from the same instant: a snapshot at revision R holds every change up to R.
 * Returns null when the environment does not exist.
 */
export async function buildSnapshot(db: DataSource, box: SecretBox, environment: string): Promise<Snapshot | null> {
  const runner = db.createQueryRunner();
  await runner.connect();
  try {
    await runner.startTransaction('REPEATABLE READ');
    const envRows: Array<{ id: string; revision: string }> = await runner.query('SELECT id, revision FROM environments WHERE handle = $1', [environment]);
    if (envRows.length === 0) {
      await runner.commitTransaction();
      return null;
    }
    const { id: environmentId, revision } = envRows[0];
    const services: ServiceRow[] = await runner.query(
      `SELECT s.id, s.organization_id, o.handle AS organization_handle, s.context_path, s.provider, s.name, s.service_url,
              s.marketplace_status, c.auth_type, c.header_name, c.credentials_sealed, c.api_version, c.aws_region,
              c.service_url AS env_service_url, c.rate_limit_time_unit, c.max_prompt_tokens, c.max_completion_tokens, c.max_total_tokens
         FROM genai_services s
         JOIN organizations o ON o.id = s.organization_id
         LEFT JOIN service_environment_configs c ON c.service_id = s.id AND c.environment_id = $1
        ORDER BY o.handle, s.context_path`,
      [environmentId],
    );
    const keys: Array<{ key_hash: string; connection_id: string; service_id: string; project_id: string }> = await runner.query(
      `SELECT k.key_hash, k.connection_id, c.service_id, c.project_id
         FROM connection_keys k JOIN connections c ON c.id = k.connection_id
        WHERE k.environment_id = $1
        ORDER BY k.key_hash`,
      [environmentId],
    );
    await runner.commitTransaction();
    return {
      revision: Number(revision),
      environment,
      generatedAt: new Date().toISOString(),
      services: services.map((row) => ({
        id: row.id,
        organizationId: row.organization_id,
        organizationHandle: row.organization_handle,
        contextPath: row.context_path,
        provider: row.provider,
        name: row.name,
        upstreamUrl: row.env_service_url ?? row.service_url,
        marketplaceRemoved: row.marketplace_status === 'REMOVED',
        backendAuth: backendAuth(row, box),
        rateLimit: row.rate_limit_time_unit
          ? { timeUnit: row.rate_limit_time_unit, maxPromptTokens: row.max_prompt_tokens ?? 0, maxCompletionTokens: row.max_completion_tokens ?? 0, maxTotalTokens: row.max_total_tokens ?? 0 }
          : undefined,
      })),
      consumerKeys: keys.map((k) => ({ keyHash: k.key_hash, connectionId: k.connection_id, serviceId: k.service_id, projectId: k.project_id })),
    };
  } catch (error) {
    if (runner.isTransactionActive) await runner.rollbackTransaction();
    throw error;
  } finally {
    await runner.release();
  }
}
