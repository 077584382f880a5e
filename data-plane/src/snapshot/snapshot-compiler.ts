// Turns a proto Snapshot into a CompiledSnapshot, or a SnapshotDelta plus the CompiledSnapshot it is
// based on into the next one; or refuses either whole with a reason for the NACK. Everything a request
// needs is resolved here (routes, key index, parsed upstreams, agents, authenticators/signers), so the
// request path does no parsing and no validation of configuration.
import type { ServiceMessage, SnapshotDeltaMessage, SnapshotMessage } from '../config-stream/wire-types';
import type { ProviderAdapter, UpstreamAuthenticator } from '../providers/provider-adapter';
import { providerAdapterFor } from '../providers/provider-registry';
import type { CompiledService, CompiledSnapshot, RateLimitPolicy } from './compiled-snapshot';
import { compileRateLimit } from './compile-rate-limit';
import { ConsumerKeyIndex } from './consumer-key-index';
import { RouteTable } from './route-table';
import { compileUpstreamTarget, type UpstreamAgentPool, type UpstreamTarget } from './upstream-target';

/** A snapshot the proxy cannot serve; `message` is the NACK reason (never holds a secret). */
export class SnapshotCompileError extends Error {
  override readonly name = 'SnapshotCompileError';
}

export interface SnapshotCompilerOptions {
  /** The environment this proxy serves; a snapshot for another one is refused. */
  readonly environment: string;
  readonly agentPool: UpstreamAgentPool;
  /** Defaults to the provider registry; tests may narrow it. */
  readonly providerFor?: (provider: ServiceMessage['provider']) => ProviderAdapter | undefined;
}

const ORGANIZATION_HANDLE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const CONTEXT_PATH = /^(\/[A-Za-z0-9._~-]+)+$/;
const UINT64 = /^\d+$/;

export class SnapshotCompiler {
  private readonly providerFor: (provider: ServiceMessage['provider']) => ProviderAdapter | undefined;

  constructor(private readonly options: SnapshotCompilerOptions) {
    this.providerFor = options.providerFor ?? providerAdapterFor;
  }

  /** @throws SnapshotCompileError */
  compile(snapshot: SnapshotMessage): CompiledSnapshot {
    const revision = parseUint64(snapshot.revision, 'revision');
    if (snapshot.environment !== this.options.environment) {
      throw new SnapshotCompileError(`snapshot is for environment "${snapshot.environment}", this proxy serves "${this.options.environment}"`);
    }
    const services = new Map<string, CompiledService>();
    for (const message of snapshot.services) {
      if (message.id === '') throw new SnapshotCompileError('a service has an empty id');
      if (services.has(message.id)) throw new SnapshotCompileError(`service id ${message.id} appears twice`);
      services.set(message.id, this.compileService(message));
    }
    let routes: RouteTable;
    let consumerKeys: ConsumerKeyIndex;
    try {
      routes = RouteTable.build(services.values());
      consumerKeys = ConsumerKeyIndex.build(snapshot.consumer_keys, (id) => services.get(id)?.organizationId);
    } catch (error) {
      throw new SnapshotCompileError((error as Error).message);
    }
    return Object.freeze({
      revision,
      environment: snapshot.environment,
      generatedAt: snapshot.generated_at,
      services,
      routes,
      consumerKeys,
    });
  }

