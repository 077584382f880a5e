// The call the fakes' models make in the agent tests (`behaviour.toolCall`), and the tool it calls as
// the OpenAI Agents SDK defines it (text and voice agents).
import { tool } from '@openai/agents';
import { z } from 'zod';

export const WEATHER_CALL = { name: 'get_weather', arguments: '{"city":"Paris"}' };

/** `get_weather` as an Agents SDK tool, and the cities it was run for. */
export function weatherTool() {
  const cities: string[] = [];
  const getWeather = tool({
    name: WEATHER_CALL.name,
    description: 'The weather in a city',
    parameters: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      cities.push(city);
      return `sunny in ${city}`;
    },
  });
  return { tool: getWeather, cities };
}
