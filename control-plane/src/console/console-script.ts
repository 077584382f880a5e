// The console's browser code: one vanilla ES module, served as-is (no build step, no dependencies).
// Invariants: every server-provided string reaches the DOM through text nodes (never innerHTML);
// the API token lives only in sessionStorage and the Authorization header / connection_init payload;
// consumer keys live only in the DOM of the service view and are dropped when it is left.
// Kept free of backticks and dollar-brace so it can sit in a String.raw template unchanged.
export const CONSOLE_SCRIPT = String.raw`
'use strict';
const TOKEN_KEY = 'tokengate.console.token';
const SELECTION_KEY = 'tokengate.console.selection';
const PROVIDERS = { OPENAI: 'OpenAI', AZURE_OPENAI: 'Azure OpenAI', ANTHROPIC: 'Anthropic', MISTRAL: 'Mistral', AWS_BEDROCK: 'AWS Bedrock' };
const STATUS_ORDER = { PENDING: 0, IN_PROGRESS: 1, DEPLOYED: 2, FAILED: 2 };

const SESSION_QUERY = 'query ConsoleSession { viewer { user { email name } isInstallationAdmin memberships { role organization { id } } } organizations { id handle name projects { id handle name } } }';
const MARKETPLACE_QUERY = 'query ConsoleMarketplace($o: ID!, $p: ID, $f: MarketplaceFilter) { marketplace(organizationId: $o, projectId: $p, filter: $f) { id name provider scope contextPath labels summary } }';
const DEPLOYMENT_FIELDS = 'environment status revision message updatedAt dataPlanes { proxyId applied appliedRevision }';
const CONFIG_FIELDS = 'environment effectiveServiceUrl backendSecurity { configured hint headerName authType } rateLimit { timeUnit maxPromptTokens maxCompletionTokens maxTotalTokens }';
const SERVICE_QUERY = 'query ConsoleService($id: ID!) { genAIService(id: $id) { id name provider scope contextPath summary description labels marketplaceStatus environmentConfigs { ' + CONFIG_FIELDS + ' } deployments { ' + DEPLOYMENT_FIELDS + ' } usage(limit: 24) { environment windowUnit windowStart promptTokens completionTokens totalTokens requests } } }';
const REFRESH_QUERY = 'query ConsoleServiceLive($id: ID!) { genAIService(id: $id) { environmentConfigs { ' + CONFIG_FIELDS + ' } deployments { ' + DEPLOYMENT_FIELDS + ' } } }';
const DEPLOYMENT_SUBSCRIPTION = 'subscription ConsoleDeployments($serviceId: ID!) { deploymentStatusChanged(serviceId: $serviceId) { ' + DEPLOYMENT_FIELDS + ' } }';
const CREATE_CONNECTION = 'mutation ConsoleCreateConnection($i: CreateConnectionInput!) { createConnection(input: $i) { connection { id name } keys { environment apiKey endpointUrl } } }';

const main = document.getElementById('main');
const sessionBar = document.getElementById('session');
const state = { token: null, viewer: null, organizations: [], organizationId: null, projectId: null, search: '', provider: '' };
/** Whatever the current view must release when it is replaced (live socket, timers, shown keys). */
let leaveView = null;

class ApiError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

function readToken() { try { return sessionStorage.getItem(TOKEN_KEY); } catch { return null; } }
function storeToken(token) { try { if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY); } catch { /* storage disabled: the token lives in memory only */ } }
function readSelection() { try { return JSON.parse(sessionStorage.getItem(SELECTION_KEY) || '{}') || {}; } catch { return {}; } }
function storeSelection() { try { sessionStorage.setItem(SELECTION_KEY, JSON.stringify({ organizationId: state.organizationId, projectId: state.projectId })); } catch { /* optional */ } }

function errorFrom(errors) {
  const first = (errors && errors[0]) || {};
  const code = (first.extensions && typeof first.extensions.code === 'string') ? first.extensions.code : 'ERROR';
  const field = first.extensions && typeof first.extensions.field === 'string' ? ' (field ' + first.extensions.field + ')' : '';
  return new ApiError(code, (typeof first.message === 'string' ? first.message : 'request failed') + field);
}

async function gql(query, variables) {
  let response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer ' + state.token },
      body: JSON.stringify({ query: query, variables: variables || {} }),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new ApiError('NETWORK_ERROR', 'the control plane cannot be reached');
  }
  let body;
  try { body = await response.json(); } catch { throw new ApiError('HTTP_' + response.status, 'unexpected response from the control plane (HTTP ' + response.status + ')'); }
  if (body.errors && body.errors.length) throw errorFrom(body.errors);
  if (!body.data) throw new ApiError('HTTP_' + response.status, 'empty response from the control plane');
  return body.data;
}

/** Creates an element; children that are not nodes become text nodes (never parsed as HTML). */
function h(tag, attrs) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const name of Object.keys(attrs)) {
      const value = attrs[name];
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
      else if (name === 'class') el.className = value;
      else if (name === 'dataset') Object.assign(el.dataset, value);
      else el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  for (let i = 2; i < arguments.length; i++) append(el, arguments[i]);
  return el;
}
function append(el, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) { for (const c of child) append(el, c); return; }
  el.append(child instanceof Node ? child : String(child));
}

function errorBox(error) {
  const code = error instanceof ApiError ? error.code : 'ERROR';
  return h('div', { class: 'error', role: 'alert' }, h('strong', null, code), error && error.message ? error.message : String(error));
}
function number(value) { return value === null || value === undefined ? 'unlimited' : Number(value).toLocaleString('en-US'); }
function when(iso) { return typeof iso === 'string' ? iso.replace('T', ' ').slice(0, 19) + ' UTC' : ''; }
function table(caption, headers, rows, emptyText) {
  const body = h('tbody', null, rows.length ? rows : h('tr', { class: 'empty' }, h('td', { colspan: headers.length, class: 'muted' }, emptyText)));
  return h('table', null, caption ? h('caption', { class: 'muted', hidden: true }, caption) : null, h('thead', null, h('tr', null, headers.map((t) => h('th', { scope: 'col' }, t)))), body);
}

// --- session ---------------------------------------------------------------------------------

async function signIn(token) {
  state.token = token;
  const data = await gql(SESSION_QUERY);
  state.viewer = data.viewer;
  state.organizations = data.organizations || [];
  const saved = readSelection();
  const org = state.organizations.find((o) => o.id === saved.organizationId) || state.organizations[0] || null;
  state.organizationId = org ? org.id : null;
  const project = org && (org.projects.find((p) => p.id === saved.projectId) || org.projects[0]);
  state.projectId = project ? project.id : null;
  storeToken(token);
  storeSelection();
  renderSessionBar();
}

function signOut() {
  leave();
  state.token = null; state.viewer = null; state.organizations = [];
  storeToken(null);
  try { sessionStorage.removeItem(SELECTION_KEY); } catch { /* optional */ }
  sessionBar.hidden = true;
  sessionBar.replaceChildren();
  if (location.hash) history.replaceState(null, '', location.pathname);
  renderSignIn(null);
}

function currentOrganization() { return state.organizations.find((o) => o.id === state.organizationId) || null; }
function currentProject() { const org = currentOrganization(); return org ? org.projects.find((p) => p.id === state.projectId) || null : null; }
function roleIn(organizationId) {
  const m = state.viewer && state.viewer.memberships.find((x) => x.organization.id === organizationId);
  return m ? m.role : (state.viewer && state.viewer.isInstallationAdmin ? 'INSTALLATION ADMIN' : '');
}

function renderSessionBar() {
  const org = currentOrganization();
  const orgSelect = h('select', { id: 'organization', 'aria-label': 'Organization', onchange: (e) => {
    state.organizationId = e.target.value;
    const next = currentOrganization();
    state.projectId = next && next.projects[0] ? next.projects[0].id : null;
    storeSelection(); renderSessionBar(); navigate('#/marketplace', true);
  } }, state.organizations.map((o) => h('option', { value: o.id, selected: o.id === state.organizationId }, o.name + ' (' + o.handle + ')')));
  const projectSelect = h('select', { id: 'project', 'aria-label': 'Project', onchange: (e) => {
    state.projectId = e.target.value; storeSelection(); navigate('#/marketplace', true);
  } }, org ? org.projects.map((p) => h('option', { value: p.id, selected: p.id === state.projectId }, p.name + ' (' + p.handle + ')')) : []);
  const role = org ? roleIn(org.id) : '';
  sessionBar.replaceChildren(
    h('label', null, 'Organization ', orgSelect),
    h('label', null, 'Project ', projectSelect),
    h('span', { class: 'who', id: 'who' }, state.viewer.user.email + (role ? ' · ' + role : '')),
    h('button', { type: 'button', id: 'sign-out', onclick: signOut }, 'Sign out'),
  );
  sessionBar.hidden = false;
}

function renderSignIn(error) {
  leave();
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, placeholder: 'tgp_…' });
  const button = h('button', { type: 'submit' }, 'Sign in');
  const status = h('div', { id: 'sign-in-status' }, error ? errorBox(error) : null);
  const form = h('form', { class: 'stack', onsubmit: async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    button.disabled = true;
    status.replaceChildren(h('p', { class: 'muted' }, 'Signing in…'));
    try {
      await signIn(token);
      input.value = '';
      route();
    } catch (err) {
      state.token = null;
      storeToken(null);
      status.replaceChildren(errorBox(err));
      button.disabled = false;
    }
  } }, h('label', null, 'API token', input), button);
  main.replaceChildren(h('section', { class: 'card narrow' },
    h('h1', null, 'Sign in'),
    h('p', { class: 'muted' }, 'Paste a Tokengate API token. It stays in this browser tab (session storage) and is sent only to this control plane.'),
    form, status));
  input.focus();
}

// --- routing ---------------------------------------------------------------------------------

function leave() {
  if (leaveView) { const release = leaveView; leaveView = null; release(); }
}
function navigate(hash, replace) {
  if (location.hash === hash) { route(); return; }
  if (replace) { history.replaceState(null, '', hash); route(); } else location.hash = hash;
}
function route() {
  leave();
  if (!state.token || !state.viewer) { renderSignIn(null); return; }
  const match = /^#\/services\/([0-9A-Za-z-]+)$/.exec(location.hash);
  if (match) renderService(match[1]); else renderMarketplace();
}

// --- marketplace -----------------------------------------------------------------------------

function renderMarketplace() {
  const org = currentOrganization();
  if (!org) {
    main.replaceChildren(h('h1', null, 'Marketplace'), h('p', { class: 'muted' }, 'This token is not a member of any organization.'));
    return;
  }
  const search = h('input', { type: 'search', id: 'search', 'aria-label': 'Search', placeholder: 'Search name, summary and description', value: state.search });
  const provider = h('select', { id: 'provider', 'aria-label': 'Provider' }, h('option', { value: '' }, 'All providers'),
    Object.keys(PROVIDERS).map((p) => h('option', { value: p, selected: p === state.provider }, PROVIDERS[p])));
  const results = h('div', { id: 'marketplace-results', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  let sequence = 0;
  let timer = 0;
  const load = async () => {
    const mine = ++sequence;
    const filter = {};
    if (state.search.trim()) filter.search = state.search.trim();
    if (state.provider) filter.providers = [state.provider];
    try {
      const data = await gql(MARKETPLACE_QUERY, { o: org.id, p: state.projectId, f: filter });
      if (mine !== sequence) return;
      const rows = data.marketplace.map((s) => h('tr', { dataset: { serviceId: s.id } },
        h('td', null, h('a', { href: '#/services/' + encodeURIComponent(s.id), class: 'service-link' }, s.name)),
        h('td', null, PROVIDERS[s.provider] || s.provider),
        h('td', null, s.scope),
        h('td', null, h('code', null, s.contextPath)),
        h('td', null, s.labels.map((l) => h('span', { class: 'chip' }, l))),
        h('td', null, s.summary)));
      results.replaceChildren(
        table('Services', ['Name', 'Provider', 'Scope', 'Context path', 'Labels', 'Summary'], rows, 'No published service matches.'),
        h('p', { class: 'muted', id: 'result-count' }, data.marketplace.length + (data.marketplace.length === 1 ? ' service' : ' services')));
    } catch (error) {
      if (mine === sequence) results.replaceChildren(errorBox(error));
    }
  };
  search.addEventListener('input', () => { state.search = search.value; clearTimeout(timer); timer = setTimeout(load, 200); });
  provider.addEventListener('change', () => { state.provider = provider.value; clearTimeout(timer); void load(); });
  const project = currentProject();
  main.replaceChildren(
    h('h1', null, 'Marketplace'),
    h('p', { class: 'muted' }, 'Published GenAI services visible from ' + org.name + (project ? ' / ' + project.name : '') + '.'),
    h('form', { class: 'toolbar', role: 'search', onsubmit: (e) => { e.preventDefault(); clearTimeout(timer); void load(); } }, search, provider),
    results);
  leaveView = () => { sequence++; clearTimeout(timer); };
  void load();
}

// --- service ---------------------------------------------------------------------------------

function environmentRows(configs) {
  return configs.map((c) => {
    const b = c.backendSecurity;
    const security = b.configured
      ? [h('span', { class: 'badge ok' }, 'Configured'), ' ', b.hint ? h('code', { class: 'hint' }, b.hint) : null, h('div', { class: 'muted' }, b.headerName + (b.authType === 'AWS_SIGV4' ? ' (AWS SigV4)' : ''))]
      : [h('span', { class: 'badge down' }, 'Not configured'), h('div', { class: 'muted' }, b.headerName)];
    const r = c.rateLimit;
    return h('tr', { dataset: { environment: c.environment } },
      h('th', { scope: 'row' }, c.environment),
      h('td', null, security),
      h('td', null, r ? 'per ' + r.timeUnit.toLowerCase() : 'no limits'),
      h('td', { class: 'num' }, r ? number(r.maxPromptTokens) : '—'),
      h('td', { class: 'num' }, r ? number(r.maxCompletionTokens) : '—'),
      h('td', { class: 'num' }, r ? number(r.maxTotalTokens) : '—'),
      h('td', null, h('code', null, c.effectiveServiceUrl)));
  });
}

function deploymentRow(d) {
  const applied = d.dataPlanes.filter((p) => p.applied).length;
  return h('tr', { dataset: { environment: d.environment, status: d.status, revision: d.revision } },
    h('th', { scope: 'row' }, d.environment),
    h('td', null, h('span', { class: 'badge ' + d.status }, d.status)),
    h('td', { class: 'num' }, 'r' + d.revision),
    h('td', { title: d.dataPlanes.map((p) => p.proxyId + ': r' + p.appliedRevision).join('\n') }, d.dataPlanes.length ? applied + ' of ' + d.dataPlanes.length : 'none connected'),
    h('td', null, d.message),
    h('td', null, when(d.updatedAt)));
}

/** Newer wins: a higher revision, or the same revision updated no earlier (events and refetches may interleave). */
function isNewer(incoming, current) {
  if (!current) return true;
  if (incoming.revision !== current.revision) return incoming.revision > current.revision;
  if (incoming.updatedAt !== current.updatedAt) return incoming.updatedAt > current.updatedAt;
  return (STATUS_ORDER[incoming.status] || 0) >= (STATUS_ORDER[current.status] || 0);
}

function usageRows(windows) {
  return windows.map((u) => h('tr', { dataset: { environment: u.environment } },
    h('td', null, when(u.windowStart)), h('td', null, u.windowUnit.toLowerCase()), h('th', { scope: 'row' }, u.environment),
    h('td', { class: 'num' }, number(u.promptTokens)), h('td', { class: 'num' }, number(u.completionTokens)),
    h('td', { class: 'num' }, number(u.totalTokens)), h('td', { class: 'num' }, number(u.requests))));
}

async function copyText(text, button) {
  let copied = false;
  try { await navigator.clipboard.writeText(text); copied = true; } catch { /* insecure origin: fall back below */ }
  if (!copied) {
    const scratch = h('textarea', { readonly: true, 'aria-hidden': 'true', class: 'mono' });
    scratch.value = text;
    document.body.append(scratch);
    scratch.select();
    try { copied = document.execCommand('copy'); } catch { copied = false; }
    scratch.value = '';
    scratch.remove();
  }
  button.textContent = copied ? 'Copied' : 'Copy failed: select the text';
}

function renderService(serviceId) {
  main.replaceChildren(h('p', null, h('a', { href: '#/marketplace' }, '← Marketplace')), h('p', { class: 'muted' }, 'Loading service…'));
  let left = false;
  let live = null;
  let keysPanel = null;
  const clearKeys = () => { if (keysPanel) { keysPanel.replaceChildren(); keysPanel.remove(); keysPanel = null; } };
  leaveView = () => { left = true; if (live) live.stop(); clearKeys(); };

  gql(SERVICE_QUERY, { id: serviceId }).then((data) => {
    if (left) return;
    const s = data.genAIService;
    const deployments = new Map();
    const knownRevision = new Map();
    const envBody = h('tbody', null, environmentRows(s.environmentConfigs));
    const deploymentBody = h('tbody', null);
    const liveBadge = h('span', { class: 'badge connecting', id: 'live-status', role: 'status', 'aria-live': 'polite' }, 'connecting…');
    const liveError = h('div', { id: 'live-error' });

    const drawDeployments = () => {
      const rows = Array.from(deployments.values()).map(deploymentRow);
      deploymentBody.replaceChildren(...(rows.length ? rows : [h('tr', { class: 'empty' }, h('td', { colspan: 6, class: 'muted' }, 'No deployment yet.'))]));
    };
    const merge = (d) => {
      if (!isNewer(d, deployments.get(d.environment))) return false;
      deployments.set(d.environment, d);
      return true;
    };
    for (const d of s.deployments) { deployments.set(d.environment, d); knownRevision.set(d.environment, d.revision); }
    drawDeployments();

    // A new revision means the configuration changed: fetch the limits and security state again.
    // At most one refetch in flight; a change seen meanwhile queues exactly one more.
    let refreshing = null;
    let again = false;
    const refresh = () => {
      if (refreshing) { again = true; return refreshing; }
      refreshing = gql(REFRESH_QUERY, { id: serviceId }).then((fresh) => {
        if (left) return;
        envBody.replaceChildren(...environmentRows(fresh.genAIService.environmentConfigs));
        for (const d of fresh.genAIService.deployments) { merge(d); if ((knownRevision.get(d.environment) || 0) < d.revision) knownRevision.set(d.environment, d.revision); }
        drawDeployments();
      }).catch((error) => { if (!left) liveError.replaceChildren(errorBox(error)); }).finally(() => {
        refreshing = null;
        if (again && !left) { again = false; void refresh(); }
      });
      return refreshing;
    };

    live = subscribeDeployments(serviceId, {
      state: (name, text) => { liveBadge.className = 'badge ' + name; liveBadge.textContent = text; },
      next: (d) => {
        if (merge(d)) drawDeployments();
        if (d.revision > (knownRevision.get(d.environment) || 0)) { knownRevision.set(d.environment, d.revision); void refresh(); }
      },
      resync: refresh,
      failed: (error) => { liveBadge.className = 'badge down'; liveBadge.textContent = 'live updates off'; liveError.replaceChildren(errorBox(error)); },
    });

    const project = currentProject();
    const name = h('input', { id: 'connection-name', required: true, maxlength: 200, placeholder: 'e.g. checkout-assistant' });
    const description = h('input', { id: 'connection-description', maxlength: 2000, placeholder: 'What will call it' });
    const createButton = h('button', { type: 'submit' }, 'Create connection');
    const connectStatus = h('div', { id: 'connect-status' });
    const connectArea = h('div', { id: 'connect-area' });
    const form = h('form', { class: 'row', onsubmit: async (e) => {
      e.preventDefault();
      clearKeys();
      createButton.disabled = true;
      connectStatus.replaceChildren(h('p', { class: 'muted' }, 'Creating connection…'));
      try {
        const result = await gql(CREATE_CONNECTION, { i: { projectId: state.projectId, serviceId: serviceId, name: name.value.trim(), description: description.value.trim() || null } });
        if (left) return;
        connectStatus.replaceChildren();
        name.value = ''; description.value = '';
        keysPanel = keysView(result.createConnection, clearKeys);
        connectArea.append(keysPanel);
      } catch (error) {
        if (!left) connectStatus.replaceChildren(errorBox(error));
      } finally {
        createButton.disabled = false;
      }
    } }, h('label', null, 'Name ', name), h('label', null, 'Description ', description), createButton);

    const removed = s.marketplaceStatus === 'REMOVED';
    main.replaceChildren(
      h('p', null, h('a', { href: '#/marketplace', id: 'back' }, '← Marketplace')),
      h('h1', { id: 'service-name' }, s.name),
      h('div', { class: 'meta' }, h('span', { class: 'badge' }, PROVIDERS[s.provider] || s.provider), h('span', { class: 'badge' }, s.scope),
        h('span', { class: 'badge ' + s.marketplaceStatus }, s.marketplaceStatus), h('code', null, s.contextPath), s.labels.map((l) => h('span', { class: 'chip' }, l))),
      s.summary ? h('p', { id: 'service-summary' }, s.summary) : null,
      s.description ? h('p', { class: 'muted', id: 'service-description' }, s.description) : null,
      h('h2', null, 'Environments'),
      h('table', { id: 'environments' }, h('thead', null, h('tr', null, ['Environment', 'Backend security', 'Rate limit window', 'Max prompt tokens', 'Max completion tokens', 'Max total tokens', 'Upstream URL'].map((t) => h('th', { scope: 'col' }, t)))), envBody),
      h('h2', null, 'Deployments ', liveBadge),
      liveError,
      h('table', { id: 'deployments' }, h('thead', null, h('tr', null, ['Environment', 'Status', 'Revision', 'Proxies applied', 'Message', 'Updated'].map((t) => h('th', { scope: 'col' }, t)))), deploymentBody),
      h('h2', null, 'Usage'),
      h('div', { id: 'usage' }, table('Usage windows', ['Window start', 'Unit', 'Environment', 'Prompt tokens', 'Completion tokens', 'Total tokens', 'Requests'], usageRows(s.usage), 'No usage recorded yet.')),
      h('h2', null, 'Connect'),
      removed
        ? h('p', { class: 'muted' }, 'This service was removed from the marketplace: new connections are refused.')
        : h('section', { class: 'card', id: 'connect' }, h('p', { class: 'muted' }, 'Creates a connection in project ' + (project ? project.name : '?') + ' and issues one consumer key per environment.'), form, connectStatus, connectArea),
    );
  }).catch((error) => {
    if (!left) main.replaceChildren(h('p', null, h('a', { href: '#/marketplace' }, '← Marketplace')), h('h1', null, 'Service'), errorBox(error));
  });
}

function keysView(payload, dismiss) {
  const rows = payload.keys.map((k) => {
    const keyCode = h('code', { class: 'api-key' }, k.apiKey);
    const endpointCode = h('code', { class: 'endpoint' }, k.endpointUrl);
    const copyKey = h('button', { type: 'button', class: 'secondary copy-key' }, 'Copy key');
    copyKey.addEventListener('click', () => void copyText(keyCode.textContent, copyKey));
    const copyEndpoint = h('button', { type: 'button', class: 'secondary copy-endpoint' }, 'Copy URL');
    copyEndpoint.addEventListener('click', () => void copyText(endpointCode.textContent, copyEndpoint));
    return h('tr', { dataset: { environment: k.environment } }, h('th', { scope: 'row' }, k.environment), h('td', null, keyCode, ' ', copyKey), h('td', null, endpointCode, ' ', copyEndpoint));
  });
  return h('section', { class: 'keys', id: 'issued-keys', 'aria-label': 'Issued consumer keys' },
    h('h3', null, 'Connection ' + payload.connection.name + ' created'),
    h('p', null, h('strong', null, 'Copy the keys now: they are shown once and are not kept by this page.')),
    table('Issued keys', ['Environment', 'Consumer key', 'Endpoint URL'], rows, 'No environment is configured.'),
    h('button', { type: 'button', id: 'dismiss-keys', onclick: dismiss }, 'I have copied the keys'));
}

// --- live deployments: graphql-ws client (subprotocol graphql-transport-ws) -------------------

/**
 * One socket, one subscription. Reconnects with jittered back-off after an abnormal close and asks
 * for a resync (a refetch) so events missed while disconnected cannot leave a stale status.
 */
function subscribeDeployments(serviceId, handlers) {
  const id = 'deployments';
  let socket = null;
  let stopped = false;
  let attempts = 0;
  let timer = 0;
  const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/graphql';
  const send = (message) => { if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message)); };
  const connect = () => {
    handlers.state(attempts ? 'reconnecting' : 'connecting', attempts ? 'reconnecting…' : 'connecting…');
    const ws = new WebSocket(url, 'graphql-transport-ws');
    socket = ws;
    ws.onopen = () => send({ type: 'connection_init', payload: { authorization: 'Bearer ' + state.token } });
    ws.onmessage = (event) => {
      if (ws !== socket) return;
      let message;
      try { message = JSON.parse(event.data); } catch { ws.close(4400, 'invalid message'); return; }
      switch (message.type) {
        case 'connection_ack':
          attempts = 0;
          send({ id: id, type: 'subscribe', payload: { query: DEPLOYMENT_SUBSCRIPTION, variables: { serviceId: serviceId } } });
          // The refetch covers anything that changed before the subscription took effect.
          Promise.resolve(handlers.resync()).then(() => { if (!stopped && ws === socket) handlers.state('live', 'live'); });
          break;
        case 'ping': send({ type: 'pong' }); break;
        case 'next':
          if (message.id !== id || !message.payload) break;
          if (message.payload.errors && message.payload.errors.length) handlers.failed(errorFrom(message.payload.errors));
          else if (message.payload.data && message.payload.data.deploymentStatusChanged) handlers.next(message.payload.data.deploymentStatusChanged);
          break;
        case 'error':
          if (message.id === id) { stopped = true; handlers.failed(errorFrom(message.payload)); ws.close(1000, 'subscription refused'); }
          break;
        case 'complete':
          if (message.id === id) { stopped = true; handlers.failed(new ApiError('COMPLETE', 'the server ended the subscription')); ws.close(1000, 'complete'); }
          break;
        default: break;
      }
    };
    ws.onclose = (event) => {
      if (stopped || ws !== socket) return;
      // 4403: connection_init refused (the token is no longer valid); 4400/4409: protocol faults. Retrying cannot help.
      if (event.code === 4403 || event.code === 4401) { stopped = true; handlers.failed(new ApiError('UNAUTHENTICATED', 'live updates refused: the API token is not valid')); return; }
      if (event.code === 4400 || event.code === 4409 || event.code === 4406) { stopped = true; handlers.failed(new ApiError('BAD_REQUEST', 'live updates stopped: ' + (event.reason || 'protocol error ' + event.code))); return; }
      attempts++;
      const delay = Math.min(30000, 500 * Math.pow(2, attempts)) * (0.5 + Math.random() / 2);
      handlers.state('reconnecting', 'reconnecting…');
      timer = setTimeout(connect, delay);
    };
  };
  connect();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      if (socket) {
        send({ id: id, type: 'complete' });
        if (socket.readyState <= WebSocket.OPEN) socket.close(1000, 'left the page');
        socket = null;
      }
    },
  };
}

// --- start -----------------------------------------------------------------------------------

window.addEventListener('hashchange', route);
// Issued keys must not survive the page (bfcache included).
window.addEventListener('pagehide', leave);
window.addEventListener('pageshow', (event) => { if (event.persisted) route(); });

(async () => {
  const token = readToken();
  if (!token) { renderSignIn(null); return; }
  try {
    await signIn(token);
    route();
  } catch (error) {
    state.token = null;
    if (error instanceof ApiError && error.code !== 'NETWORK_ERROR') storeToken(null);
    renderSignIn(error);
  }
})();
`;
