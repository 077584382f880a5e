// Prompt counting for the OpenAI wire format (chat completions, embeddings, legacy completions and
// FIM, the Responses API), shared by OpenAI, Azure OpenAI and Mistral; each lists only how it differs.
// The base is plain OpenAI: exact counts with the model's own encoding.
//
// Chat framing follows OpenAI's cookbook "How to count tokens with tiktoken": 3 tokens per message
// (<|start|>{role}\n{content}<|end|>\n), 1 more per `name`, 3 priming the reply
// (<|start|>assistant<|message|>); function definitions follow its num_tokens_for_tools(). Both are
// what the cookbook checked against the API's reported usage (129 / 124 tokens for its example chat,
// 105 / 101 with its example tool, on cl100k_base / o200k_base).
import type { EncodingName } from '../../tokens/encodings';
import { isObject, type JsonObject, type PromptTally } from '../../tokens/prompt-tally';
import type { PromptCounting } from '../prompt-counting';
import { completionLimit } from './json-request-body';
import { stringMember, tokenCount } from './json-values';
import { type OpenAiEndpoint, openAiEndpoint } from './openai-compatible-path';

export const TOKENS_PER_MESSAGE = 3;
export const TOKENS_PER_NAME = 1;
export const REPLY_PRIMING_TOKENS = 3;

/**
 * Turns framed like OpenAI's chat messages (TOKENS_PER_MESSAGE each, REPLY_PRIMING_TOKENS after the
 * last), for formats whose framing is estimated that way (Anthropic Messages, Bedrock Converse): a
 * turn that is not an object counts its strings, `content` counts each turn's content.
 */
export function tallyFramedTurns(tally: PromptTally, messages: readonly unknown[], content: (content: unknown) => void): void {
  for (const message of messages) {
    if (!isObject(message)) {
      tally.strings(message);
      continue;
    }
    tally.fixed(TOKENS_PER_MESSAGE);
    content(message.content);
  }
  tally.fixed(REPLY_PRIMING_TOKENS);
}

/**
 * Images are not fetched or decoded, so their cost is a documented constant. OpenAI: 85 tokens at
 * `detail: "low"`; otherwise 765, a 1024×1024 image at high detail on gpt-4o (85 + 4 tiles × 170).
 * Larger or non-square images cost up to 1,105 (6 tiles) and gpt-4o-mini bills images at a far higher
 * token rate: the usage the provider reports settles the difference.
 */
export const OPENAI_IMAGE_TOKENS = { low: 85, high: 765 } as const;

/** Per-definition constants of the cookbook's num_tokens_for_tools(), by encoding. */
const TOOL_FRAMING: Record<EncodingName, { funcInit: number; propInit: number; propKey: number; enumInit: number; enumItem: number; funcEnd: number }> = {
  o200k_base: { funcInit: 7, propInit: 3, propKey: 3, enumInit: -3, enumItem: 3, funcEnd: 12 },
  cl100k_base: { funcInit: 10, propInit: 3, propKey: 3, enumInit: -3, enumItem: 3, funcEnd: 12 },
};

/** How one chat-completions flavour differs from OpenAI's. */
export interface ChatStyle {
  imageTokens(detail: unknown): number;
  tools(tally: PromptTally, body: JsonObject): void;
}

export function openAiChatStyle(encoding: EncodingName): ChatStyle {
  return {
    imageTokens: (detail) => (detail === 'low' ? OPENAI_IMAGE_TOKENS.low : OPENAI_IMAGE_TOKENS.high),
    tools: (tally, body) => tallyFunctionDefinitions(tally, body, encoding),
  };
}

/**
 * Which tally an OpenAI-style endpoint's body gets: chat messages, embeddings `input`, the `prompt`
 * (+ `suffix`) of legacy completions or of FIM (read alike; FIM has no `best_of`), Responses items.
 */
/** `unmetered`: an endpoint billed in other units than tokens (Mistral OCR): its body counts no tokens. */
export type OpenAiPromptShape = 'chat' | 'embeddings' | 'completions' | 'fim' | 'responses' | 'unmetered';