  /**
   * The snapshot `delta` produces from `base` (whose revision must be the delta's base_revision). Only
   * the services the delta lists are compiled; the route table is rebuilt from the services (one entry
   * each), and the key index carries the key changes over the previous one (never rebuilt whole).
   * `base` is left untouched: requests holding it keep it.
   * @throws SnapshotCompileError
   */
  applyDelta(base: CompiledSnapshot, delta: SnapshotDeltaMessage): CompiledSnapshot {
    const baseRevision = parseUint64(delta.base_revision, 'base_revision');
    const revision = parseUint64(delta.revision, 'revision');
    if (baseRevision !== base.revision) throw new SnapshotCompileError(`delta is based on revision ${baseRevision}, the applied revision is ${base.revision}`);
    if (revision <= baseRevision) throw new SnapshotCompileError(`delta revision ${revision} is not above its base_revision ${baseRevision}`);
    // Most deltas change keys only (a connection created, rotated or deleted): they share the base's
    // services and routes (read-only) instead of copying them.
    const servicesChanged = delta.upserted_services.length > 0 || delta.removed_service_ids.length > 0;
    let services: ReadonlyMap<string, CompiledService> = base.services;
    if (servicesChanged) {
      const changed = new Map(base.services);
      for (const id of delta.removed_service_ids) changed.delete(id);
      const upserted = new Set<string>();
      for (const message of delta.upserted_services) {
        if (message.id === '') throw new SnapshotCompileError('a service has an empty id');
        if (upserted.has(message.id)) throw new SnapshotCompileError(`service id ${message.id} appears twice`);
        upserted.add(message.id);
        changed.set(message.id, this.compileService(message));
      }
      services = changed;
    }
    let routes = base.routes;
    let consumerKeys: ConsumerKeyIndex;
    try {
      if (servicesChanged) routes = RouteTable.build(services.values());
      consumerKeys = base.consumerKeys.withChanges(delta.upserted_keys, delta.removed_key_hashes, (id) => services.get(id)?.organizationId);
    } catch (error) {
      throw new SnapshotCompileError((error as Error).message);
    }
    return Object.freeze({ revision, environment: base.environment, generatedAt: base.generatedAt, services, routes, consumerKeys });
  }

  private compileService(message: ServiceMessage): CompiledService {
    const fail = (reason: string): never => {
      throw new SnapshotCompileError(`service ${message.id}: ${reason}`);
    };
    if (!ORGANIZATION_HANDLE.test(message.organization_handle)) fail(`organization_handle "${message.organization_handle}" is not a valid handle`);
    if (!CONTEXT_PATH.test(message.context_path) || /\/\.\.?(\/|$)/.test(message.context_path)) {
      fail(`context_path "${message.context_path}" is not normalized (leading slash, no trailing slash, no empty or dot segments)`);
    }
    const provider = this.providerFor(message.provider);
    if (provider === undefined) return fail(`provider ${String(message.provider)} is not supported by this proxy`);
    let upstream: UpstreamTarget;
    try {
      upstream = compileUpstreamTarget(message.upstream_url, this.options.agentPool);
    } catch (error) {
      return fail((error as Error).message);
    }
    let authenticator: UpstreamAuthenticator | null = null;
    if (message.backend_auth !== null) {
      try {
        authenticator = provider.compileAuthenticator(message.backend_auth, upstream);
      } catch (error) {
        return fail(`backend_auth: ${(error as Error).message}`);
      }
    }
    let rateLimit: RateLimitPolicy | null = null;
    let connectionQuota: RateLimitPolicy | null = null;
    try {
      if (message.rate_limit !== null) rateLimit = compileRateLimit(message.rate_limit);
    } catch (error) {
      return fail(`rate_limit: ${(error as Error).message}`);
    }
    try {
      if (message.connection_quota !== null) connectionQuota = compileRateLimit(message.connection_quota);
    } catch (error) {
      return fail(`connection_quota: ${(error as Error).message}`);
    }
    return Object.freeze({
      id: message.id,
      name: message.name,
      organizationId: message.organization_id,
      organizationHandle: message.organization_handle,
      contextPath: message.context_path,
      provider,
      upstream,
      authenticator,
      rateLimit,
      connectionQuota,
      streamCutoff: message.stream_cutoff,
      marketplaceRemoved: message.marketplace_removed,
    });
  }
}

function parseUint64(value: string, field: string): bigint {
  if (!UINT64.test(value)) throw new SnapshotCompileError(`${field} "${value}" is not an unsigned integer`);
  return BigInt(value);
}
