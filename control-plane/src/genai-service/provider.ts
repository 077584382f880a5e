import { registerEnumType } from 'type-graphql';

export enum Provider {
  OPENAI = 'OPENAI',
  AZURE_OPENAI = 'AZURE_OPENAI',
  ANTHROPIC = 'ANTHROPIC',
  MISTRAL = 'MISTRAL',
  AWS_BEDROCK = 'AWS_BEDROCK',
}

export enum RegistrationScope {
  ORGANIZATION = 'ORGANIZATION',
  PROJECT = 'PROJECT',
}

export enum MarketplaceStatus {
  PUBLISHED = 'PUBLISHED',
  REMOVED = 'REMOVED',
}

export enum TimeUnit {
  MINUTE = 'MINUTE',
  HOUR = 'HOUR',
  DAY = 'DAY',
}

export enum BackendAuthType {
  /** A provider key sent in a header (Bedrock API keys included). */
  API_KEY = 'API_KEY',
  /** AWS Signature Version 4 (Bedrock). */
  AWS_SIGV4 = 'AWS_SIGV4',
}

registerEnumType(Provider, { name: 'Provider' });
registerEnumType(RegistrationScope, {
  name: 'RegistrationScope',
  description: 'ORGANIZATION: visible to every project of the organization. PROJECT: visible only in its project.',
});
registerEnumType(MarketplaceStatus, { name: 'MarketplaceStatus' });
registerEnumType(TimeUnit, { name: 'TimeUnit', description: 'Fixed calendar windows in UTC.' });
registerEnumType(BackendAuthType, { name: 'BackendAuthType' });

/** How each provider expects its key by default (docs/architecture.md, "Contract"). */
export interface ProviderDefaults {
  headerName: string;
  /** Scheme prefixed to the key when the header is Authorization. */
  bearer: boolean;
  apiVersion: string | null;
  displayName: string;
}

export const PROVIDER_DEFAULTS: Record<Provider, ProviderDefaults> = {
  [Provider.OPENAI]: { headerName: 'Authorization', bearer: true, apiVersion: null, displayName: 'OpenAI' },
  [Provider.AZURE_OPENAI]: { headerName: 'api-key', bearer: false, apiVersion: '2024-10-21', displayName: 'Azure OpenAI' },
  [Provider.ANTHROPIC]: { headerName: 'x-api-key', bearer: false, apiVersion: '2023-06-01', displayName: 'Anthropic Claude' },
  [Provider.MISTRAL]: { headerName: 'Authorization', bearer: true, apiVersion: null, displayName: 'Mistral' },
  [Provider.AWS_BEDROCK]: { headerName: 'Authorization', bearer: true, apiVersion: null, displayName: 'AWS Bedrock' },
};
