// TypeScript shapes of the tokengate.v1 messages exactly as @grpc/proto-loader decodes them with
// CONFIG_PROTO_LOADER_OPTIONS (snake_case keys, uint64 as decimal strings, enums as names, proto3
// defaults filled in, absent sub-messages as null, a virtual `message`/`auth` field naming the set
// oneof member). Hand-written rather than generated; wire-types.test.ts checks every field name
// against the loaded descriptor so the two cannot drift apart silently.

/** Enum names as decoded; an unknown value from a newer control plane arrives as its number. */
export type ProviderName = 'PROVIDER_UNSPECIFIED' | 'OPENAI' | 'AZURE_OPENAI' | 'ANTHROPIC' | 'MISTRAL' | 'AWS_BEDROCK';
export type TimeUnitName = 'TIME_UNIT_UNSPECIFIED' | 'MINUTE' | 'HOUR' | 'DAY';

/** uint64 fields travel as decimal strings (longs: String); encode accepts strings too. */
export type Uint64String = string;

export interface HelloMessage {
  proxy_id: string;
  environment: string;
  version: string;
  last_applied_revision: Uint64String;
}

export interface SnapshotAckMessage {
  revision: Uint64String;
}

export interface SnapshotNackMessage {
  revision: Uint64String;
  reason: string;
}

export interface UsageRecordMessage {
  service_id: string;
  connection_id: string;
  window_unit: TimeUnitName;
  window_start: string;
  prompt_tokens: Uint64String;
  completion_tokens: Uint64String;
  total_tokens: Uint64String;
  requests: Uint64String;
  organization_id: string;
  project_id: string;
  operation: string;
  request_model: string;
  response_model: string;
  cached_prompt_read_tokens: Uint64String;
  cached_prompt_write_tokens: Uint64String;
  reasoning_tokens: Uint64String;
  errors_4xx: Uint64String;
  errors_5xx: Uint64String;
}

export interface UsageBatchMessage {
  batch_id: string;
  records: UsageRecordMessage[];
}

export interface UsageAckMessage {
  batch_id: string;
}

/** What the proxy writes: exactly one member set. */
export type DataPlaneMessage =
  | { hello: HelloMessage }
  | { ack: SnapshotAckMessage }
  | { nack: SnapshotNackMessage }
  | { usage: UsageBatchMessage };

export interface ApiKeyAuthMessage {
  header_name: string;
  header_value: string;
  api_version: string;
}

export interface AwsSigV4AuthMessage {
  region: string;
  access_key_id: string;
  secret_access_key: string;
  session_token: string;
  service: string;
}

export interface BackendAuthMessage {
  api_key?: ApiKeyAuthMessage | null;
  aws_sigv4?: AwsSigV4AuthMessage | null;
  /** oneof discriminator added by the loader (oneofs: true). */
  auth?: 'api_key' | 'aws_sigv4';
}

export interface RateLimitPolicyMessage {
  time_unit: TimeUnitName;
  max_prompt_tokens: Uint64String;
  max_completion_tokens: Uint64String;
  max_total_tokens: Uint64String;
}

export interface ServiceMessage {
  id: string;
  organization_handle: string;
  context_path: string;
  provider: ProviderName | number;
  upstream_url: string;
  backend_auth: BackendAuthMessage | null;
  rate_limit: RateLimitPolicyMessage | null;
  marketplace_removed: boolean;
  name: string;
  organization_id: string;
}

export interface ConsumerKeyMessage {
  key_hash: string;
  connection_id: string;
  service_id: string;
  project_id: string;
}

export interface SnapshotMessage {
  revision: Uint64String;
  environment: string;
  services: ServiceMessage[];
  consumer_keys: ConsumerKeyMessage[];
  generated_at: string;
}

export interface SnapshotDeltaMessage {
  base_revision: Uint64String;
  revision: Uint64String;
  upserted_services: ServiceMessage[];
  removed_service_ids: string[];
  upserted_keys: ConsumerKeyMessage[];
  removed_key_hashes: string[];
}

/** What the control plane writes, as decoded. `message` names the member that is set. */
export interface ControlPlaneMessage {
  snapshot?: SnapshotMessage | null;
  delta?: SnapshotDeltaMessage | null;
  usage_ack?: UsageAckMessage | null;
  message?: 'snapshot' | 'delta' | 'usage_ack';
}

/** What a (fake) control plane writes; encode fills defaults for whatever is omitted. */
export type ControlPlaneMessageInput =
  | { snapshot: SnapshotMessage }
  | { delta: SnapshotDeltaMessage }
  | { usage_ack: UsageAckMessage };

/** A decoded DataPlaneMessage, as a server sees it. */
export interface DecodedDataPlaneMessage {
  hello?: HelloMessage | null;
  ack?: SnapshotAckMessage | null;
  nack?: SnapshotNackMessage | null;
  usage?: UsageBatchMessage | null;
  message?: 'hello' | 'ack' | 'nack' | 'usage';
}
