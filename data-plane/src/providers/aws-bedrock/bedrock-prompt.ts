// Prompt estimate for Bedrock bodies. Converse (`/model/{id}/converse`, `-stream`) has one shape for
// every model; InvokeModel (`/invoke`, `-with-response-stream`) bodies are the model vendor's own:
// Claude's is the Anthropic Messages shape, every other one counts all its string values. No model
// on Bedrock has a tokenizer we run: o200k_base times the model family's factor.
import { UNKNOWN_TOKENIZER_ESTIMATE_FACTOR } from '../../tokens/encodings';
import { ESTIMATED_IMAGE_TOKENS, isObject, type JsonObject, type PromptTally } from '../../tokens/prompt-tally';
import { CLAUDE_ESTIMATE_FACTOR, claudeToolSystemPrompt, tallyAnthropicMessages } from '../anthropic/anthropic-prompt';
import { MISTRAL_ESTIMATE_FACTOR } from '../mistral/mistral-prompt';
import type { PromptCounting } from '../prompt-counting';
import { completionLimit } from '../shared/json-request-body';
import { decodePathSegment } from '../shared/path-segment';
import { tallyFramedTurns } from '../shared/openai-compatible-prompt';
import { bedrockRoute } from './bedrock-path';

/** o200k_base count → estimated count, by the family of the model a Bedrock request names. */
export const BEDROCK_ESTIMATE_FACTORS = {
  claude: CLAUDE_ESTIMATE_FACTOR,
  mistral: MISTRAL_ESTIMATE_FACTOR,
  /** Llama 3/4: tiktoken-based 128k vocabulary (cl100k plus 28k), ≈ o200k on English. */
  llama: 1.1,
  /** gpt-oss: o200k_harmony, which is o200k_base plus special tokens. */
  openai: 1,
  /** Amazon Titan/Nova, Cohere, AI21, DeepSeek, unknown ids. */
  unknown: UNKNOWN_TOKENIZER_ESTIMATE_FACTOR,
} as const;

export type BedrockModelFamily = keyof typeof BEDROCK_ESTIMATE_FACTORS;

/**
 * The model family of a Bedrock model id as it appears in the path: a foundation model id
 * (`anthropic.claude-3-5-sonnet-20240620-v1:0`), a cross-region inference profile
 * (`us.anthropic.claude-...`), or an ARN (`arn:aws:bedrock:...:inference-profile/us.meta.llama3-...`),
 * possibly percent-encoded. An application inference profile ARN names no model: 'unknown'.
 */
export function bedrockModelFamily(modelId: string | null): BedrockModelFamily {
  if (modelId === null) return 'unknown';
  const id = decodePathSegment(modelId).toLowerCase();
  if (id.includes('anthropic.') || id.includes('claude')) return 'claude';
  if (id.includes('mistral') || id.includes('mixtral') || id.includes('pixtral')) return 'mistral';
  if (id.includes('llama')) return 'llama';
  if (id.includes('openai.') || id.includes('gpt-oss')) return 'openai';
  return 'unknown';
}

/**
 * Bedrock: the model id comes from the path and picks the estimate factor and, for Claude, the
 * Anthropic tally of InvokeModel bodies and the tool-use system prompt. CountTokens and unknown
 * actions count all their strings.
 */
export const bedrockPromptCounting: PromptCounting = {
  requestModel: (providerPath) => bedrockRoute(providerPath)?.model ?? null,
  encoding: () => 'o200k_base',
  estimateFactor: (model) => BEDROCK_ESTIMATE_FACTORS[bedrockModelFamily(model)],
  tally(tally, providerPath, body, model) {
    switch (bedrockRoute(providerPath)?.operation) {
      case 'converse':
      case 'converse_stream':
        tallyConverse(tally, body, bedrockModelFamily(model));
        break;
      case 'invoke':
      case 'invoke_stream':
        tallyInvokeModel(tally, body, bedrockModelFamily(model));
        break;
      default:
        tally.strings(body);
    }
  },
  expectedCompletionTokens(providerPath, body) {
    const operation = bedrockRoute(providerPath)?.operation;
    if (operation === 'converse' || operation === 'converse_stream') return completionLimit(body, ['inferenceConfig.maxTokens']);
    return completionLimit(body, [
      'max_tokens', // Anthropic, Mistral, Cohere, DeepSeek, gpt-oss
      'max_completion_tokens',
      'max_gen_len', // Meta Llama
      'max_new_tokens',
      'textGenerationConfig.maxTokenCount', // Amazon Titan
      'inferenceConfig.max_new_tokens', // Amazon Nova
      'inferenceConfig.maxTokens',
      'maxTokens', // AI21 Jurassic
    ]);
  },
};

