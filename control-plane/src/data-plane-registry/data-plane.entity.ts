import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** A proxy that has connected to the config stream. */
@Entity('data_planes')
export class DataPlaneEntity {
  /** The id the proxy announces in its Hello. */
  @PrimaryColumn({ type: 'text' })
  id: string;

  @Column({ name: 'environment_id', type: 'uuid' })
  environmentId: string;

  @Column({ type: 'text' })
  version: string;

  @Column({ name: 'applied_revision', type: 'bigint', default: 0, transformer: { to: (v: number) => v, from: (v: string) => Number(v) } })
  appliedRevision: number;

  @Column({ type: 'boolean', default: false })
  connected: boolean;

  @Column({ name: 'last_nack_reason', type: 'text', nullable: true })
  lastNackReason: string | null;

  @Column({ name: 'last_nack_revision', type: 'bigint', nullable: true, transformer: { to: (v: number | null) => v, from: (v: string | null) => (v === null ? null : Number(v)) } })
  lastNackRevision: number | null;

  @Column({ name: 'applied_at', type: 'timestamptz', nullable: true })
  appliedAt: Date | null;

  @Column({ name: 'last_seen_at', type: 'timestamptz' })
  lastSeenAt: Date;

  /** Until when the replica holding its stream vouches for it (heartbeat); past it `connected` is stale. */
  @Column({ name: 'live_until', type: 'timestamptz', nullable: true })
  liveUntil: Date | null;

  @CreateDateColumn({ name: 'first_seen_at', type: 'timestamptz' })
  firstSeenAt: Date;
}
