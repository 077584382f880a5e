import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { TimeUnit } from '../genai-service/provider';

/**
 * A connection's own quota in one environment, replacing its service's default connection quota
 * there (higher or lower). No max at all: the connection is unlimited. Deleted with the connection.
 */
@Entity('connection_quota_overrides')
export class ConnectionQuotaOverrideEntity {
  @PrimaryColumn({ name: 'connection_id', type: 'uuid' })
  connectionId: string;

  @PrimaryColumn({ name: 'environment_id', type: 'uuid' })
  environmentId: string;

  @Column({ name: 'time_unit', type: 'text' })
  timeUnit: TimeUnit;

  @Column({ name: 'max_prompt_tokens', type: 'integer', nullable: true })
  maxPromptTokens: number | null;

  @Column({ name: 'max_completion_tokens', type: 'integer', nullable: true })
  maxCompletionTokens: number | null;

  @Column({ name: 'max_total_tokens', type: 'integer', nullable: true })
  maxTotalTokens: number | null;

  /** Counted, never refuses. */
  @Column({ type: 'boolean', default: false })
  shadow: boolean;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
