import { Column, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { BackendAuthType, TimeUnit } from './provider';

/** One per (service, environment). Credentials are only ever stored sealed (AES-256-GCM). */
@Entity('service_environment_configs')
export class ServiceEnvironmentConfigEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'service_id', type: 'uuid' })
  serviceId: string;

  @Column({ name: 'environment_id', type: 'uuid' })
  environmentId: string;

  @Column({ name: 'auth_type', type: 'text' })
  authType: BackendAuthType;

  @Column({ name: 'header_name', type: 'text' })
  headerName: string;

  /** Sealed JSON of {@link ProviderCredentials}; null while unconfigured. */
  @Column({ name: 'credentials_sealed', type: 'text', nullable: true })
  credentialsSealed: string | null;

  @Column({ name: 'credentials_hint', type: 'text', nullable: true })
  credentialsHint: string | null;

  @Column({ name: 'api_version', type: 'text', nullable: true })
  apiVersion: string | null;

  @Column({ name: 'aws_region', type: 'text', nullable: true })
  awsRegion: string | null;

  @Column({ name: 'rate_limit_time_unit', type: 'text', nullable: true })
  rateLimitTimeUnit: TimeUnit | null;

  @Column({ name: 'max_prompt_tokens', type: 'integer', nullable: true })
  maxPromptTokens: number | null;

  @Column({ name: 'max_completion_tokens', type: 'integer', nullable: true })
  maxCompletionTokens: number | null;

  @Column({ name: 'max_total_tokens', type: 'integer', nullable: true })
  maxTotalTokens: number | null;

  /** The service's budget counts but never refuses (shadow mode). */
  @Column({ name: 'rate_limit_shadow', type: 'boolean', default: false })
  rateLimitShadow: boolean;

  /** The default quota of each connection (null unit: none); a connection's override replaces it. */
  @Column({ name: 'connection_quota_time_unit', type: 'text', nullable: true })
  connectionQuotaTimeUnit: TimeUnit | null;

  @Column({ name: 'connection_quota_max_prompt_tokens', type: 'integer', nullable: true })
  connectionQuotaMaxPromptTokens: number | null;

  @Column({ name: 'connection_quota_max_completion_tokens', type: 'integer', nullable: true })
  connectionQuotaMaxCompletionTokens: number | null;

  @Column({ name: 'connection_quota_max_total_tokens', type: 'integer', nullable: true })
  connectionQuotaMaxTotalTokens: number | null;

  @Column({ name: 'connection_quota_shadow', type: 'boolean', default: false })
  connectionQuotaShadow: boolean;

  /** End streams without max_tokens that run past their budgets (in the provider's format) instead of charging them in full. */
  @Column({ name: 'stream_cutoff', type: 'boolean', default: false })
  streamCutoff: boolean;

  @Column({ name: 'service_url', type: 'text', nullable: true })
  serviceUrl: string | null;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}

/** The plaintext inside `credentials_sealed`. */
export interface ProviderCredentials {
  apiKey?: string;
  awsAccessKeyId?: string;
  awsSecretAccessKey?: string;
  awsSessionToken?: string;
}