/** What a provider changes relative to plain OpenAI. */
export interface OpenAiCompatiblePromptDifferences {
  /** The model the path names (Azure's deployment, read as its usage accounting reads it), or null to read body `model`. */
  readonly modelFromPath?: (providerPath: string) => string | null;
  /** Default: the OpenAI model's own encoding (openAiEncoding), which counts it exactly. */
  readonly encoding?: (model: string | null) => EncodingName;
  /** Default 1: the count is exact. */
  readonly estimateFactor?: number;
  /** Default: OpenAI's image estimates and function-definition framing for the encoding. */
  readonly chatStyle?: (encoding: EncodingName) => ChatStyle;
  /** The endpoints counted by their shape; every other path counts all the strings of its body. */
  readonly shapes?: Readonly<Partial<Record<OpenAiEndpoint, OpenAiPromptShape>>>;
}

/** OpenAI: every `…/completions` path that is not chat reads `prompt` (+ `suffix`) and may ask for `best_of` completions. */
const OPENAI_PROMPT_SHAPES: Readonly<Partial<Record<OpenAiEndpoint, OpenAiPromptShape>>> = {
  'chat/completions': 'chat',
  completions: 'completions',
  'agents/completions': 'completions',
  'fim/completions': 'completions',
  responses: 'responses',
  embeddings: 'embeddings',
  ocr: 'unmetered',
};

export function createOpenAiCompatiblePromptCounting(differences: OpenAiCompatiblePromptDifferences): PromptCounting {
  const encoding = differences.encoding ?? openAiEncoding;
  const factor = differences.estimateFactor ?? 1;
  const chatStyle = differences.chatStyle ?? openAiChatStyle;
  const shapes = differences.shapes ?? OPENAI_PROMPT_SHAPES;
  const shapeOf = (providerPath: string): OpenAiPromptShape | undefined => {
    const endpoint = openAiEndpoint(providerPath);
    return endpoint === null ? undefined : shapes[endpoint];
  };
  return {
    requestModel: (providerPath, body) => differences.modelFromPath?.(providerPath) ?? stringMember(body, 'model'),
    encoding,
    estimateFactor: () => factor,
    tally(tally, providerPath, body, model) {
      switch (shapeOf(providerPath)) {
        case 'chat':
          tallyChatCompletion(tally, body, chatStyle(encoding(model)));
          break;
        case 'embeddings':
          tallyTextInputs(tally, body.input);
          break;
        case 'completions':
        case 'fim':
          tallyTextInputs(tally, body.prompt);
          tally.text(body.suffix);
          break;
        case 'responses':
          tallyResponses(tally, body, encoding(model));
          break;
        case 'unmetered':
          break;
        default:
          tally.strings(body);
      }
    },
    expectedCompletionTokens(providerPath, body) {
      const shape = shapeOf(providerPath);
      if (shape === 'embeddings' || shape === 'unmetered') return 0;
      const limit = completionLimit(body, ['max_completion_tokens', 'max_tokens', 'max_output_tokens']);
      if (limit === null) return null;
      // n choices; legacy completions generate best_of candidates server-side.
      const completions = Math.max(1, tokenCount(body.n) ?? 1, shape === 'completions' ? (tokenCount(body.best_of) ?? 1) : 1);
      return Math.min(limit * completions, Number.MAX_SAFE_INTEGER);
    },
  };
}

/**
 * cl100k_base for GPT-4 (not 4o/4.1/4.5), GPT-3.5, text-embedding-3-*, text-embedding-ada-002 and
 * davinci-002/babbage-002 (as tiktoken maps them); o200k_base for everything else: gpt-4o*, gpt-4.1*,
 * gpt-4.5*, gpt-5*, o1*, o3*, o4*, chatgpt-4o*, gpt-oss*, and ids we do not know (new models use it).
 * Fine-tuned ids (`ft:gpt-4o-mini:org::id`) count as their base model. Azure deployment names are
 * free-form: named after the model (the usual practice) they resolve like it, otherwise o200k_base.
 */
export function openAiEncoding(model: string | null): EncodingName {
  if (model === null) return 'o200k_base';
  let id = model.trim().toLowerCase();
  if (id.startsWith('ft:')) id = id.slice(3).split(':')[0] ?? '';
  id = id.slice(id.lastIndexOf('/') + 1);
  if (/^gpt-?4(?:-(?!o)|$)/.test(id)) return 'cl100k_base';
  if (/^gpt-?3\.?5/.test(id)) return 'cl100k_base';
  if (/^text-embedding-(?:3|ada-002)/.test(id)) return 'cl100k_base';
  if (id === 'davinci-002' || id === 'babbage-002') return 'cl100k_base';
  return 'o200k_base';
}

