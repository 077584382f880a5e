import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { ApiTokenEntity } from '../auth/api-token.entity';
import { MembershipEntity } from '../auth/membership.entity';
import { UserEntity } from '../auth/user.entity';
import { AuditEventEntity } from '../audit/audit-event.entity';
import { ConnectionKeyEntity } from '../connection/connection-key.entity';
import { ConnectionQuotaOverrideEntity } from '../connection/connection-quota.entity';
import { ConnectionEntity } from '../connection/connection.entity';
import { DataPlaneCredentialEntity } from '../data-plane-registry/data-plane-credential.entity';
import { DataPlaneEntity } from '../data-plane-registry/data-plane.entity';
import { DeploymentEntity } from '../deployment/deployment.entity';
import { EnvironmentEntity } from '../environment/environment.entity';
import { GenAIServiceEntity } from '../genai-service/genai-service.entity';
import { ServiceEnvironmentConfigEntity } from '../genai-service/service-environment-config.entity';
import { OrganizationEntity } from '../organization/organization.entity';
import { ProjectEntity } from '../project/project.entity';
import { InitialSchema1764040000000 } from './migrations/1764040000000-initial-schema';
import { UsageRollups1764050000000 } from './migrations/1764050000000-usage-rollups';
import { DataPlaneAppliedAt1764060000000 } from './migrations/1764060000000-data-plane-applied-at';
import { UsageBuckets1764070000000 } from './migrations/1764070000000-usage-buckets';
import { ConfigChanges1764080000000 } from './migrations/1764080000000-config-changes';
import { ConnectionQuotas1764090000000 } from './migrations/1764090000000-connection-quotas';
import { KeyRotationGrace1764100000000 } from './migrations/1764100000000-key-rotation-grace';
import { DataPlaneCredentials1764110000000 } from './migrations/1764110000000-data-plane-credentials';
import { ConnectionNameUnique1764120000000 } from './migrations/1764120000000-connection-name-unique';
import { DataPlaneLiveness1764130000000 } from './migrations/1764130000000-data-plane-liveness';

export const ENTITIES = [
  UserEntity,
  MembershipEntity,
  ApiTokenEntity,
  OrganizationEntity,
  ProjectEntity,
  EnvironmentEntity,
  GenAIServiceEntity,
  ServiceEnvironmentConfigEntity,
  ConnectionEntity,
  ConnectionKeyEntity,
  ConnectionQuotaOverrideEntity,
  DeploymentEntity,
  DataPlaneEntity,
  DataPlaneCredentialEntity,
  AuditEventEntity,
];

export const MIGRATIONS = [
  InitialSchema1764040000000,
  UsageRollups1764050000000,
  DataPlaneAppliedAt1764060000000,
  UsageBuckets1764070000000,
  ConfigChanges1764080000000,
  ConnectionQuotas1764090000000,
  KeyRotationGrace1764100000000,
  DataPlaneCredentials1764110000000,
  ConnectionNameUnique1764120000000,
  DataPlaneLiveness1764130000000,
];

/** Schema changes go through migrations only: `synchronize` stays off everywhere. */
export function createDataSource(databaseUrl: string, poolSize = 10): DataSource {
  return new DataSource({
    type: 'postgres',
    url: databaseUrl,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    extra: { max: poolSize, connectionTimeoutMillis: 5000 },
  });
}
