import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** A credential proxies present on the config stream, bound to one environment; stored as its SHA-256 only. */
@Entity('data_plane_credentials')
export class DataPlaneCredentialEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'environment_id', type: 'uuid' })
  environmentId: string;

  @Column({ type: 'text' })
  name: string;

  @Column({ name: 'token_hash', type: 'text', unique: true })
  tokenHash: string;

  /** The first characters of the token, enough for a person to tell credentials apart. */
  @Column({ name: 'token_prefix', type: 'text' })
  tokenPrefix: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;
}
