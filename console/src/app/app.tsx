// The console's shell: sign-in, the session (organization, project, role), navigation and the screen
// for the current hash. Each screen is keyed by its route, so leaving a screen drops its state
// (issued keys included).
import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { Button, Form } from 'react-aria-components';
import { ApiError, request, SESSION_ENDED } from '../api/client';
import { readSelection, readToken, storeSelection, storeToken } from '../api/token-store';
import { ConnectionScreen } from '../screens/connection-screen';
import { ConnectionsScreen } from '../screens/connections-screen';
import { MarketplaceScreen } from '../screens/marketplace-screen';
import { MarketplaceServiceScreen } from '../screens/marketplace-service-screen';
import { RegisterWizard } from '../screens/register-wizard';
import { ServiceScreen } from '../screens/service-screen';
import { ServicesScreen } from '../screens/services-screen';
import { ErrorNotice, Field, focusFirstInvalid, Loading } from '../ui/controls';
import { ROLE_NAMES } from '../ui/words';
import { href, type Route, useRoute } from './route';
import { roleIn, type Session, SessionContext, SessionQuery, useSession } from './session';
import type { ResultOf } from '../graphql/graphql';

type SessionData = ResultOf<typeof SessionQuery>;

export function App() {
  const [data, setData] = useState<SessionData | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [starting, setStarting] = useState(() => readToken() !== null);
  const [selection, setSelection] = useState(readSelection);
  // The token was refused while signed in (revoked, or the installation's tokens changed).
  const [ended, setEnded] = useState(false);
  const signedIn = useRef(false);
  signedIn.current = data !== null;

  const load = useCallback(async () => {
    setError(null);
    try {
      const session = await request(SessionQuery);
      setData(session);
      setEnded(false);
      return true;
    } catch (e) {
      setError(e);
      // Keep the token through a network error (retry), drop it when the server refuses it.
      if (!(e instanceof ApiError && e.code === 'NETWORK_ERROR')) storeToken(null);
      return false;
    } finally {
      setStarting(false);
    }
  }, []);

  useEffect(() => { if (readToken()) void load(); }, [load]);

  // Any request refused for the token ends the session: back to sign-in (the screen's address is kept,
  // so signing in again returns to it), rather than every screen failing with a Retry that cannot help.
  useEffect(() => {
    const onEnded = () => {
      if (!signedIn.current) return;
      storeToken(null);
      setData(null);
      setError(null);
      setEnded(true);
    };
    window.addEventListener(SESSION_ENDED, onEnded);
    return () => window.removeEventListener(SESSION_ENDED, onEnded);
  }, []);

  const signOut = useCallback(() => {
    storeToken(null);
    setData(null);
    setError(null);
    setEnded(false);
    setSelection({});
    history.replaceState(null, '', location.pathname);
  }, []);

  const session = useMemo<Session | null>(() => {
    if (!data) return null;
    const organization = data.organizations.find((o) => o.id === selection.organizationId) ?? data.organizations[0] ?? null;
    const project = organization
      ? (selection.projectId === null ? null : (organization.projects.find((p) => p.id === selection.projectId) ?? organization.projects[0] ?? null))
      : null;
    const role = roleIn(data.viewer, organization?.id);
    return {
      viewer: data.viewer,
      organizations: data.organizations,
      organization,
      project,
      role,
      canManage: role === 'ADMIN' || role === 'PLATFORM_ENGINEER',
      selectOrganization: (id) => { const next = { organizationId: id, projectId: undefined }; storeSelection(next); setSelection(next); },
      selectProject: (id) => { const next = { organizationId: organization?.id, projectId: id }; storeSelection(next); setSelection(next); },
      signOut,
    };
  }, [data, selection, signOut]);

  if (starting) return <main id="main" className="main"><Loading what="your session" /></main>;
  if (!session) {
    return (
      <SignIn
        ended={ended}
        error={error}
        retry={readToken() ? () => void load() : undefined}
        clearError={() => setError(null)}
        onSubmit={async (token) => { storeToken(token); return load(); }}
      />
    );
  }
  return (
    <SessionContext.Provider value={session}>
      <Shell />
    </SessionContext.Provider>
  );
}

function SignIn({ ended, error, retry, clearError, onSubmit }: { ended: boolean; error: unknown; retry?: () => void; clearError(): void; onSubmit(token: string): Promise<boolean> }) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  // Submitted without a token: say so on the field (until one is pasted).
  const [missing, setMissing] = useState(false);
  useEffect(() => {
    if (ended) document.querySelector<HTMLInputElement>('[data-field="token"] input')?.focus();
  }, [ended]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setMissing(!token.trim());
    if (!token.trim()) {
      // The refusal of an earlier token is not about this attempt.
      clearError();
      focusFirstInvalid(event.currentTarget as HTMLElement);
      return;
    }
    setBusy(true);
    void onSubmit(token.trim()).then((ok) => {
      setBusy(false);
      if (ok) setToken('');
      // Refused: back to the field (the button was disabled meanwhile, which dropped the focus).
      else requestAnimationFrame(() => document.querySelector<HTMLInputElement>('[data-field="token"] input')?.select());
    });
  };
  return (
    <main id="main" className="main">
      <section className="card narrow" aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Sign in</h1>
        <p className="muted">Paste a Tokengate API token. It stays in this browser tab (session storage) and is sent only to this control plane.</p>
        <Form className="stack" onSubmit={submit}>
          <Field label="API token" name="token" type="password" value={token} onChange={setToken} isRequired placeholder="tgp_…"
            error={missing && !token.trim() ? 'Paste your API token.' : null} />
          <Button type="submit" className="button" isDisabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</Button>
        </Form>
        {error ? <ErrorNotice error={error} onRetry={retry} /> : null}
        {ended && !error ? (
          <div className="notice error" role="alert">
            <strong>Your session ended</strong>
            <span>The control plane no longer accepts your API token (it was revoked or is not valid any more). Sign in again to continue where you were.</span>
          </div>
        ) : null}
      </section>
    </main>
  );
}

