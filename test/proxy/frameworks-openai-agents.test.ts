// The OpenAI Agents SDK (@openai/agents) through the proxy: an agent given the proxy's client runs its
// loop unchanged (the model calls a function tool, the SDK runs it and sends its output back, the model
// answers), on the Responses API (its default) and on Chat Completions, streamed and not; every turn
// is charged what the provider reported for it. The SDK's trace export goes to api.openai.com itself,
// not through the client: it is disabled here, as an app behind a gateway would (README).
import { Agent, OpenAIProvider, Runner, setTracingDisabled } from '@openai/agents';
import OpenAI, { AzureOpenAI } from 'openai';
import { WEATHER_CALL, weatherTool } from '../support/agent-tools';
import { BILLED, PROMPT, prepare } from '../support/framework-calls';
import { type Gateway, PROVIDER_SECRETS, registerServiceWithConnection, startGateway } from '../support/gateway-harness';
import { meteredMany, usageRows } from '../support/usage-report';
import { waitFor } from '../support/wait';

let gw: Gateway;

beforeAll(async () => {
  setTracingDisabled(true);
  gw = await startGateway({ rateLimiting: { usageReportIntervalMs: 100 } });
});
afterAll(async () => {
  await gw?.stop();
});

/** An agent with one function tool, and the cities it was called for. */
function weatherAgent(): { agent: Agent; cities: string[] } {
  const { tool: getWeather, cities } = weatherTool();
  return { agent: new Agent({ name: 'Forecaster', instructions: 'Answer with the weather.', model: 'gpt-5-mini', tools: [getWeather] }), cities };
}

function runner(api: 'responses' | 'chat_completions', service: { endpoint: string; key: string } = gw.services.openai): Runner {
  const client = new OpenAI({ baseURL: service.endpoint, apiKey: service.key, maxRetries: 0 });
  return new Runner({ modelProvider: new OpenAIProvider({ openAIClient: client, useResponses: api === 'responses' }), tracingDisabled: true });
}

