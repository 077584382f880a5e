// What each provider needs: default endpoint, how the proxy authenticates, and the fields of its own.
import { LIMITS, lengthProblem } from '../ui/limits';
import type { ProviderName } from '../ui/words';

export const DEFAULT_SERVICE_URLS: Record<ProviderName, string> = {
  OPENAI: 'https://api.openai.com/v1',
  AZURE_OPENAI: 'https://YOUR-RESOURCE.openai.azure.com',
  ANTHROPIC: 'https://api.anthropic.com',
  MISTRAL: 'https://api.mistral.ai',
  AWS_BEDROCK: 'https://bedrock-runtime.us-east-1.amazonaws.com',
};

export const DEFAULT_HEADERS: Record<ProviderName, string> = {
  OPENAI: 'Authorization', AZURE_OPENAI: 'api-key', ANTHROPIC: 'x-api-key', MISTRAL: 'Authorization', AWS_BEDROCK: 'Authorization',
};

export const KEY_LABELS: Record<ProviderName, string> = {
  OPENAI: 'OpenAI API key', AZURE_OPENAI: 'Azure OpenAI key', ANTHROPIC: 'Anthropic API key', MISTRAL: 'Mistral API key', AWS_BEDROCK: 'Bedrock API key',
};

const PLACEHOLDER_HOST = /(^|\.)your-resource\./;

const CONTEXT_PATH = /^\/[a-z0-9][a-z0-9\-_/.]*$/;

/** The context path as the server will store it, or why it would be refused (mirrors the server's rules). */
export function checkContextPath(raw: string): { normalized: string; problem: string | null } {
  const normalized = `/${raw.trim().toLowerCase()}`.replace(/\/{2,}/g, '/').replace(/\/+$/, '');
  if (!raw.trim()) return { normalized, problem: 'Enter a context path, e.g. /openai-prod.' };
  if (normalized.length < 2 || normalized.length > 200) return { normalized, problem: 'A context path is 1 to 200 characters, e.g. /openai-prod.' };
  if (!CONTEXT_PATH.test(normalized)) return { normalized, problem: 'Use only lowercase letters, digits, "-", "_", "." and "/", starting with a letter or digit.' };
  if (normalized.split('/').some((s) => s === '.' || s === '..')) return { normalized, problem: 'A context path cannot contain "." or ".." segments.' };
  return { normalized, problem: null };
}

export function checkServiceUrl(raw: string): string | null {
  const tooLong = lengthProblem(raw, LIMITS.url);
  if (tooLong) return tooLong;
  let url: URL;
  try { url = new URL(raw.trim()); } catch { return 'Enter an absolute http or https URL.'; }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'The URL must use http or https.';
  if (url.username || url.password) return 'Put credentials in the backend security, not in the URL.';
  if (url.search || url.hash) return 'The URL cannot have a query or fragment.';
  // The Azure OpenAI default is a template: its placeholder names no resource.
  if (PLACEHOLDER_HOST.test(url.hostname)) return 'Replace YOUR-RESOURCE with the name of your Azure OpenAI resource, e.g. https://contoso.openai.azure.com.';
  return null;
}

const LABEL = /^[A-Za-z0-9][A-Za-z0-9 _.:/-]{0,62}$/;

export function parseLabels(text: string): { labels: string[]; problem: string | null } {
  const labels = text.split(',').map((l) => l.trim()).filter(Boolean);
  const bad = labels.find((l) => !LABEL.test(l));
  return { labels, problem: bad ? `"${bad}" is not a label: use letters, digits, spaces or "_.:/-", starting with a letter or digit.` : labels.length > 20 ? 'At most 20 labels.' : null };
}

// The server's rules for backend security (control-plane/src/genai-service/backend-security.ts).
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
const FORBIDDEN_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'cookie']);
const API_VERSION = /^[A-Za-z0-9._-]+$/;
const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/** Why a header name would be refused (empty is the caller's to judge). */
export function checkHeaderName(raw: string): string | null {
  const name = raw.trim();
  if (!name) return null;
  const tooLong = lengthProblem(name, LIMITS.headerName);
  if (tooLong) return tooLong;
  if (!HEADER_NAME.test(name)) return 'Use only letters, digits and !#$%&\'*+.^_`|~- (no spaces or ":"), e.g. X-Api-Key.';
  if (FORBIDDEN_HEADERS.has(name.toLowerCase())) return `The proxy may not set ${name}: choose another header.`;
  return null;
}

/** Why an api-version would be refused (empty is the caller's to judge). */
export function checkApiVersion(raw: string): string | null {
  const version = raw.trim();
  if (!version) return null;
  return lengthProblem(version, LIMITS.apiVersion) ?? (API_VERSION.test(version) ? null : 'Use letters, digits, ".", "_" and "-" only, e.g. 2024-10-21.');
}

/** Why an AWS region would be refused (empty is the caller's to judge). */
export function checkAwsRegion(raw: string): string | null {
  const region = raw.trim();
  if (!region) return null;
  return lengthProblem(region, LIMITS.awsRegion) ?? (AWS_REGION.test(region) ? null : 'Enter an AWS region such as us-east-1.');
}