/** system[].text, messages[].content[] (text, toolUse, toolResult, reasoning, media), toolConfig.tools[].toolSpec. */
export function tallyConverse(tally: PromptTally, body: JsonObject, family: BedrockModelFamily): void {
  if (Array.isArray(body.system)) tallyConverseBlocks(tally, body.system);
  else tally.strings(body.system);
  if (Array.isArray(body.messages)) {
    tallyFramedTurns(tally, body.messages, (content) => {
      if (Array.isArray(content)) tallyConverseBlocks(tally, content);
      else tally.strings(content);
    });
  }
  const toolConfig = body.toolConfig;
  if (!isObject(toolConfig) || !Array.isArray(toolConfig.tools)) return;
  let tools = 0;
  for (const tool of toolConfig.tools) {
    if (isObject(tool) && isObject(tool.toolSpec)) {
      const spec = tool.toolSpec;
      tally.json({ name: spec.name, description: spec.description, input_schema: isObject(spec.inputSchema) ? spec.inputSchema.json : undefined });
      tools += 1;
    } else if (!(isObject(tool) && 'cachePoint' in tool)) {
      tally.strings(tool);
    }
  }
  // Claude gets the same tool-use system prompt through Bedrock as through Anthropic's API.
  if (tools > 0 && family === 'claude') {
    const choice = toolConfig.toolChoice;
    tally.fixed(claudeToolSystemPrompt(isObject(choice) && ('any' in choice || 'tool' in choice)));
  }
}

/** Converse content blocks are unions keyed by their one member name. */
function tallyConverseBlocks(tally: PromptTally, blocks: readonly unknown[]): void {
  for (const block of blocks) {
    if (!isObject(block)) {
      tally.strings(block);
      continue;
    }
    if (typeof block.text === 'string') tally.text(block.text);
    else if ('image' in block || 'video' in block) tally.fixed(ESTIMATED_IMAGE_TOKENS);
    else if ('document' in block) tallyDocument(tally, block.document);
    else if (isObject(block.toolUse)) {
      tally.text(block.toolUse.name);
      tally.json(block.toolUse.input);
    } else if (isObject(block.toolResult)) {
      if (Array.isArray(block.toolResult.content)) tallyToolResultContent(tally, block.toolResult.content);
    } else if (isObject(block.reasoningContent)) {
      const reasoning = block.reasoningContent.reasoningText;
      tally.text(isObject(reasoning) ? reasoning.text : undefined);
    } else if (!('cachePoint' in block)) {
      tally.strings(block);
    }
  }
}

function tallyToolResultContent(tally: PromptTally, content: readonly unknown[]): void {
  for (const item of content) {
    if (isObject(item) && typeof item.text === 'string') tally.text(item.text);
    else if (isObject(item) && 'json' in item) tally.json(item.json);
    else if (isObject(item) && ('image' in item || 'video' in item)) tally.fixed(ESTIMATED_IMAGE_TOKENS);
    else if (isObject(item) && 'document' in item) tallyDocument(tally, item.document);
    else tally.strings(item);
  }
}

/** A document with inline text counts it; binary formats (PDF, DOCX...) count like one image. */
function tallyDocument(tally: PromptTally, document: unknown): void {
  const source = isObject(document) ? document.source : undefined;
  if (isObject(source) && typeof source.text === 'string') tally.text(source.text);
  else if (isObject(source) && Array.isArray(source.content)) tally.strings(source.content);
  else tally.fixed(ESTIMATED_IMAGE_TOKENS);
}

/** InvokeModel: Claude's body is Anthropic's Messages shape; other vendors' bodies count every string. */
export function tallyInvokeModel(tally: PromptTally, body: JsonObject, family: BedrockModelFamily): void {
  if (family === 'claude' && Array.isArray(body.messages)) tallyAnthropicMessages(tally, body);
  else tally.strings(body);
}
