// Per-provider snippets shown in connection details: the provider's official SDK, pointed at the proxy.
import { Provider } from '../genai-service/provider';

const KEY = 'process.env.TOKENGATE_API_KEY';

/** OpenAI's SDK wants the versioned base (…/v1); the service URL may or may not carry it. */
function openAIBase(endpointUrl: string, serviceUrl: string): string {
  return /\/v\d+$/.test(serviceUrl) ? endpointUrl : `${endpointUrl}/v1`;
}

export function usageSnippet(provider: Provider, endpointUrl: string, serviceUrl: string, apiVersion: string | null): string {
  switch (provider) {
    case Provider.OPENAI:
      return [
        `import OpenAI from 'openai';`,
        `const client = new OpenAI({ baseURL: '${openAIBase(endpointUrl, serviceUrl)}', apiKey: ${KEY} });`,
        `const reply = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] });`,
      ].join('\n');
    case Provider.AZURE_OPENAI:
      return [
        `import { AzureOpenAI } from 'openai';`,
        `const client = new AzureOpenAI({ endpoint: '${endpointUrl}', apiKey: ${KEY}, apiVersion: '${apiVersion ?? '2024-10-21'}', deployment: '<deployment>' });`,
        `const reply = await client.chat.completions.create({ model: '<deployment>', messages: [{ role: 'user', content: 'Hello' }] });`,
      ].join('\n');
    case Provider.ANTHROPIC:
      return [
        `import Anthropic from '@anthropic-ai/sdk';`,
        `const client = new Anthropic({ baseURL: '${endpointUrl}', apiKey: ${KEY} });`,
        `const reply = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [{ role: 'user', content: 'Hello' }] });`,
      ].join('\n');
    case Provider.MISTRAL:
      return [
        `import { Mistral } from '@mistralai/mistralai';`,
        `const client = new Mistral({ serverURL: '${endpointUrl}', apiKey: ${KEY} });`,
        `const reply = await client.chat.complete({ model: 'mistral-small-latest', messages: [{ role: 'user', content: 'Hello' }] });`,
      ].join('\n');
    case Provider.AWS_BEDROCK:
      return [
        `import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';`,
        `// The proxy signs upstream requests itself; the app authenticates with its Tokengate key as a bearer token.`,
        `const client = new BedrockRuntimeClient({ endpoint: '${endpointUrl}', region: 'us-east-1', token: { token: ${KEY} }, authSchemePreference: ['httpBearerAuth'] });`,
        `const reply = await client.send(new ConverseCommand({ modelId: 'anthropic.claude-3-haiku-20240307-v1:0', messages: [{ role: 'user', content: [{ text: 'Hello' }] }] }));`,
      ].join('\n');
  }
}
