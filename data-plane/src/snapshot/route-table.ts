// Request routing: organization handle, then the longest context path ending on a segment boundary.
import type { CompiledService } from './compiled-snapshot';

export interface RouteMatch {
  readonly service: CompiledService;
  /** What follows the context path ('' or starting with '/'), forwarded upstream as is. */
  readonly providerPath: string;
}

interface OrganizationRoutes {
  readonly byContextPath: ReadonlyMap<string, CompiledService>;
  readonly longestContextPath: number;
}

/** Immutable once built; lookups cost one Map hit per path segment at most. */
export class RouteTable {
  private readonly organizations = new Map<string, OrganizationRoutes>();

  /** Build-time only. Throws on a duplicate (organization, context path). */
  static build(services: Iterable<CompiledService>): RouteTable {
    const grouped = new Map<string, Map<string, CompiledService>>();
    for (const service of services) {
      let byPath = grouped.get(service.organizationHandle);
      if (byPath === undefined) grouped.set(service.organizationHandle, (byPath = new Map()));
      const existing = byPath.get(service.contextPath);
      if (existing !== undefined) {
        throw new Error(`services ${existing.id} and ${service.id} share the route /${service.organizationHandle}${service.contextPath}`);
      }
      byPath.set(service.contextPath, service);
    }
    const table = new RouteTable();
    for (const [organization, byContextPath] of grouped) {
      let longestContextPath = 0;
      for (const path of byContextPath.keys()) if (path.length > longestContextPath) longestContextPath = path.length;
      table.organizations.set(organization, { byContextPath, longestContextPath });
    }
    return table;
  }

  /**
   * `rest` is the request path after `/{organization}` ('' or starting with '/', no query).
   * Returns the service whose context path is the longest prefix of `rest` ending at a '/' or at its end.
   */
  match(organizationHandle: string, rest: string): RouteMatch | null {
    const routes = this.organizations.get(organizationHandle);
    if (routes === undefined) return null;
    let end = rest.length > routes.longestContextPath ? routes.longestContextPath : rest.length;
    while (end > 0) {
      if (end === rest.length || rest.charCodeAt(end) === 47 /* '/' */) {
        const service = routes.byContextPath.get(end === rest.length ? rest : rest.slice(0, end));
        if (service !== undefined) return { service, providerPath: end === rest.length ? '' : rest.slice(end) };
      }
      end = rest.lastIndexOf('/', end - 1);
    }
    return null;
  }
}
