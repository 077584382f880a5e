// What each provider needs: default endpoint, how the proxy authenticates, and the fields of its own.
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
  let url: URL;
  try { url = new URL(raw.trim()); } catch { return 'Enter an absolute http or https URL.'; }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'The URL must use http or https.';
  if (url.username || url.password) return 'Put credentials in the backend security, not in the URL.';
  if (url.search || url.hash) return 'The URL cannot have a query or fragment.';
  return null;
}

const LABEL = /^[A-Za-z0-9][A-Za-z0-9 _.:/-]{0,62}$/;

export function parseLabels(text: string): { labels: string[]; problem: string | null } {
  const labels = text.split(',').map((l) => l.trim()).filter(Boolean);
  const bad = labels.find((l) => !LABEL.test(l));
  return { labels, problem: bad ? `"${bad}" is not a label: use letters, digits, spaces or "_.:/-", starting with a letter or digit.` : labels.length > 20 ? 'At most 20 labels.' : null };
}
