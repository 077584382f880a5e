// Agent tool loops through the proxy: the model calls a tool, the app's loop runs it and sends its
// output back, the model answers. Driven by what apps use for it — the Anthropic SDK's own tool
// runner, the Vercel AI SDK's multi-step generateText/streamText, LangChain's createAgent (a LangGraph
// agent) — on OpenAI, Azure OpenAI, Anthropic, Bedrock Converse and Mistral, each calling tools in its
// own wire format (the fakes' `toolCall`). Each
// model turn is a request the proxy meters: the loop is charged the sum of what the provider reported.
// (The OpenAI Agents SDK has its own file, frameworks-openai-agents.test.ts.)
import Anthropic from '@anthropic-ai/sdk';
import { betaZodTool } from '@anthropic-ai/sdk/helpers/beta/zod';
import { createAmazonBedrock } from '@ai-sdk/amazon-bedrock';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createAzure } from '@ai-sdk/azure';
import { createMistral } from '@ai-sdk/mistral';
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { createOpenAI } from '@ai-sdk/openai';
import { ChatAnthropic } from '@langchain/anthropic';
import { ChatBedrockConverse } from '@langchain/aws';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, stepCountIs, streamText, tool as aiTool } from 'ai';
import { createAgent, tool as langChainTool } from 'langchain';
import { z } from 'zod';
import { WEATHER_CALL } from '../support/agent-tools';
import { BEDROCK_MODEL, BILLED, PROMPT, prepare } from '../support/framework-calls';
import { type Gateway, PROVIDER_SECRETS, startGateway } from '../support/gateway-harness';
import { meteredMany } from '../support/usage-report';

let gw: Gateway;
/** The services whose fakes call tools. */
type LoopService = 'openai' | 'azure' | 'anthropic' | 'bedrock' | 'mistral';

beforeAll(async () => {
  gw = await startGateway({ rateLimiting: { usageReportIntervalMs: 100 } });
});
afterAll(async () => {
  await gw?.stop();
});

const CITY = z.object({ city: z.string() });
const ANSWER = 'Hello from the fake';

/** Sets the service's fake to call the weather tool once. */
function prepareToolCall(service: LoopService): void {
  prepare(gw.fakes[service]);
  gw.fakes[service].behaviour.toolCall = WEATHER_CALL;
}

/** The cache and reasoning counts of two turns, as each provider reports them (Mistral reports none). */
const OPENAI_DETAILS = { cachedPromptReadTokens: 2 * BILLED.cachedRead, reasoningTokens: 2 * BILLED.reasoning };
const CLAUDE_DETAILS = { cachedPromptReadTokens: 2 * BILLED.cachedRead, cachedPromptWriteTokens: 2 * BILLED.cachedWrite };
const TWO_TURN_DETAILS: Record<LoopService, object> = {
  openai: OPENAI_DETAILS,
  azure: OPENAI_DETAILS,
  anthropic: CLAUDE_DETAILS,
  bedrock: CLAUDE_DETAILS,
  mistral: { cachedPromptReadTokens: 0, reasoningTokens: 0 },
};

/** What two model turns reported, as the usage report sums them. */
function twoTurns(service: LoopService, operation: string): object {
  return { operations: [operation], requests: 2, promptTokens: 2 * BILLED.prompt, completionTokens: 2 * BILLED.completion, ...TWO_TURN_DETAILS[service], errors4xx: 0, errors5xx: 0 };
}

/** The second turn carried the tool's output back to the provider, through the proxy. */
function expectToolOutputSent(service: LoopService, output: string): void {
  const turns = gw.fakes[service].received;
  expect(turns).toHaveLength(2);
  expect(JSON.stringify(turns[0].json)).not.toContain(output);
  expect(JSON.stringify(turns[1].json)).toContain(output);
}

describe('Anthropic SDK tool runner (beta.messages.toolRunner)', () => {
  it.each([false, true])('streamed: %s — runs the tool and is charged both turns', async (stream) => {
    prepareToolCall('anthropic');
    const cities: string[] = [];
    const client = new Anthropic({ baseURL: gw.services.anthropic.endpoint, apiKey: gw.services.anthropic.key, maxRetries: 0 });
    const getWeather = betaZodTool({
      name: 'get_weather',
      description: 'The weather in a city',
      inputSchema: CITY,
      run: ({ city }) => {
        cities.push(city);
        return `sunny in ${city}`;
      },
    });
    let text = '';
    const charged = await meteredMany(gw, 'anthropic', 2, async () => {
      const params = { model: 'claude-sonnet-5-5', max_tokens: 1024, messages: [{ role: 'user' as const, content: PROMPT }], tools: [getWeather] };
      const final = stream ? await client.beta.messages.toolRunner({ ...params, stream: true }).runUntilDone() : await client.beta.messages.toolRunner(params).runUntilDone();
      text = final.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
    });
    expect(text).toBe(ANSWER);
    expect(cities).toEqual(['Paris']);
    expectToolOutputSent('anthropic', 'sunny in Paris');
    expect(charged).toMatchObject(twoTurns('anthropic', 'messages'));
  });
});

