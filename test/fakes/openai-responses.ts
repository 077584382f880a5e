// OpenAI's Responses API (POST /v1/responses) for the fake OpenAI upstream: the documented
// Response object, and the documented stream of semantic events (response.created ...
// response.completed), whose last event carries the usage. No `[DONE]` ends these streams.
// Background responses (`background: true`) are kept, as OpenAI keeps them: retrieved with
// `GET /v1/responses/{id}` (queued, in progress, then completed with its usage) and their stream
// resumed with `GET /v1/responses/{id}?stream=true&starting_after={sequence_number}`.
import responseExample from '../fixtures/providers/openai/response.json';
import { type FunctionCall, argumentPieces } from './tool-calls';
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

/** A `function_call` output item (its id shares the message's: one or the other is output). */
function functionCallItem(ids: ResponseIds, call: FunctionCall, status: 'in_progress' | 'completed'): object {
  return { id: ids.message.replace(/^msg_/, 'fc_'), type: 'function_call', status, arguments: status === 'completed' ? call.arguments : '', call_id: call.callId, name: call.name };
}

/**
 * The output items: a reasoning item first when the fake reports reasoning tokens, then the message,
 * or the function call when the model calls a tool.
 */
function outputItems(behaviour: FakeBehaviour, ids: ResponseIds, call: FunctionCall | null = null): object[] {
  const message = call !== null ? functionCallItem(ids, call, 'completed') : { id: ids.message, type: 'message', status: 'completed', content: [outputText(behaviour.content)], role: 'assistant' };
  return (behaviour.usage.reasoning ?? 0) > 0 ? [{ id: ids.reasoning, type: 'reasoning', summary: [] }, message] : [message];
}

/** `background` is named only when true: the documented examples (the fixtures) predate the member. */
function responseObject(model: string, ids: ResponseIds, status: string, output: object[], usage: OpenAIResponseUsage | null, background = false): object {
  return { ...responseExample, id: ids.response, created_at: nowSeconds(), status, ...(background ? { background } : {}), model, output, usage };
}

/** A completed Response, as `POST /v1/responses` answers without `stream`. */
export function openAIResponse(behaviour: FakeBehaviour, model: string, call: FunctionCall | null = null): object {
  const ids = newIds();
  return responseObject(model, ids, 'completed', outputItems(behaviour, ids, call), openAIResponseUsage(behaviour));
}

/**
 * The SSE events of a streamed Response (each with `event:` and a `sequence_number` from 0):
 * response.created and response.in_progress (usage null); for reasoning, its item added and done;
 * the message item added, its output_text part added, one response.output_text.delta per word,
 * output_text done, part done, item done; response.completed with the output and the usage. A tool
 * call streams its function_call item instead: added, its arguments in pieces, arguments done, item done.
 */
export function openAIResponseStream(behaviour: FakeBehaviour, model: string, call: FunctionCall | null = null): string[] {
  return responseEvents(behaviour, model, newIds(), false, call).map(sseEvent);
}

/** One Responses API event as OpenAI streams it: named after its type. */
function sseEvent(event: object): string {
  return sse(event, (event as { type: string }).type);
}

/**
 * The events of a Response, each with its `sequence_number` from 0. A background response opens
 * with response.created and response.queued (status queued), then goes on like any other.
 */
