import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { MarketplaceStatus, Provider, RegistrationScope } from './provider';

@Entity('genai_services')
export class GenAIServiceEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'organization_id', type: 'uuid' })
  organizationId: string;

  /** Set for PROJECT scope only. */
  @Column({ name: 'project_id', type: 'uuid', nullable: true })
  projectId: string | null;

  @Column({ type: 'text' })
  scope: RegistrationScope;

  @Column({ type: 'text' })
  provider: Provider;

  @Column({ type: 'text' })
  name: string;

  @Column({ name: 'context_path', type: 'text' })
  contextPath: string;

  @Column({ name: 'service_url', type: 'text' })
  serviceUrl: string;

  @Column({ type: 'text', default: '' })
  summary: string;

  @Column({ type: 'text', default: '' })
  description: string;

  @Column({ type: 'text', array: true, default: () => "'{}'" })
  labels: string[];

  @Column({ name: 'marketplace_status', type: 'text' })
  marketplaceStatus: MarketplaceStatus;

  @Column({ name: 'removed_at', type: 'timestamptz', nullable: true })
  removedAt: Date | null;

  @Column({ name: 'created_by', type: 'uuid' })
  createdBy: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
