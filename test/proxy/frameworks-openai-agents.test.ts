// The OpenAI Agents SDK (@openai/agents) through the proxy: an agent given the proxy's client runs its
// loop unchanged (the model calls a function tool, the SDK runs it and sends its output back, the model
// answers), on the Responses API (its default) and on Chat Completions, streamed and not; every turn
// is charged what the provider reported for it. The SDK's trace export goes to api.openai.com itself,
// not through the client: it is disabled here, as an app behind a gateway would (README).
import { Agent, OpenAIProvider, Runner, setTracingDisabled, tool } from '@openai/agents';
import OpenAI from 'openai';
import { z } from 'zod';
import { BILLED, PROMPT, prepare } from '../support/framework-calls';
import { type Gateway, startGateway } from '../support/gateway-harness';
import { meteredMany } from '../support/usage-report';

let gw: Gateway;

beforeAll(async () => {
  setTracingDisabled(true);
  gw = await startGateway({ rateLimiting: { usageReportIntervalMs: 100 } });
});
afterAll(async () => {
  await gw?.stop();
});

const WEATHER_CALL = { name: 'get_weather', arguments: '{"city":"Paris"}' };

/** An agent with one function tool, and the cities it was called for. */
function weatherAgent(): { agent: Agent; cities: string[] } {
  const cities: string[] = [];
  const getWeather = tool({
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      cities.push(city);
      return `sunny in ${city}`;
    },
  });
  return { agent: new Agent({ name: 'Forecaster', instructions: 'Answer with the weather.', model: 'gpt-5-mini', tools: [getWeather] }), cities };
}

function runner(api: 'responses' | 'chat_completions'): Runner {
  const client = new OpenAI({ baseURL: gw.services.openai.endpoint, apiKey: gw.services.openai.key, maxRetries: 0 });
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
});
