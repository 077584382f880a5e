import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

@Entity('environments')
export class EnvironmentEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'text', unique: true })
  handle: string;

  @Column({ type: 'text' })
  name: string;

  /** Base URL apps use to reach this environment's proxies (shown in connection details). */
  @Column({ name: 'proxy_url', type: 'text' })
  proxyUrl: string;

  /**
   * Config revision of the environment's snapshot. Only ever increases; bumped in the same
   * transaction as every change that alters what this environment's proxies serve.
   */
  @Column({ type: 'bigint', default: 1, transformer: { to: (v: number) => v, from: (v: string) => Number(v) } })
  revision: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
