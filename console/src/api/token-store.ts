// The API token lives only in this tab's session storage (never localStorage, never a cookie or URL).
const TOKEN_KEY = 'tokengate.console.token';
const SELECTION_KEY = 'tokengate.console.selection';

export function readToken(): string | null {
  try { return sessionStorage.getItem(TOKEN_KEY); } catch { return null; }
}

export function storeToken(token: string | null): void {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else { sessionStorage.removeItem(TOKEN_KEY); sessionStorage.removeItem(SELECTION_KEY); }
  } catch { /* storage disabled: the token lives in memory only */ }
}

export interface Selection { organizationId?: string | null; projectId?: string | null }

export function readSelection(): Selection {
  try { return (JSON.parse(sessionStorage.getItem(SELECTION_KEY) ?? '{}') as Selection | null) ?? {}; } catch { return {}; }
}

export function storeSelection(selection: Selection): void {
  try { sessionStorage.setItem(SELECTION_KEY, JSON.stringify(selection)); } catch { /* optional */ }
}