describe('Vercel AI SDK: multi-step generateText and streamText', () => {
  const models = {
    anthropic: () => createAnthropic({ baseURL: `${gw.services.anthropic.endpoint}/v1`, apiKey: gw.services.anthropic.key })('claude-sonnet-5-5'),
    openai: () => createOpenAI({ baseURL: gw.services.openai.endpoint, apiKey: gw.services.openai.key })('gpt-5-mini'),
    // Azure's v1 API (the Responses API by default).
    azure: () => createAzure({ baseURL: `${gw.services.azure.endpoint}/openai/v1`, apiKey: gw.services.azure.key })('gpt-5-mini'),
    // The app's Tokengate key as a Bedrock API key; the proxy signs with SigV4.
    bedrock: () => createAmazonBedrock({ baseURL: gw.services.bedrock.endpoint, region: PROVIDER_SECRETS.awsRegion, apiKey: gw.services.bedrock.key })(BEDROCK_MODEL),
    mistral: () => createMistral({ baseURL: `${gw.services.mistral.endpoint}/v1`, apiKey: gw.services.mistral.key })('mistral-small-latest'),
  };
  it.each([
    ['anthropic', 'generate', 'messages'],
    ['anthropic', 'stream', 'messages'],
    ['openai', 'generate', 'responses'],
    ['openai', 'stream', 'responses'],
    ['azure', 'generate', 'responses'],
    ['azure', 'stream', 'responses'],
    ['bedrock', 'generate', 'converse'],
    ['bedrock', 'stream', 'converse_stream'],
    ['mistral', 'generate', 'chat_completions'],
    ['mistral', 'stream', 'chat_completions'],
  ] as const)('%s, %s: the tool runs between two steps, both charged', async (service, mode, operation) => {
    prepareToolCall(service);
    const cities: string[] = [];
    const tools = {
      get_weather: aiTool({
        description: 'The weather in a city',
        inputSchema: CITY,
        execute: async ({ city }) => {
          cities.push(city);
          return `sunny in ${city}`;
        },
      }),
    };
    let text = '';
    let steps = 0;
    const charged = await meteredMany(gw, service, 2, async () => {
      const options = { model: models[service](), tools, stopWhen: stepCountIs(3), prompt: PROMPT, maxRetries: 0 };
      if (mode === 'generate') {
        const result = await generateText(options);
        text = result.text;
        steps = result.steps.length;
      } else {
        const result = streamText(options);
        text = await result.text;
        steps = (await result.steps).length;
      }
    });
    expect(text).toBe(ANSWER);
    expect(steps).toBe(2);
    expect(cities).toEqual(['Paris']);
    expectToolOutputSent(service, 'sunny in Paris');
    expect(charged).toMatchObject(twoTurns(service, operation));
  });
});

describe('LangChain createAgent (LangGraph)', () => {
  const models = {
    anthropic: () => new ChatAnthropic({ model: 'claude-sonnet-5-5', apiKey: gw.services.anthropic.key, anthropicApiUrl: gw.services.anthropic.endpoint, maxRetries: 0 }),
    openai: () => new ChatOpenAI({ model: 'gpt-4o-mini', apiKey: gw.services.openai.key, configuration: { baseURL: gw.services.openai.endpoint }, maxRetries: 0 }),
    // ChatOpenAI on the Responses API, as it runs for built-in tools and reasoning models.
    openaiResponses: () => new ChatOpenAI({ model: 'gpt-5-mini', apiKey: gw.services.openai.key, configuration: { baseURL: gw.services.openai.endpoint }, maxRetries: 0, useResponsesApi: true }),
    // A Bedrock client of the app's own, the proxy as its endpoint (endpointHost would mean https://).
    bedrock: () =>
      new ChatBedrockConverse({
        model: BEDROCK_MODEL,
        region: PROVIDER_SECRETS.awsRegion,
        client: new BedrockRuntimeClient({ endpoint: gw.services.bedrock.endpoint, region: PROVIDER_SECRETS.awsRegion, token: { token: gw.services.bedrock.key }, authSchemePreference: ['httpBearerAuth'], maxAttempts: 1 }),
      }),
  };
  it.each([
    ['anthropic', 'anthropic', 'messages'],
    ['openai', 'openai', 'chat_completions'],
    ['openaiResponses', 'openai', 'responses'],
    ['bedrock', 'bedrock', 'converse'],
  ] as const)('%s: the agent calls the tool, then answers; both model calls charged', async (chat, service, operation) => {
    prepareToolCall(service);
    const cities: string[] = [];
    const getWeather = langChainTool(
      async ({ city }: { city: string }) => {
        cities.push(city);
        return `sunny in ${city}`;
      },
      { name: 'get_weather', description: 'The weather in a city', schema: CITY },
    );
    let answer: unknown;
    const model = models[chat]();
    const charged = await meteredMany(gw, service, 2, async () => {
      const agent = createAgent({ model, tools: [getWeather] });
      const result = await agent.invoke({ messages: [{ role: 'user', content: PROMPT }] });
      answer = result.messages.at(-1)?.text;
    });
    if (model instanceof ChatBedrockConverse) model.client.destroy(); // its HTTP/2 session to the proxy
    expect(answer).toBe(ANSWER);
    expect(cities).toEqual(['Paris']);
    expectToolOutputSent(service, 'sunny in Paris');
    expect(charged).toMatchObject(twoTurns(service, operation));
  });
});