/** Chat completions: messages, tool/function definitions, a JSON-schema response format, reply priming. */
export function tallyChatCompletion(tally: PromptTally, body: JsonObject, style: ChatStyle): void {
  if (Array.isArray(body.messages)) {
    for (const message of body.messages) tallyChatMessage(tally, message, style);
    tally.fixed(REPLY_PRIMING_TOKENS);
  }
  style.tools(tally, body);
  if (isObject(body.response_format) && body.response_format.type === 'json_schema') tallyJsonSchema(tally, body.response_format.json_schema);
}

/**
 * The cookbook counts every string value of a message; this counts the ones the model reads (role,
 * name, content, refusal, tool calls) and skips ids (`tool_call_id`) and references, which the
 * provider's prompt rendering does not show as text.
 */
function tallyChatMessage(tally: PromptTally, message: unknown, style: ChatStyle): void {
  if (!isObject(message)) {
    tally.strings(message);
    return;
  }
  tally.fixed(TOKENS_PER_MESSAGE);
  for (const [key, value] of Object.entries(message)) {
    switch (key) {
      case 'role':
      case 'refusal':
        tally.text(value);
        break;
      case 'name':
        if (typeof value === 'string') {
          tally.text(value);
          tally.fixed(TOKENS_PER_NAME);
        }
        break;
      case 'content':
        tallyContent(tally, value, style);
        break;
      case 'tool_calls':
        if (Array.isArray(value)) for (const call of value) tallyFunctionCall(tally, isObject(call) ? call.function : call);
        break;
      case 'function_call':
        tallyFunctionCall(tally, value);
        break;
      default:
        break;
    }
  }
}

/** Message content: a string, or parts (text counted; images by estimate; audio and files not, see README). */
function tallyContent(tally: PromptTally, content: unknown, style: ChatStyle): void {
  if (typeof content === 'string' || !Array.isArray(content)) {
    tally.strings(content);
    return;
  }
  for (const part of content) {
    if (!isObject(part)) {
      tally.strings(part);
      continue;
    }
    switch (part.type) {
      case 'text':
      case 'input_text':
      case 'output_text':
        tally.text(part.text);
        break;
      case 'refusal':
        tally.text(part.refusal);
        break;
      case 'image_url':
      case 'input_image':
        tally.fixed(style.imageTokens(part.detail ?? (isObject(part.image_url) ? part.image_url.detail : undefined)));
        break;
      case 'input_audio':
      case 'file':
      case 'input_file':
        break;
      default:
        tally.strings(part);
    }
  }
}

function tallyFunctionCall(tally: PromptTally, call: unknown): void {
  if (!isObject(call)) {
    tally.strings(call);
    return;
  }
  tally.text(call.name);
  // OpenAI sends arguments as a JSON string; Mistral also accepts an object.
  if (typeof call.arguments === 'string') tally.text(call.arguments);
  else tally.json(call.arguments);
}

/**
 * `tools` (chat: {type: "function", function: {...}}; Responses API: {type: "function", name, ...})
 * and the legacy `functions`, counted with the cookbook's num_tokens_for_tools(). That function reads
 * name, description and, per property, name, type, description and enum; other schema keywords of a
 * property (nested `properties`, `items`, `format`, ...) are added as compact JSON, an approximation
 * OpenAI does not document. Non-function tools (web_search, file_search, mcp...) count their strings.
 */
