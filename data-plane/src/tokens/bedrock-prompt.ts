// Prompt estimate for Bedrock bodies. Converse (`/model/{id}/converse`, `-stream`) has one shape for
// every model; InvokeModel (`/invoke`, `-with-response-stream`) bodies are the model vendor's own:
// Claude's is the Anthropic Messages shape, every other one counts all its string values.
import { claudeToolSystemPrompt, tallyAnthropicMessages } from './anthropic-prompt';
import type { ModelFamily } from './model-tokenizers';
import { ESTIMATED_IMAGE_TOKENS, REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE } from './openai-prompt';
import { isObject, type JsonObject, type PromptTally } from './prompt-tally';

/** system[].text, messages[].content[] (text, toolUse, toolResult, reasoning, media), toolConfig.tools[].toolSpec. */
export function tallyConverse(tally: PromptTally, body: JsonObject, family: ModelFamily): void {
  if (Array.isArray(body.system)) tallyConverseBlocks(tally, body.system);
  else tally.strings(body.system);
  if (Array.isArray(body.messages)) {
    for (const message of body.messages) {
      if (!isObject(message)) {
        tally.strings(message);
        continue;
      }
      tally.fixed(TOKENS_PER_MESSAGE);
      if (Array.isArray(message.content)) tallyConverseBlocks(tally, message.content);
      else tally.strings(message.content);
    }
    tally.fixed(REPLY_PRIMING_TOKENS);
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
export function tallyInvokeModel(tally: PromptTally, body: JsonObject, family: ModelFamily): void {
  if (family === 'claude' && Array.isArray(body.messages)) tallyAnthropicMessages(tally, body);
  else tally.strings(body);
}
