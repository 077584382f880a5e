// One line per provider. The key is the proto enum name carried by Service.provider. Each adapter's
// `prompt` is the object prompt-registry.ts (the token worker's lighter registry) lists for it.
import type { ProviderName } from '../config-stream/wire-types';
import type { ProviderAdapter } from './provider-adapter';
import { anthropicAdapter } from './anthropic/anthropic-adapter';
import { awsBedrockAdapter } from './aws-bedrock/aws-bedrock-adapter';
import { azureOpenAiAdapter } from './azure-openai/azure-openai-adapter';
import { mistralAdapter } from './mistral/mistral-adapter';
import { openAiAdapter } from './openai/openai-adapter';

export const PROVIDER_ADAPTERS: ReadonlyMap<ProviderName, ProviderAdapter> = new Map<ProviderName, ProviderAdapter>([
  ['OPENAI', openAiAdapter],
  ['AZURE_OPENAI', azureOpenAiAdapter],
  ['ANTHROPIC', anthropicAdapter],
  ['MISTRAL', mistralAdapter],
  ['AWS_BEDROCK', awsBedrockAdapter],
]);

/** The adapter for a decoded Service.provider, or undefined (unspecified or unknown to this proxy). */
export function providerAdapterFor(provider: ProviderName | number): ProviderAdapter | undefined {
  return typeof provider === 'string' ? PROVIDER_ADAPTERS.get(provider) : undefined;
}
