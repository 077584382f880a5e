// Domain validation shared by the GraphQL API and the CLI. Each function names the offending field.
import { badUserInput } from './errors';

/** Limits of the checks below; the GraphQL input caps (graphql/input-caps.ts) are these same numbers. */
export const MAX_HANDLE_LENGTH = 63;
export const MAX_NAME_LENGTH = 120;
export const MAX_SUMMARY_LENGTH = 300;
export const MAX_DESCRIPTION_LENGTH = 5000;
export const MAX_CONTEXT_PATH_LENGTH = 200;
export const MAX_URL_LENGTH = 2048;
export const MAX_LABELS = 20;
export const MAX_LABEL_LENGTH = 63;
/** A connection's description (connection.service.ts). */
export const MAX_CONNECTION_DESCRIPTION_LENGTH = 2000;

const HANDLE = /^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$|^[a-z0-9]$/;
/** Handles that would shadow the proxy's own endpoints as the first path segment. */
const RESERVED_ORGANIZATION_HANDLES = new Set(['healthz', 'readyz', 'metrics', 'livez', 'favicon.ico']);
const CONTEXT_PATH = /^\/[a-z0-9][a-z0-9\-_/.]*$/;
const LABEL = /^[A-Za-z0-9][A-Za-z0-9 _.:/-]{0,62}$/;

export function validateHandle(field: string, handle: string, what = 'handle'): string {
  if (!HANDLE.test(handle)) {
    throw badUserInput(field, `${what} must be 1-63 lowercase letters, digits or hyphens, starting and ending with a letter or digit`);
  }
  return handle;
}

export function validateOrganizationHandle(field: string, handle: string): string {
  validateHandle(field, handle, 'organization handle');
  if (RESERVED_ORGANIZATION_HANDLES.has(handle)) throw badUserInput(field, `organization handle "${handle}" is reserved`);
  return handle;
}

export function validateName(field: string, name: string, max = MAX_NAME_LENGTH): string {
  const trimmed = name.trim();
  if (trimmed.length === 0) throw badUserInput(field, 'must not be empty');
  if (trimmed.length > max) throw badUserInput(field, `must be at most ${max} characters`);
  return trimmed;
}

export function validateText(field: string, text: string | null | undefined, max: number): string {
  const value = (text ?? '').trim();
  if (value.length > max) throw badUserInput(field, `must be at most ${max} characters`);
  return value;
}

/**
 * Normalizes a context path: lowercase, one leading slash, no repeated or trailing slashes.
 * `.` and `..` segments are refused so a path can never climb out of its organization.
 */
export function normalizeContextPath(field: string, raw: string): string {
  const collapsed = `/${raw.trim().toLowerCase()}`.replace(/\/{2,}/g, '/').replace(/\/+$/, '');
  if (collapsed.length < 2 || collapsed.length > MAX_CONTEXT_PATH_LENGTH) throw badUserInput(field, `context path must be 1-${MAX_CONTEXT_PATH_LENGTH} characters, e.g. "/openai-prod"`);
  if (!CONTEXT_PATH.test(collapsed)) {
    throw badUserInput(field, 'context path may contain only lowercase letters, digits, "-", "_", "." and "/", and must start with a letter or digit');
  }
  if (collapsed.split('/').some((segment) => segment === '.' || segment === '..')) {
    throw badUserInput(field, 'context path must not contain "." or ".." segments');
  }
  return collapsed;
}

/** True when one path is the other or lies beneath it (segment-wise): such routes would shadow each other. */
export function contextPathsOverlap(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}

/** Validates a provider endpoint: absolute http(s), no credentials, query or fragment; trailing slash dropped. */
export function normalizeServiceUrl(field: string, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw badUserInput(field, 'service URL must be an absolute http or https URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw badUserInput(field, 'service URL must use http or https');
  if (url.username || url.password) throw badUserInput(field, 'service URL must not contain credentials; set them as backend security');
  if (url.search || url.hash) throw badUserInput(field, 'service URL must not contain a query or fragment');
  const normalized = `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
  if (normalized.length > MAX_URL_LENGTH) throw badUserInput(field, `service URL must be at most ${MAX_URL_LENGTH} characters`);
  return normalized;
}

/**
 * Trims and dedupes labels, keeping the first occurrence's order. The count is checked on the list as
 * sent, before any label is looked at, and duplicates are found with a Set: the work is linear in what
 * passes the cap, never quadratic in what was sent.
 */
export function normalizeLabels(field: string, labels: string[] | null | undefined): string[] {
  const raw = labels ?? [];
  if (raw.length > MAX_LABELS) throw badUserInput(field, `at most ${MAX_LABELS} labels`);
  const result = new Set<string>();
  for (const [index, text] of raw.entries()) {
    const label = text.trim();
    if (!LABEL.test(label)) {
      throw badUserInput(`${field}[${index}]`, 'a label is 1-63 letters, digits, spaces or "_.:/-", starting with a letter or digit');
    }
    result.add(label);
  }
  return [...result];
}

export function validatePositiveTokens(field: string, value: number | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  if (!Number.isSafeInteger(value) || value < 1) throw badUserInput(field, 'must be a positive integer, or null for unlimited');
  return value;
}
