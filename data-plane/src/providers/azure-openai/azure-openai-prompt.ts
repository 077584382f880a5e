import { createOpenAiCompatiblePromptCounting } from '../shared/openai-compatible-prompt';
import { azureDeployment } from './azure-openai-path';

/**
 * Azure OpenAI serves OpenAI's models in OpenAI's format; the model is the deployment the path names
 * (counted like the model it is named after), else the body's (the v1 API).
 */
export const azureOpenAiPromptCounting = createOpenAiCompatiblePromptCounting({
  modelFromPath: azureDeployment,
});
