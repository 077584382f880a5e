// Stream cut-off for OpenAI Responses API streams (`response.*` events): a stream ended by the proxy
// closes as one that reached max_output_tokens — the open content parts and output items are finished
// (their `.done` events, items with `status: "incomplete"` and the text streamed so far), then
// `response.incomplete` with `incomplete_details.reason: "max_output_tokens"`, the output and the usage.
import type { CutoffStreamReader, CutoffTokens } from '../stream-cutoff';
import { type JsonObject, isJsonObject, parseJsonObject, stringMember, tokenCount } from './json-values';
import { responsesEventText } from './openai-compatible-usage';
import { SseFramer, sseEvent, sseFields } from './sse-frames';

/** A content part of a message item (output_text or refusal), with the text streamed into it. */
interface PartState {
  part: JsonObject;
  readonly text: string[];
  done: boolean;
}

/** An output item as added (or, once done, as the API finished it), with what streamed into it. */
interface ItemState {
  item: JsonObject;
  done: boolean;
  readonly parts: Map<number, PartState>;
  /** function_call arguments streamed. */
  readonly arguments: string[];
}

const LIFECYCLE_EVENTS: ReadonlySet<string> = new Set(['response.created', 'response.queued', 'response.in_progress']);

export class ResponsesCutoffReader implements CutoffStreamReader {
  readonly framer = new SseFramer();
  readonly needsPromptTokens = true;
  /** The event last read, until accepted. */
  private last: JsonObject | null = null;
  /** The response object of the last lifecycle event: the closing one is built from it. */
  private response: JsonObject | null = null;
  private readonly items = new Map<number, ItemState>();
  private sequence = -1;

  read(frame: Buffer): string {
    this.last = null;
    const fields = sseFields(frame);
    const event = fields === null ? null : parseJsonObject(fields.data);
    if (event === null) return '';
    this.last = event;
    return responsesEventText(event);
  }

  accept(): void {
    const event = this.last;
    if (event === null) return;
    this.sequence = Math.max(this.sequence, tokenCount(event.sequence_number) ?? this.sequence);
    const type = stringMember(event, 'type') ?? '';
    if (LIFECYCLE_EVENTS.has(type)) {
      if (isJsonObject(event.response)) this.response = event.response;
      return;
    }
    const index = tokenCount(event.output_index);
    if (index === null) return;
    if (type === 'response.output_item.added' || type === 'response.output_item.done') {
      if (!isJsonObject(event.item)) return;
      const state = this.items.get(index);
      if (state === undefined) this.items.set(index, { item: event.item, done: type.endsWith('.done'), parts: new Map(), arguments: [] });
      else {
        state.item = event.item;
        state.done = type.endsWith('.done');
      }
      return;
    }
    const item = this.items.get(index);
    if (item === undefined) return;
    const contentIndex = tokenCount(event.content_index);
    const delta = typeof event.delta === 'string' ? event.delta : '';
    switch (type) {
      case 'response.content_part.added':
      case 'response.content_part.done':
        if (contentIndex !== null && isJsonObject(event.part)) {
          const part = item.parts.get(contentIndex);
          if (part === undefined) item.parts.set(contentIndex, { part: event.part, text: [], done: type.endsWith('.done') });
          else {
            part.part = event.part;
            part.done = type.endsWith('.done');
          }
        }
        break;
      case 'response.output_text.delta':
      case 'response.refusal.delta':
        if (contentIndex !== null) item.parts.get(contentIndex)?.text.push(delta);
        break;
      case 'response.function_call_arguments.delta':
        item.arguments.push(delta);
        break;
      default:
        break;
    }
  }

  closing(tokens: CutoffTokens): Buffer {
    let text = '';
    const emit = (event: Record<string, unknown>): void => {
      this.sequence += 1;
      text += sseEvent({ ...event, sequence_number: this.sequence }, event.type as string);
    };
    const output: JsonObject[] = [];
    for (const index of [...this.items.keys()].sort((a, b) => a - b)) {
      const state = this.items.get(index) as ItemState;
      output.push(state.done ? state.item : this.finishItem(index, state, emit));
    }
    const usage =
      tokens.promptTokens === null
        ? null
        : {
            input_tokens: tokens.promptTokens,
            input_tokens_details: { cached_tokens: 0 },
            output_tokens: tokens.completionTokens,
            output_tokens_details: { reasoning_tokens: 0 },
            total_tokens: tokens.promptTokens + tokens.completionTokens,
          };
    const response = { ...(this.response ?? { object: 'response' }), status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, output, usage };
    emit({ type: 'response.incomplete', response });
    return Buffer.from(text, 'utf8');
  }

  /** Emits the `.done` events of an item still open (its parts first) and returns it as finished. */
  private finishItem(index: number, state: ItemState, emit: (event: Record<string, unknown>) => void): JsonObject {
    const itemId = stringMember(state.item, 'id') ?? '';
    const item: Record<string, unknown> = { ...state.item, status: 'incomplete' };
    if (state.item.type === 'message') {
      const content: JsonObject[] = [];
      for (const contentIndex of [...state.parts.keys()].sort((a, b) => a - b)) {
        const part = state.parts.get(contentIndex) as PartState;
        if (part.done) {
          content.push(part.part);
          continue;
        }
        const streamed = part.text.join('');
        const refusal = part.part.type === 'refusal';
        const finished = refusal ? { ...part.part, refusal: streamed } : { ...part.part, text: streamed };
        const at = { item_id: itemId, output_index: index, content_index: contentIndex };
        if (refusal) emit({ type: 'response.refusal.done', ...at, refusal: streamed });
        else if (part.part.type === 'output_text') emit({ type: 'response.output_text.done', ...at, text: streamed, logprobs: [] });
        emit({ type: 'response.content_part.done', ...at, part: finished });
        content.push(finished);
      }
      item.content = content;
    } else if (state.item.type === 'function_call') {
      const args = state.arguments.join('');
      emit({ type: 'response.function_call_arguments.done', item_id: itemId, output_index: index, arguments: args });
      item.arguments = args;
    }
    emit({ type: 'response.output_item.done', output_index: index, item });
    return item;
  }
}

