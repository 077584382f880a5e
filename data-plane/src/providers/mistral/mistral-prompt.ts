import { ESTIMATED_IMAGE_TOKENS } from '../../tokens/prompt-tally';
import { type ChatStyle, createOpenAiCompatiblePromptCounting } from '../shared/openai-compatible-prompt';

/**
 * Mistral's estimate factor over o200k_base: current models use Tekken (tiktoken-based, ~131k
 * vocabulary, which Mistral reports compresses better than Llama 3's tokenizer for ~85 % of
 * languages, so close to o200k on English); older open models use a 32k SentencePiece vocabulary,
 * ~30 % less compact. 1.15 leans toward current models and leaves some margin for the older ones.
 */
export const MISTRAL_ESTIMATE_FACTOR = 1.15;

/**
 * Mistral renders the tools as JSON between [AVAILABLE_TOOLS] and [/AVAILABLE_TOOLS] control tokens,
 * so their compact JSON (plus those 2 tokens) is the estimate. Message framing reuses OpenAI's
 * constants ([INST] … [/INST] … </s> costs about the same per turn).
 */
export const MISTRAL_CHAT_STYLE: ChatStyle = {
  imageTokens: () => ESTIMATED_IMAGE_TOKENS,
  tools: (tally, body) => {
    if (Array.isArray(body.tools) && body.tools.length > 0) {
      tally.json(body.tools);
      tally.fixed(2);
    }
  },
};

/**
 * Mistral: OpenAI's chat format (agents too) with its own tool rendering, FIM, embeddings; no public
 * tokenizer, so o200k_base times MISTRAL_ESTIMATE_FACTOR. OCR, billed per page, counts nothing (its
 * document, often a base64 data URL, is no prompt). Other paths count all their strings.
 */
export const mistralPromptCounting = createOpenAiCompatiblePromptCounting({
  encoding: () => 'o200k_base',
  estimateFactor: MISTRAL_ESTIMATE_FACTOR,
  chatStyle: () => MISTRAL_CHAT_STYLE,
  shapes: { 'chat/completions': 'chat', 'agents/completions': 'chat', 'fim/completions': 'fim', embeddings: 'embeddings', ocr: 'unmetered' },
});