function responseEvents(behaviour: FakeBehaviour, model: string, ids: ResponseIds, background: boolean, call: FunctionCall | null = null): object[] {
  const queued = responseObject(model, ids, 'queued', [], null, background);
  const inProgress = responseObject(model, ids, 'in_progress', [], null, background);
  const items = outputItems(behaviour, ids, call);
  const messageIndex = items.length - 1;
  const message = { item_id: ids.message, output_index: messageIndex, content_index: 0 };
  const events: object[] = background
    ? [
        { type: 'response.created', response: queued },
        { type: 'response.queued', response: queued },
        { type: 'response.in_progress', response: inProgress },
      ]
    : [
        { type: 'response.created', response: inProgress },
        { type: 'response.in_progress', response: inProgress },
      ];
  if (messageIndex > 0) {
    events.push({ type: 'response.output_item.added', output_index: 0, item: items[0] });
    events.push({ type: 'response.output_item.done', output_index: 0, item: items[0] });
  }
  if (call !== null) {
    const item = { item_id: (items[messageIndex] as { id: string }).id, output_index: messageIndex };
    events.push(
      { type: 'response.output_item.added', output_index: messageIndex, item: functionCallItem(ids, call, 'in_progress') },
      ...argumentPieces(call.arguments).map((delta) => ({ type: 'response.function_call_arguments.delta', ...item, delta })),
      { type: 'response.function_call_arguments.done', ...item, name: call.name, arguments: call.arguments },
    );
  } else {
    events.push(
      { type: 'response.output_item.added', output_index: messageIndex, item: { id: ids.message, type: 'message', status: 'in_progress', content: [], role: 'assistant' } },
      { type: 'response.content_part.added', ...message, part: outputText('') },
      ...splitWords(behaviour.content).map((delta) => ({ type: 'response.output_text.delta', ...message, delta, logprobs: [] })),
      { type: 'response.output_text.done', ...message, text: behaviour.content, logprobs: [] },
      { type: 'response.content_part.done', ...message, part: outputText(behaviour.content) },
    );
  }
  events.push(
    { type: 'response.output_item.done', output_index: messageIndex, item: items[messageIndex] },
    { type: 'response.completed', response: { ...inProgress, status: 'completed', output: items, usage: openAIResponseUsage(behaviour) } },
  );
  return events.map((event, sequence) => ({ ...event, sequence_number: sequence }));
}

interface BackgroundResponse {
  /** The stream's events, all of them: the fake generates a background response at once. */
  events: object[];
  queued: object;
  inProgress: object;
  completed: object;
  /** Retrievals still to find it in progress; the later ones find it completed. */
  pollsInProgress: number;
}

/**
 * The background responses one fake has created, by id. A retrieval (`GET /v1/responses/{id}`) of one
 * created without `stream` finds it in progress the first time, completed (with its usage) from then
 * on; one created streamed is generated as fast as the fake streams, so it is found completed. Its
 * stream can be read again from any point, as OpenAI keeps a background response's events.
 */
export class BackgroundResponses {
  private readonly responses = new Map<string, BackgroundResponse>();

  /** `POST /v1/responses` with `background: true`: the queued Response (JSON), or the events of its stream. */
  create(behaviour: FakeBehaviour, model: string, streamed: boolean): { queued: object; events: string[] } {
    const ids = newIds();
    const events = responseEvents(behaviour, model, ids, true);
    const completed = (events[events.length - 1] as { response: object }).response;
    const stored = {
      events,
      queued: responseObject(model, ids, 'queued', [], null, true),
      inProgress: responseObject(model, ids, 'in_progress', [], null, true),
      completed,
      pollsInProgress: streamed ? 0 : 1,
    };
    this.responses.set(ids.response, stored);
    return { queued: stored.queued, events: events.map(sseEvent) };
  }

  /** The Response as `GET /v1/responses/{id}` answers it now, or null for an unknown id. */
  retrieve(id: string): object | null {
    const stored = this.responses.get(id);
    if (stored === undefined) return null;
    if (stored.pollsInProgress === 0) return stored.completed;
    stored.pollsInProgress--;
    return stored.inProgress;
  }

  /** The events after `startingAfter` (all of them without it), or null for an unknown id. */
  resume(id: string, startingAfter: number | undefined): string[] | null {
    const stored = this.responses.get(id);
    if (stored === undefined) return null;
    return stored.events.slice(startingAfter === undefined ? 0 : startingAfter + 1).map(sseEvent);
  }
}
