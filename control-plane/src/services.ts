import type { DataSource } from 'typeorm';
import { AuditService } from './audit/audit.service';
import { AuthService } from './auth/auth.service';
import { ConnectionQuotaService } from './connection/connection-quota.service';
import { ConnectionService } from './connection/connection.service';
import { DataPlaneCredentialService } from './data-plane-registry/data-plane-credential.service';
import { DataPlaneRegistryService } from './data-plane-registry/data-plane-registry.service';
import { type ChangeFeed, SILENT_CHANGE_FEED } from './config-change/change-feed';
import { ConfigChanges } from './config-change/config-change';
import { DeploymentService } from './deployment/deployment.service';
import { EnvironmentService } from './environment/environment.service';
import { GenAIServiceService } from './genai-service/genai-service.service';
import { MarketplaceService } from './marketplace/marketplace.service';
import { OrganizationService } from './organization/organization.service';
import { ProjectService } from './project/project.service';
import type { BudgetCounterReader } from './rate-limit/budget-counters';
import type { SecretBox } from './secrets/secret-box';
import { UsageService } from './usage/usage.service';

/** The control plane's domain services, wired once per process. */
export interface ControlPlaneServices {
  auth: AuthService;
  organizations: OrganizationService;
  projects: ProjectService;
  environments: EnvironmentService;
  genAIServices: GenAIServiceService;
  marketplace: MarketplaceService;
  connections: ConnectionService;
  connectionQuotas: ConnectionQuotaService;
  deployments: DeploymentService;
  dataPlanes: DataPlaneRegistryService;
  dataPlaneCredentials: DataPlaneCredentialService;
  audit: AuditService;
  usage: UsageService;
}

/** `budgetCounters`: the token counters in Redis, read by Connection.budgets (null: none to read). */
export function createServices(db: DataSource, secretBox: SecretBox, feed: ChangeFeed = SILENT_CHANGE_FEED, budgetCounters: BudgetCounterReader | null = null): ControlPlaneServices {
  // Every mutation that alters what proxies serve goes through this one unit of work (config-change.ts).
  const changes = new ConfigChanges(db, feed);
  return {
    auth: new AuthService(db),
    organizations: new OrganizationService(db),
    projects: new ProjectService(db),
    environments: new EnvironmentService(db),
    genAIServices: new GenAIServiceService(db, secretBox, changes),
    marketplace: new MarketplaceService(db),
    connections: new ConnectionService(db, changes),
    connectionQuotas: new ConnectionQuotaService(db, changes, budgetCounters),
    deployments: new DeploymentService(db),
    dataPlanes: new DataPlaneRegistryService(db),
    dataPlaneCredentials: new DataPlaneCredentialService(db),
    audit: new AuditService(db),
    usage: new UsageService(db),
  };
}
