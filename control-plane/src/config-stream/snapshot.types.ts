// TypeScript view of proto/tokengate/v1/config.proto as loaded with CONFIG_PROTO_OPTIONS
// (camelCase fields, enums as strings, 64-bit integers as numbers, oneof name in `message`/`auth`).

export type ProtoProvider = 'OPENAI' | 'AZURE_OPENAI' | 'ANTHROPIC' | 'MISTRAL' | 'AWS_BEDROCK';
export type ProtoTimeUnit = 'MINUTE' | 'HOUR' | 'DAY';

export interface SnapshotService {
  id: string;
  organizationHandle: string;
  organizationId: string;
  contextPath: string;
  provider: ProtoProvider;
  upstreamUrl: string;
  name: string;
  marketplaceRemoved: boolean;
  backendAuth?: { apiKey: { headerName: string; headerValue: string; apiVersion: string } } | { awsSigv4: { region: string; accessKeyId: string; secretAccessKey: string; sessionToken: string; service: string } };
  rateLimit?: { timeUnit: ProtoTimeUnit; maxPromptTokens: number; maxCompletionTokens: number; maxTotalTokens: number };
}

export interface SnapshotConsumerKey {
  keyHash: string;
  connectionId: string;
  serviceId: string;
  projectId: string;
}

export interface Snapshot {
  revision: number;
  environment: string;
  services: SnapshotService[];
  consumerKeys: SnapshotConsumerKey[];
  generatedAt: string;
}

export interface DataPlaneMessage {
  hello?: { proxyId: string; environment: string; version: string; lastAppliedRevision: number };
  ack?: { revision: number };
  nack?: { revision: number; reason: string };
  usage?: { batchId: string; records: unknown[] };
  message?: 'hello' | 'ack' | 'nack' | 'usage';
}

export interface ControlPlaneMessage {
  snapshot?: Snapshot;
  usageAck?: { batchId: string };
}
