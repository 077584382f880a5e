// A model that calls a function tool, for the OpenAI-style fakes (Responses and Chat Completions):
// `behaviour.toolCall` names the tool and its arguments; the model calls it when the request offers it
// and holds no tool output yet, as an agent loop's first turn meets a real model that decides to.
import { type FakeBehaviour, field, randomId } from './recorder';

export interface FunctionCall {
  readonly name: string;
  readonly arguments: string;
  /** `call_…`: what the tool's output names when the app sends it back. */
  readonly callId: string;
}

/**
 * The call the model makes for this request, or null when it answers with text: no `toolCall` set,
 * the tool not offered, or its output already in the input (Responses: a `function_call_output`
 * item; Chat Completions: a `tool` message).
 */
export function pendingToolCall(behaviour: FakeBehaviour, body: unknown, api: 'responses' | 'chat'): FunctionCall | null {
  const wanted = behaviour.toolCall;
  if (wanted === undefined) return null;
  const tools = field(body, 'tools');
  const offered = Array.isArray(tools) && tools.some((tool) => field(tool, 'type') === 'function' && (api === 'responses' ? field(tool, 'name') : field(field(tool, 'function'), 'name')) === wanted.name);
  if (!offered) return null;
  const input = field(body, api === 'responses' ? 'input' : 'messages');
  const answered = Array.isArray(input) && input.some((item) => (api === 'responses' ? field(item, 'type') === 'function_call_output' : field(item, 'role') === 'tool'));
  return answered ? null : { name: wanted.name, arguments: wanted.arguments, callId: `call_${randomId(24)}` };
}

/** The arguments in the uneven pieces a model streams them in (a few characters each). */
export function argumentPieces(text: string): string[] {
  const pieces: string[] = [];
  for (let at = 0, size = 3; at < text.length; at += size, size = size === 3 ? 5 : 3) pieces.push(text.slice(at, at + size));
  return pieces;
}