describe('OpenAI Agents SDK (@openai/agents)', () => {
  it.each([
    ['responses', false],
    ['responses', true],
    ['chat_completions', false],
    ['chat_completions', true],
  ] as const)('on %s (streamed: %s), a tool-calling run is charged both of its model turns as reported', async (api, stream) => {
    prepare(gw.fakes.openai);
    gw.fakes.openai.behaviour.toolCall = WEATHER_CALL;
    const { agent, cities } = weatherAgent();
    let output: unknown;
    const charged = await meteredMany(gw, 'openai', 2, async () => {
      if (!stream) {
        output = (await runner(api).run(agent, PROMPT)).finalOutput;
        return;
      }
      const result = await runner(api).run(agent, PROMPT, { stream: true });
      let text = '';
      for await (const chunk of result.toTextStream()) text += chunk;
      await result.completed;
      expect(text).toBe(result.finalOutput);
      output = result.finalOutput;
    });
    expect(output).toBe('Hello from the fake');
    expect(cities).toEqual(['Paris']);
    // The second turn carried the tool's output back to the model, through the proxy.
    const [first, second] = gw.fakes.openai.received;
    expect(first.path).toBe(api === 'responses' ? '/v1/responses' : '/v1/chat/completions');
    expect(JSON.stringify(second.json)).toContain('sunny in Paris');
    expect(first.headers.authorization).not.toContain(gw.services.openai.key);
    expect(charged).toMatchObject({
      operations: [api],
      requests: 2,
      promptTokens: 2 * BILLED.prompt,
      completionTokens: 2 * BILLED.completion,
      cachedPromptReadTokens: 2 * BILLED.cachedRead,
      reasoningTokens: 2 * BILLED.reasoning,
      errors4xx: 0,
      errors5xx: 0,
    });
  });

  // Azure serves Chat Completions under a deployment's path and the Responses API beside them
  // (`/openai/responses`, the deployment named as the model): a client of a deployment is for the former.
  it.each(['responses', 'chat_completions'] as const)('on Azure OpenAI (an AzureOpenAI client), %s: the loop runs and both turns are charged', async (api) => {
    prepare(gw.fakes.azure);
    gw.fakes.azure.behaviour.toolCall = WEATHER_CALL;
    const { agent, cities } = weatherAgent();
    const client = new AzureOpenAI({ endpoint: gw.services.azure.endpoint, apiKey: gw.services.azure.key, apiVersion: '2025-03-01-preview', ...(api === 'responses' ? {} : { deployment: 'gpt-5-mini' }), maxRetries: 0 });
    const azureRunner = new Runner({ modelProvider: new OpenAIProvider({ openAIClient: client, useResponses: api === 'responses' }), tracingDisabled: true });
    let output: unknown;
    const charged = await meteredMany(gw, 'azure', 2, async () => {
      output = (await azureRunner.run(agent, PROMPT)).finalOutput;
    });
    expect(output).toBe('Hello from the fake');
    expect(cities).toEqual(['Paris']);
    const [first, second] = gw.fakes.azure.received;
    expect(first.url).toBe(api === 'responses' ? '/openai/responses?api-version=2025-03-01-preview' : '/openai/deployments/gpt-5-mini/chat/completions?api-version=2025-03-01-preview');
    expect(first.headers['api-key']).toBe(PROVIDER_SECRETS.azure);
    expect(JSON.stringify(second.json)).toContain('sunny in Paris');
    expect(charged).toMatchObject({ operations: [api], requests: 2, promptTokens: 2 * BILLED.prompt, completionTokens: 2 * BILLED.completion, errors4xx: 0, errors5xx: 0 });
  });

  it('a provider error ends the run with the SDK\'s usual exception, and is metered as an error', async () => {
    prepare(gw.fakes.openai);
    gw.fakes.openai.behaviour.status = 429;
    gw.fakes.openai.behaviour.errorType = 'rate_limit_exceeded';
    const { agent } = weatherAgent();
    let error: unknown;
    const charged = await meteredMany(gw, 'openai', 1, async () => {
      error = await runner('responses')
        .run(agent, PROMPT)
        .then(() => null, (thrown: unknown) => thrown);
    });
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(charged).toMatchObject({ requests: 1, promptTokens: 0, completionTokens: 0, errors4xx: 1 });
  });

  it.each(['responses', 'chat_completions'] as const)('on %s, a service whose budget is smaller than the requests\' bytes admits both turns on their exact prompt count (tool definitions, the call and its output counted)', async (api) => {
    // 300 prompt tokens a day: each request's body is longer than that in bytes, so its upper bound
    // does not fit and the proxy counts its prompt with the model's tokenizer before admitting it.
    const service = await registerServiceWithConnection(gw, {
      provider: 'OPENAI',
      name: `Agents budget ${api}`,
      contextPath: `/agents-budget-${api.replace('_', '-')}`,
      serviceUrl: `${gw.fakes.openai.url}/v1`,
      backendSecurity: { value: PROVIDER_SECRETS.openai },
      rateLimit: { timeUnit: 'DAY', maxPromptTokens: 300 },
    });
    prepare(gw.fakes.openai, { prompt: 40, completion: 9 });
    gw.fakes.openai.behaviour.toolCall = WEATHER_CALL;
    const { agent, cities } = weatherAgent();
    const result = await runner(api, { endpoint: `${gw.proxy.url}/acme/agents-budget-${api.replace('_', '-')}`, key: service.key }).run(agent, PROMPT);
    expect(result.finalOutput).toBe('Hello from the fake');
    expect(cities).toEqual(['Paris']);
    const bodies = gw.fakes.openai.received.map((request) => request.rawBody.length);
    expect(bodies).toHaveLength(2);
    for (const bytes of bodies) expect(bytes).toBeGreaterThan(300);
    const rows = await waitFor(async () => {
      const found = await usageRows(gw, service.connectionId);
      return found.reduce((sum, row) => sum + row.requests, 0) === 2 && found;
    }, 'the usage of the two turns');
    expect(rows).toEqual([expect.objectContaining({ operation: api, requests: 2, promptTokens: 80, completionTokens: 18, errors4xx: 0 })]);
  });
});
