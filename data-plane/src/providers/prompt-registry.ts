// One line per provider: how its prompts are counted, by the proto enum name carried by
// Service.provider. Loaded by TokenCounter's worker, so it imports the `<provider>-prompt.ts` modules
// only (no usage observers, signing or HTTP code); each ProviderAdapter's `prompt` is the same object.
import type { ProviderName } from '../config-stream/wire-types';
import { anthropicPromptCounting } from './anthropic/anthropic-prompt';
import { bedrockPromptCounting } from './aws-bedrock/bedrock-prompt';
import { azureOpenAiPromptCounting } from './azure-openai/azure-openai-prompt';
import { mistralPromptCounting } from './mistral/mistral-prompt';
import { openAiPromptCounting } from './openai/openai-prompt';
import type { PromptCounting } from './prompt-counting';

export const PROMPT_COUNTING: ReadonlyMap<ProviderName, PromptCounting> = new Map<ProviderName, PromptCounting>([
  ['OPENAI', openAiPromptCounting],
  ['AZURE_OPENAI', azureOpenAiPromptCounting],
  ['ANTHROPIC', anthropicPromptCounting],
  ['MISTRAL', mistralPromptCounting],
  ['AWS_BEDROCK', bedrockPromptCounting],
]);

/** The prompt counting of a decoded Service.provider, or undefined (unspecified or unknown to this proxy). */
export function promptCountingFor(provider: ProviderName | number): PromptCounting | undefined {
  return typeof provider === 'string' ? PROMPT_COUNTING.get(provider) : undefined;
}
