// Hash routes: the console is one document; the hash says which screen.
import { useEffect, useState } from 'react';

export type Route =
  | { name: 'marketplace' }
  | { name: 'marketplace-service'; id: string }
  | { name: 'connections' }
  | { name: 'connection'; id: string }
  | { name: 'services' }
  | { name: 'register' }
  | { name: 'service'; id: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '');
  let m: RegExpExecArray | null;
  if ((m = /^\/marketplace\/([\w-]+)$/.exec(path))) return { name: 'marketplace-service', id: m[1] };
  if (path === '/connections') return { name: 'connections' };
  if ((m = /^\/connections\/([\w-]+)$/.exec(path))) return { name: 'connection', id: m[1] };
  if (path === '/services') return { name: 'services' };
  if (path === '/services/new') return { name: 'register' };
  if ((m = /^\/services\/([\w-]+)$/.exec(path))) return { name: 'service', id: m[1] };
  return { name: 'marketplace' };
}

export function href(route: Route): string {
  switch (route.name) {
    case 'marketplace': return '#/marketplace';
    case 'marketplace-service': return `#/marketplace/${encodeURIComponent(route.id)}`;
    case 'connections': return '#/connections';
    case 'connection': return `#/connections/${encodeURIComponent(route.id)}`;
    case 'services': return '#/services';
    case 'register': return '#/services/new';
    case 'service': return `#/services/${encodeURIComponent(route.id)}`;
  }
}

export function navigate(route: Route): void {
  location.hash = href(route);
}

/** The route of the address; an address that names no screen (#/nonsense) shows the marketplace, and the address says so too. */
function currentRoute(): Route {
  const route = parseRoute(location.hash);
  if (location.hash !== href(route)) history.replaceState(history.state, '', href(route));
  return route;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const onChange = () => setRoute(currentRoute());
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
