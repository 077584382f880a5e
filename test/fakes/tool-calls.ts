// A model that calls a function tool, for the fakes of OpenAI (Responses, Chat Completions), Azure
// OpenAI, Mistral, Anthropic (Messages, and InvokeModel of Claude on Bedrock) and Bedrock (Converse):
// `behaviour.toolCall` names the tool and its arguments; the model calls it when the request offers it
// and holds no tool output yet, as an agent loop's first turn meets a real model that decides to.
import { type FakeBehaviour, field, randomId } from './recorder';

export interface FunctionCall {
  readonly name: string;
  /** The arguments as JSON text (Anthropic and Converse send the object this text holds). */
  readonly arguments: string;
  /** The provider's id of the call (`call_…`, `toolu_…`, `tooluse_…`): what the tool's output names when the app sends it back. */
  readonly callId: string;
}

type ToolApi = 'responses' | 'chat' | 'mistral' | 'anthropic' | 'converse';

/** A message whose content blocks include a tool's output. */
const holdsBlock = (test: (block: unknown) => boolean) => (message: unknown): boolean => {
  const content = field(message, 'content');
  return Array.isArray(content) && content.some(test);
};

interface ToolApiShape {
  /** The tools the request offers. */
  tools(body: unknown): unknown;
  /** An offered tool's name. */
  toolName(tool: unknown): unknown;
  /** Whether an input item is a tool's output. */
  isOutput(item: unknown): boolean;
  /** Where the input items are. */
  input: string;
  /** A call id as the provider makes them. */
  newId(): string;
}

const CHAT: ToolApiShape = { tools: (body) => field(body, 'tools'), toolName: (tool) => field(tool, 'type') === 'function' && field(field(tool, 'function'), 'name'), isOutput: (item) => field(item, 'role') === 'tool', input: 'messages', newId: () => `call_${randomId(24)}` };

const TOOL_APIS: Record<ToolApi, ToolApiShape> = {
  responses: { tools: (body) => field(body, 'tools'), toolName: (tool) => field(tool, 'type') === 'function' && field(tool, 'name'), isOutput: (item) => field(item, 'type') === 'function_call_output', input: 'input', newId: () => `call_${randomId(24)}` },
  chat: CHAT,
  // Mistral's chat shape, with its nine-character call ids.
  mistral: { ...CHAT, newId: () => randomId(9) },
  anthropic: { tools: (body) => field(body, 'tools'), toolName: (tool) => field(tool, 'name'), isOutput: holdsBlock((block) => field(block, 'type') === 'tool_result'), input: 'messages', newId: () => `toolu_01${randomId(22)}` },
  converse: { tools: (body) => field(field(body, 'toolConfig'), 'tools'), toolName: (tool) => field(field(tool, 'toolSpec'), 'name'), isOutput: holdsBlock((block) => field(block, 'toolResult') !== undefined), input: 'messages', newId: () => `tooluse_${randomId(22)}` },
};

/**
 * The call the model makes for this request, or null when it answers with text: no `toolCall` set,
 * the tool not offered, or its output already in the input (Responses: a `function_call_output`
 * item; Chat Completions: a `tool` message; Anthropic: a `tool_result` block; Converse: a `toolResult` block).
 */
export function pendingToolCall(behaviour: FakeBehaviour, body: unknown, api: ToolApi): FunctionCall | null {
  const wanted = behaviour.toolCall;
  if (wanted === undefined) return null;
  const { tools: offered, toolName, isOutput, input, newId } = TOOL_APIS[api];
  const tools = offered(body);
  if (!Array.isArray(tools) || !tools.some((tool) => toolName(tool) === wanted.name)) return null;
  const items = field(body, input);
  if (Array.isArray(items) && items.some(isOutput)) return null;
  return { name: wanted.name, arguments: wanted.arguments, callId: newId() };
}

/**
 * The arguments in the pieces a model streams them in: about a token each (a word with its leading
 * space, or a run of punctuation), as OpenAI's deltas carry them; `perDelta` of those together, as
 * Anthropic's and Bedrock's larger deltas do.
 */
export function argumentPieces(text: string, perDelta = 1): string[] {
  const tokens = text.match(/\s*[A-Za-z0-9_]+|\s*[^A-Za-z0-9_\s]+|\s+$/g) ?? [];
  const pieces: string[] = [];
  for (let at = 0; at < tokens.length; at += perDelta) pieces.push(tokens.slice(at, at + perDelta).join(''));
  return pieces;
}