function Shell() {
  const session = useSession();
  const route = useRoute();
  const { organization, project, organizations } = session;
  const nav: Array<{ label: string; route: Route; active: boolean }> = [
    { label: 'Marketplace', route: { name: 'marketplace' }, active: route.name === 'marketplace' || route.name === 'marketplace-service' },
    { label: 'Connections', route: { name: 'connections' }, active: route.name === 'connections' || route.name === 'connection' },
  ];
  if (session.canManage) nav.push({ label: 'GenAI services', route: { name: 'services' }, active: route.name === 'services' || route.name === 'register' || route.name === 'service' });

  // Focus the new screen's heading after navigation, so keyboard and screen-reader users land on it.
  // Most screens load first (no heading yet): wait for it, unless the user has moved into the screen meanwhile.
  useEffect(() => focusHeadingWhenShown(), [route]);

  return (
    <>
      <a className="skip" href="#main" onClick={(e) => { e.preventDefault(); document.querySelector<HTMLElement>('main h1')?.focus(); }}>Skip to content</a>
      <header className="bar">
        <a className="brand" href={href({ name: 'marketplace' })}>Tokengate</a>
        <nav aria-label="Main">
          <ul>
            {nav.map((item) => <li key={item.label}><a href={href(item.route)} aria-current={item.active ? 'page' : undefined}>{item.label}</a></li>)}
          </ul>
        </nav>
        <div className="session">
          <label>
            <span>Organization</span>
            <select id="organization" value={organization?.id ?? ''} title={organization ? `${organization.name} (${organization.handle})` : undefined} onChange={(e) => session.selectOrganization(e.target.value)}>
              {organizations.map((o) => <option key={o.id} value={o.id}>{o.name} ({o.handle})</option>)}
            </select>
          </label>
          <label>
            <span>Project</span>
            <select id="project" value={project?.id ?? ''} title={project ? `${project.name} (${project.handle})` : undefined} onChange={(e) => session.selectProject(e.target.value || null)} disabled={!organization?.projects.length}>
              {organization?.projects.length ? null : <option value="">No project</option>}
              {organization?.projects.map((p) => <option key={p.id} value={p.id}>{p.name} ({p.handle})</option>)}
            </select>
          </label>
          <span className="who" id="who">{session.viewer.user.email}{session.role ? ` · ${ROLE_NAMES[session.role] ?? session.role}` : ''}</span>
          <Button className="button ghost" onPress={session.signOut}>Sign out</Button>
        </div>
      </header>
      <main id="main" className="main" key={`${organization?.id ?? ''}:${project?.id ?? ''}:${href(route)}`}>
        {organization ? <Screen route={route} /> : <NoOrganization />}
      </main>
    </>
  );
}

function focusHeadingWhenShown(): () => void {
  const focus = () => {
    const heading = document.querySelector<HTMLElement>('main h1');
    if (!heading) return false;
    if (!document.querySelector('main')?.contains(document.activeElement)) heading.focus();
    return true;
  };
  if (focus()) return () => undefined;
  const observer = new MutationObserver(() => { if (focus()) stop(); });
  const timer = setTimeout(() => stop(), 30_000);
  const stop = () => { observer.disconnect(); clearTimeout(timer); };
  observer.observe(document.getElementById('root') ?? document.body, { childList: true, subtree: true });
  return stop;
}

function NoOrganization() {
  return (
    <>
      <h1 tabIndex={-1}>Welcome</h1>
      <p className="muted">This token is not a member of any organization yet. Ask an organization admin to add you.</p>
    </>
  );
}

/** The GenAI services area for a role that cannot manage services (reached by address): say so, instead of forms that fail on save. */
function NotAllowed({ route }: { route: Route }) {
  const { organization, role } = useSession();
  return (
    <>
      <h1 tabIndex={-1}>GenAI services</h1>
      <div className="notice error" role="alert">
        <strong>Your role does not allow this</strong>
        <span>Registering and managing GenAI services needs the Platform engineer or Admin role in {organization!.name}; you are {role ? (ROLE_NAMES[role] ?? role) : 'not a member'}.</span>
      </div>
      <p>
        {route.name === 'service'
          ? <a href={href({ name: 'marketplace-service', id: route.id })}>See this service in the marketplace</a>
          : <a href={href({ name: 'marketplace' })}>Go to the marketplace</a>}
      </p>
    </>
  );
}

function Screen({ route }: { route: Route }) {
  const { canManage } = useSession();
  if (!canManage && (route.name === 'services' || route.name === 'register' || route.name === 'service')) return <NotAllowed route={route} />;
  switch (route.name) {
    case 'marketplace': return <MarketplaceScreen />;
    case 'marketplace-service': return <MarketplaceServiceScreen serviceId={route.id} />;
    case 'connections': return <ConnectionsScreen />;
    case 'connection': return <ConnectionScreen connectionId={route.id} />;
    case 'services': return <ServicesScreen />;
    case 'register': return <RegisterWizard />;
    case 'service': return <ServiceScreen serviceId={route.id} />;
  }
}
