// Human words for the API's enums.
export const PROVIDER_NAMES: Record<string, string> = {
  OPENAI: 'OpenAI', AZURE_OPENAI: 'Azure OpenAI', ANTHROPIC: 'Anthropic', MISTRAL: 'Mistral', AWS_BEDROCK: 'AWS Bedrock',
};
export const PROVIDERS = ['OPENAI', 'AZURE_OPENAI', 'ANTHROPIC', 'MISTRAL', 'AWS_BEDROCK'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

export const SCOPE_NAMES: Record<string, string> = { ORGANIZATION: 'Whole organization', PROJECT: 'One project' };
export const ROLE_NAMES: Record<string, string> = { ADMIN: 'Admin', PLATFORM_ENGINEER: 'Platform engineer', DEVELOPER: 'Developer' };
export const STATUS_NAMES: Record<string, string> = { PENDING: 'Waiting', IN_PROGRESS: 'Rolling out', DEPLOYED: 'Deployed', FAILED: 'Failed' };
export const MARKETPLACE_NAMES: Record<string, string> = { PUBLISHED: 'In the marketplace', REMOVED: 'Removed from the marketplace' };
export const TIME_UNIT_NAMES: Record<string, string> = { MINUTE: 'per minute', HOUR: 'per hour', DAY: 'per day' };
export const DIMENSION_NAMES: Record<string, string> = { PROMPT: 'Prompt tokens', COMPLETION: 'Completion tokens', TOTAL: 'Total tokens' };
export const BUDGET_SOURCE_NAMES: Record<string, string> = {
  SERVICE: "Service's shared budget", SERVICE_DEFAULT: 'Default connection quota', CONNECTION_OVERRIDE: "This connection's own quota",
};
export const QUOTA_SOURCE_NAMES: Record<string, string> = {
  NONE: 'No quota', SERVICE_DEFAULT: "The service's default quota", CONNECTION_OVERRIDE: 'Its own quota',
};

export function tokens(value: number | null | undefined): string {
  return value === null || value === undefined ? 'unlimited' : Math.round(value).toLocaleString('en-US');
}

export interface BudgetLike { timeUnit: string; maxPromptTokens?: number | null; maxCompletionTokens?: number | null; maxTotalTokens?: number | null; enforce?: boolean | null }

/** Every maximum a budget sets, e.g. "100,000 total, 2,000 prompt tokens per minute (shadow mode)". */
export function budgetText(limit: BudgetLike): string {
  const parts: string[] = [];
  if (limit.maxTotalTokens != null) parts.push(`${tokens(limit.maxTotalTokens)} total`);
  if (limit.maxPromptTokens != null) parts.push(`${tokens(limit.maxPromptTokens)} prompt`);
  if (limit.maxCompletionTokens != null) parts.push(`${tokens(limit.maxCompletionTokens)} completion`);
  const text = parts.length ? `${parts.join(', ')} tokens ${TIME_UNIT_NAMES[limit.timeUnit] ?? ''}` : 'no maximum: unlimited';
  return limit.enforce === false ? `${text} (shadow mode: counted, not enforced)` : text;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  return `${iso.replace('T', ' ').slice(0, 16)} UTC`;
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? one : many}`;
}