function tallyFunctionDefinitions(tally: PromptTally, body: JsonObject, encoding: EncodingName): void {
  const k = TOOL_FRAMING[encoding];
  const definitions: JsonObject[] = [];
  if (Array.isArray(body.tools)) {
    for (const tool of body.tools) {
      if (isObject(tool) && isObject(tool.function)) definitions.push(tool.function);
      else if (isObject(tool) && tool.type === 'function') definitions.push(tool);
      else tally.strings(tool);
    }
  }
  if (Array.isArray(body.functions)) {
    for (const definition of body.functions) {
      if (isObject(definition)) definitions.push(definition);
      else tally.strings(definition);
    }
  }
  if (definitions.length === 0) return;
  for (const definition of definitions) {
    tally.fixed(k.funcInit);
    tally.text(`${stringOr(definition.name)}:${withoutFinalPeriod(stringOr(definition.description))}`);
    const parameters = definition.parameters;
    const properties = isObject(parameters) && isObject(parameters.properties) ? Object.entries(parameters.properties) : [];
    if (properties.length === 0) continue;
    tally.fixed(k.propInit);
    for (const [name, schema] of properties) {
      tally.fixed(k.propKey);
      if (!isObject(schema)) {
        tally.text(`${name}::`);
        continue;
      }
      const { type, description, enum: values, ...rest } = schema;
      if (Array.isArray(values)) {
        tally.fixed(k.enumInit);
        for (const value of values) {
          tally.fixed(k.enumItem);
          tally.text(typeof value === 'string' ? value : JSON.stringify(value));
        }
      }
      tally.text(`${name}:${typeText(type)}:${withoutFinalPeriod(stringOr(description))}`);
      if (Object.keys(rest).length > 0) tally.json(rest);
    }
  }
  tally.fixed(k.funcEnd);
}

/** `response_format.json_schema` (chat) or `text.format` (Responses): name, description and the schema as JSON. */
function tallyJsonSchema(tally: PromptTally, format: unknown): void {
  if (!isObject(format)) return;
  tally.text(format.name);
  tally.text(format.description);
  tally.json(format.schema);
}

/** Embeddings `input`, legacy completions and FIM `prompt`: a string, strings, token ids, or arrays of token ids. */
export function tallyTextInputs(tally: PromptTally, input: unknown): void {
  if (!Array.isArray(input)) {
    tally.strings(input);
    return;
  }
  if (input.every((item) => typeof item === 'number')) {
    tally.tokenIds(input);
    return;
  }
  for (const item of input) {
    if (Array.isArray(item)) tally.tokenIds(item);
    else tally.strings(item);
  }
}

/**
 * Responses API: `instructions` (a developer message), `input` (a string or items), tools, a
 * JSON-schema text format and reply priming, with chat framing per message-like item (OpenAI
 * documents no Responses-specific framing). Conversation state the provider stores
 * (`previous_response_id`, `conversation`, item references, prompt templates) is invisible here:
 * the provider's usage settles it.
 */
export function tallyResponses(tally: PromptTally, body: JsonObject, encoding: EncodingName): void {
  const style = openAiChatStyle(encoding);
  if (typeof body.instructions === 'string') tallyChatMessage(tally, { role: 'developer', content: body.instructions }, style);
  if (typeof body.input === 'string') tallyChatMessage(tally, { role: 'user', content: body.input }, style);
  else if (Array.isArray(body.input)) for (const item of body.input) tallyResponsesItem(tally, item, style);
  if (body.input !== undefined || body.instructions !== undefined) tally.fixed(REPLY_PRIMING_TOKENS);
  tallyFunctionDefinitions(tally, body, encoding);
  if (isObject(body.text) && isObject(body.text.format) && body.text.format.type === 'json_schema') tallyJsonSchema(tally, body.text.format);
}

function tallyResponsesItem(tally: PromptTally, item: unknown, style: ChatStyle): void {
  if (!isObject(item)) {
    tally.strings(item);
    return;
  }
  switch (item.type) {
    case undefined:
    case 'message':
      tallyChatMessage(tally, item, style);
      break;
    case 'function_call':
      tally.fixed(TOKENS_PER_MESSAGE);
      tallyFunctionCall(tally, item);
      break;
    case 'function_call_output':
      tally.fixed(TOKENS_PER_MESSAGE);
      tallyContent(tally, item.output, style);
      break;
    case 'reasoning':
      if (Array.isArray(item.summary)) for (const part of item.summary) tally.text(isObject(part) ? part.text : part);
      break;
    case 'item_reference':
      break;
    default:
      tally.fixed(TOKENS_PER_MESSAGE);
      tally.strings(item);
  }
}

function stringOr(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function withoutFinalPeriod(text: string): string {
  return text.endsWith('.') ? text.slice(0, -1) : text;
}

function typeText(type: unknown): string {
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) return type.filter((item) => typeof item === 'string').join(' | ');
  return '';
}
