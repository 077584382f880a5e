// Builders for proto-shaped snapshots (as decoded with CONFIG_PROTO_LOADER_OPTIONS), with defaults for
// every field so a test states only what it is about.
import { hashConsumerKey } from '../../../data-plane/src/snapshot/consumer-key-index';
import type { BackendAuthMessage, ConsumerKeyMessage, RateLimitPolicyMessage, ServiceMessage, SnapshotMessage } from '../../../data-plane/src/config-stream/wire-types';

export const TEST_ENVIRONMENT = 'test';

export function apiKeyAuth(headerName: string, headerValue: string, apiVersion = ''): BackendAuthMessage {
  return { api_key: { header_name: headerName, header_value: headerValue, api_version: apiVersion }, auth: 'api_key' };
}

export interface SigV4Settings {
  readonly region?: string;
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
  readonly sessionToken?: string;
}

export const TEST_AWS_CREDENTIALS = {
  region: 'us-east-1',
  accessKeyId: 'AKIDEXAMPLETESTKEY01',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
} as const;

export function sigV4Auth(settings: SigV4Settings = {}): BackendAuthMessage {
  return {
    aws_sigv4: {
      region: settings.region ?? TEST_AWS_CREDENTIALS.region,
      access_key_id: settings.accessKeyId ?? TEST_AWS_CREDENTIALS.accessKeyId,
      secret_access_key: settings.secretAccessKey ?? TEST_AWS_CREDENTIALS.secretAccessKey,
      session_token: settings.sessionToken ?? '',
      service: 'bedrock',
    },
    auth: 'aws_sigv4',
  };
}

export function rateLimitFixture(overrides: Partial<RateLimitPolicyMessage> = {}): RateLimitPolicyMessage {
  return { time_unit: 'MINUTE', max_prompt_tokens: '0', max_completion_tokens: '0', max_total_tokens: '1000', shadow: false, ...overrides };
}

export function serviceFixture(overrides: Partial<ServiceMessage> & { readonly id: string }): ServiceMessage {
  return {
    organization_handle: 'acme',
    context_path: `/${overrides.id}`,
    provider: 'OPENAI',
    upstream_url: 'http://127.0.0.1:9',
    backend_auth: apiKeyAuth('Authorization', 'Bearer sk-upstream-secret'),
    rate_limit: null,
    marketplace_removed: false,
    name: overrides.id,
    organization_id: 'org-acme',
    connection_quota: null,
    stream_cutoff: false,
    ...overrides,
  };
}

export function consumerKeyFixture(key: string, serviceId: string, connectionId = `conn-${serviceId}`): ConsumerKeyMessage {
  return { key_hash: hashConsumerKey(key), connection_id: connectionId, service_id: serviceId, project_id: 'project-1', quota_override: null, expires_at_unix_ms: '0' };
}

export function snapshotFixture(options: {
  readonly revision: number | bigint | string;
  readonly services?: readonly ServiceMessage[];
  readonly consumerKeys?: readonly ConsumerKeyMessage[];
  readonly environment?: string;
}): SnapshotMessage {
  return {
    revision: options.revision.toString(),
    environment: options.environment ?? TEST_ENVIRONMENT,
    services: [...(options.services ?? [])],
    consumer_keys: [...(options.consumerKeys ?? [])],
    generated_at: '2025-01-01T00:00:00Z',
  };
}
