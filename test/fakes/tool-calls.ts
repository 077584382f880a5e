// A model that calls a function tool, for the fakes of OpenAI (Responses, Chat Completions), Anthropic
// (Messages, and InvokeModel of Claude on Bedrock) and Bedrock (Converse): `behaviour.toolCall` names the tool and its arguments; the model calls it when
// the request offers it and holds no tool output yet, as an agent loop's first turn meets a real model
// that decides to.
import { type FakeBehaviour, field, randomId } from './recorder';

export interface FunctionCall {
  readonly name: string;
  /** The arguments as JSON text (Anthropic sends them as the object this text holds). */
  readonly arguments: string;
  /** `call_…` (`toolu_…` for Anthropic, `tooluse_…` for Converse): what the tool's output names when the app sends it back. */
  readonly callId: string;
}

type ToolApi = 'responses' | 'chat' | 'anthropic' | 'converse';

/** A message whose content blocks include a tool's output. */
const holdsBlock = (test: (block: unknown) => boolean) => (message: unknown): boolean => {
  const content = field(message, 'content');
  return Array.isArray(content) && content.some(test);
};

/** Per API: the tools offered, an offered tool's name, whether an input item is a tool's output, where the input is, the call ids' prefix. */
const TOOL_APIS: Record<ToolApi, { tools(body: unknown): unknown; toolName(tool: unknown): unknown; isOutput(item: unknown): boolean; input: string; idPrefix: string }> = {
  responses: { tools: (body) => field(body, 'tools'), toolName: (tool) => field(tool, 'type') === 'function' && field(tool, 'name'), isOutput: (item) => field(item, 'type') === 'function_call_output', input: 'input', idPrefix: 'call_' },
  chat: { tools: (body) => field(body, 'tools'), toolName: (tool) => field(tool, 'type') === 'function' && field(field(tool, 'function'), 'name'), isOutput: (item) => field(item, 'role') === 'tool', input: 'messages', idPrefix: 'call_' },
  anthropic: { tools: (body) => field(body, 'tools'), toolName: (tool) => field(tool, 'name'), isOutput: holdsBlock((block) => field(block, 'type') === 'tool_result'), input: 'messages', idPrefix: 'toolu_01' },
  converse: { tools: (body) => field(field(body, 'toolConfig'), 'tools'), toolName: (tool) => field(field(tool, 'toolSpec'), 'name'), isOutput: holdsBlock((block) => field(block, 'toolResult') !== undefined), input: 'messages', idPrefix: 'tooluse_' },
};

/**
 * The call the model makes for this request, or null when it answers with text: no `toolCall` set,
 * the tool not offered, or its output already in the input (Responses: a `function_call_output`
 * item; Chat Completions: a `tool` message; Anthropic: a `tool_result` block; Converse: a `toolResult` block).
 */
export function pendingToolCall(behaviour: FakeBehaviour, body: unknown, api: ToolApi): FunctionCall | null {
  const wanted = behaviour.toolCall;
  if (wanted === undefined) return null;
  const { tools: offered, toolName, isOutput, input, idPrefix } = TOOL_APIS[api];
  const tools = offered(body);
  if (!Array.isArray(tools) || !tools.some((tool) => toolName(tool) === wanted.name)) return null;
  const items = field(body, input);
  if (Array.isArray(items) && items.some(isOutput)) return null;
  return { name: wanted.name, arguments: wanted.arguments, callId: `${idPrefix}${randomId(24)}` };
}

/** The arguments in the uneven pieces a model streams them in (a few characters each). */
export function argumentPieces(text: string): string[] {
  const pieces: string[] = [];
  for (let at = 0, size = 3; at < text.length; at += size, size = size === 3 ? 5 : 3) pieces.push(text.slice(at, at + size));
  return pieces;
}
