// OpenAI's Responses API (POST /v1/responses) for the fake OpenAI upstream: the documented
// Response object, and the documented stream of semantic events (response.created ...
// response.completed), whose last event carries the usage. No `[DONE]` ends these streams.
import responseExample from '../fixtures/providers/openai/response.json';
import { type FakeBehaviour, nowSeconds, randomId, splitWords, sse } from './recorder';

export interface OpenAIResponseUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

/** `input_tokens` counts the whole prompt (cache reads included), `output_tokens` includes reasoning. */
export function openAIResponseUsage(behaviour: FakeBehaviour): OpenAIResponseUsage {
  const { prompt, completion, cachedRead = 0, reasoning = 0 } = behaviour.usage;
  return {
    input_tokens: prompt,
    input_tokens_details: { cached_tokens: cachedRead },
    output_tokens: completion,
    output_tokens_details: { reasoning_tokens: reasoning },
    total_tokens: prompt + completion,
  };
}

function hexId(prefix: string): string {
  return `${prefix}_${randomId(48, '0123456789abcdef')}`;
}

interface ResponseIds {
  response: string;
  message: string;
  reasoning: string;
}

function newIds(): ResponseIds {
  return { response: hexId('resp'), message: hexId('msg'), reasoning: hexId('rs') };
}

function outputText(text: string): { type: 'output_text'; annotations: never[]; text: string } {
  return { type: 'output_text', annotations: [], text };
}

/** The output items: a reasoning item first when the fake reports reasoning tokens, then the message. */
function outputItems(behaviour: FakeBehaviour, ids: ResponseIds): object[] {
  const message = { id: ids.message, type: 'message', status: 'completed', content: [outputText(behaviour.content)], role: 'assistant' };
  return (behaviour.usage.reasoning ?? 0) > 0 ? [{ id: ids.reasoning, type: 'reasoning', summary: [] }, message] : [message];
}

function responseObject(model: string, ids: ResponseIds, status: string, output: object[], usage: OpenAIResponseUsage | null): object {
  return { ...responseExample, id: ids.response, created_at: nowSeconds(), status, model, output, usage };
}

/** A completed Response, as `POST /v1/responses` answers without `stream`. */
export function openAIResponse(behaviour: FakeBehaviour, model: string): object {
  const ids = newIds();
  return responseObject(model, ids, 'completed', outputItems(behaviour, ids), openAIResponseUsage(behaviour));
}

/**
 * The SSE events of a streamed Response (each with `event:` and a `sequence_number` from 0):
 * response.created and response.in_progress (usage null); for reasoning, its item added and done;
 * the message item added, its output_text part added, one response.output_text.delta per word,
 * output_text done, part done, item done; response.completed with the output and the usage.
 */
export function openAIResponseStream(behaviour: FakeBehaviour, model: string): string[] {
  const ids = newIds();
  const inProgress = responseObject(model, ids, 'in_progress', [], null);
  const items = outputItems(behaviour, ids);
  const messageIndex = items.length - 1;
  const message = { item_id: ids.message, output_index: messageIndex, content_index: 0 };
  const events: object[] = [
    { type: 'response.created', response: inProgress },
    { type: 'response.in_progress', response: inProgress },
  ];
  if (messageIndex > 0) {
    events.push({ type: 'response.output_item.added', output_index: 0, item: items[0] });
    events.push({ type: 'response.output_item.done', output_index: 0, item: items[0] });
  }
  events.push(
    { type: 'response.output_item.added', output_index: messageIndex, item: { id: ids.message, type: 'message', status: 'in_progress', content: [], role: 'assistant' } },
    { type: 'response.content_part.added', ...message, part: outputText('') },
    ...splitWords(behaviour.content).map((delta) => ({ type: 'response.output_text.delta', ...message, delta, logprobs: [] })),
    { type: 'response.output_text.done', ...message, text: behaviour.content, logprobs: [] },
    { type: 'response.content_part.done', ...message, part: outputText(behaviour.content) },
    { type: 'response.output_item.done', output_index: messageIndex, item: items[messageIndex] },
    { type: 'response.completed', response: { ...inProgress, status: 'completed', output: items, usage: openAIResponseUsage(behaviour) } },
  );
  return events.map((event, sequence) => {
    const { type } = event as { type: string };
    return sse({ ...event, sequence_number: sequence }, type);
  });
}
