// The immutable runtime form of one Snapshot revision. Requests take a reference once, at their start,
// and keep using it even if a newer snapshot is swapped in meanwhile.
import type { ProviderAdapter, UpstreamAuthenticator } from '../providers/provider-adapter';
import type { ConsumerKeyIndex } from './consumer-key-index';
import type { RouteTable } from './route-table';
import type { UpstreamTarget } from './upstream-target';

export interface RateLimitPolicy {
  readonly timeUnit: 'MINUTE' | 'HOUR' | 'DAY';
  /** null = unlimited in that dimension. */
  readonly maxPromptTokens: bigint | null;
  readonly maxCompletionTokens: bigint | null;
  readonly maxTotalTokens: bigint | null;
  /** Shadow mode: counted, never refuses; what it would have refused is reported. */
  readonly shadow: boolean;
}

export interface CompiledService {
  readonly id: string;
  readonly name: string;
  readonly organizationId: string;
  readonly organizationHandle: string;
  readonly contextPath: string;
  readonly provider: ProviderAdapter;
  readonly upstream: UpstreamTarget;
  /** null: the environment has no backend_auth for this service; its requests get 503. */
  readonly authenticator: UpstreamAuthenticator | null;
  /** The service's budget in this environment, shared by all its connections; null: unlimited. */
  readonly rateLimit: RateLimitPolicy | null;
  /** The quota of each connection (unless its key overrides it); null: none. */
  readonly connectionQuota: RateLimitPolicy | null;
  /** End streams that run past their budgets in the provider's format instead of letting them finish. */
  readonly streamCutoff: boolean;
  readonly marketplaceRemoved: boolean;
}

export interface CompiledSnapshot {
  readonly revision: bigint;
  readonly environment: string;
  readonly generatedAt: string;
  readonly services: ReadonlyMap<string, CompiledService>;
  readonly routes: RouteTable;
  readonly consumerKeys: ConsumerKeyIndex;
}
