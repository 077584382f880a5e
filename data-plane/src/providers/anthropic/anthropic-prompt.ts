// Prompt estimate for Anthropic Messages bodies (the Anthropic API, and Claude through Bedrock
// InvokeModel): system, messages with their content blocks, and tools. Claude's tokenizer is not
// public: strings are counted with o200k_base and scaled by CLAUDE_ESTIMATE_FACTOR.
import { ESTIMATED_IMAGE_TOKENS, isObject, type JsonObject, type PromptTally } from '../../tokens/prompt-tally';
import type { PromptCounting } from '../prompt-counting';
import { completionLimit } from '../shared/json-request-body';
import { stringMember } from '../shared/json-values';
import { tallyFramedTurns } from '../shared/openai-compatible-prompt';
import { anthropicOperation } from './anthropic-path';

/**
 * Claude's estimate factor over o200k_base (Anthropic API and Bedrock): Anthropic publishes no
 * tokenizer, only the count_tokens endpoint (a network round trip). A published comparison of Claude
 * 3.5 Sonnet with GPT-4o found Claude's tokenizer 20–30 % more verbose, least on English prose, most
 * on code and math; Anthropic's own token-counting reference says OpenAI tokenizers undercount Claude
 * by ~15–20 % on typical text, more on code and non-English text. 1.25 covers prose with margin, code
 * nearly.
 */
export const CLAUDE_ESTIMATE_FACTOR = 1.25;

/**
 * The system prompt Anthropic adds whenever `tools` is non-empty, per its "tool use pricing" table
 * for current models (Claude 3.5 and later): 346 tokens with tool_choice auto or none, 313 with any
 * or tool. (Claude 3 models differed: 159–530.)
 */
export const CLAUDE_TOOL_SYSTEM_PROMPT_TOKENS = { auto: 346, forced: 313 } as const;

/** Anthropic: Messages and count_tokens bodies, the legacy Text Completions prompt; other paths count all their strings. */
export const anthropicPromptCounting: PromptCounting = {
  requestModel: (_providerPath, body) => stringMember(body, 'model'),
  encoding: () => 'o200k_base',
  estimateFactor: () => CLAUDE_ESTIMATE_FACTOR,
  tally(tally, providerPath, body) {
    switch (anthropicOperation(providerPath)) {
      case 'messages':
      case 'count_tokens':
        tallyAnthropicMessages(tally, body);
        break;
      case 'completions':
        tally.text(body.prompt);
        break;
      default:
        tally.strings(body);
    }
  },
  expectedCompletionTokens: (_providerPath, body) => completionLimit(body, ['max_tokens', 'max_tokens_to_sample']),
};

/** Content blocks nest (tool_result → blocks); deeper than this they only count their strings. */
const MAX_BLOCK_DEPTH = 4;

/**
 * Framing is estimated like OpenAI's (3 tokens per message for the turn marker, 3 for the assistant
 * turn): the turns are rendered as "\n\nHuman: … \n\nAssistant:" markers of about that size.
 */
export function tallyAnthropicMessages(tally: PromptTally, body: JsonObject): void {
  tallyBlocks(tally, body.system, 0);
  if (Array.isArray(body.messages)) tallyFramedTurns(tally, body.messages, (content) => tallyBlocks(tally, content, 0));
  if (Array.isArray(body.tools) && body.tools.length > 0) {
    for (const tool of body.tools) tallyClaudeTool(tally, tool);
    const choice = isObject(body.tool_choice) ? body.tool_choice.type : undefined;
    tally.fixed(claudeToolSystemPrompt(choice === 'any' || choice === 'tool'));
  }
}

export function claudeToolSystemPrompt(forced: boolean): number {
  return forced ? CLAUDE_TOOL_SYSTEM_PROMPT_TOKENS.forced : CLAUDE_TOOL_SYSTEM_PROMPT_TOKENS.auto;
}

/**
 * A custom tool as the model sees it: name, description and input_schema, counted as compact JSON
 * (Anthropic does not document the rendering). Server tools (web_search, bash, text_editor...) have
 * no schema: their own fields count.
 */
function tallyClaudeTool(tally: PromptTally, tool: unknown): void {
  if (isObject(tool) && tool.input_schema !== undefined) {
    tally.json({ name: tool.name, description: tool.description, input_schema: tool.input_schema });
  } else {
    tally.json(tool);
  }
}

/** A string, or content blocks: text, image, document, tool_use, tool_result, thinking, search_result. */
function tallyBlocks(tally: PromptTally, content: unknown, depth: number): void {
  if (typeof content === 'string' || !Array.isArray(content) || depth > MAX_BLOCK_DEPTH) {
    tally.strings(content);
    return;
  }
  for (const block of content) {
    if (!isObject(block)) {
      tally.strings(block);
      continue;
    }
    switch (block.type) {
      case 'text':
        tally.text(block.text);
        break;
      case 'image':
        tally.fixed(ESTIMATED_IMAGE_TOKENS);
        break;
      case 'document':
        tallyDocument(tally, block, depth);
        break;
      case 'tool_use':
      case 'server_tool_use':
        tally.text(block.name);
        tally.json(block.input);
        break;
      case 'tool_result':
        tallyBlocks(tally, block.content, depth + 1);
        break;
      case 'thinking':
        tally.text(block.thinking);
        break;
      case 'redacted_thinking':
        // Encrypted: its token count is not observable here.
        break;
      case 'search_result':
        tally.text(block.title);
        tally.text(block.source);
        tallyBlocks(tally, block.content, depth + 1);
        break;
      default:
        tally.strings(block);
    }
  }
}

/** Plain-text and content documents count their text; PDFs and URLs count like one image (see README). */
function tallyDocument(tally: PromptTally, block: JsonObject, depth: number): void {
  tally.text(block.title);
  tally.text(block.context);
  const source = block.source;
  if (isObject(source) && source.type === 'text') tally.text(source.data);
  else if (isObject(source) && source.type === 'content') tallyBlocks(tally, source.content, depth + 1);
  else tally.fixed(ESTIMATED_IMAGE_TOKENS);
}
