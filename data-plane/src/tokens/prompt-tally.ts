// The running count of one request's prompt: tokenizer counts of the strings a provider reads, and
// framing constants (message markers, reply priming, image estimates) that no tokenizer sees.
// Created per count, not shared. Every method accepts any JSON value and never throws.
import type { Tiktoken } from 'js-tiktoken/lite';
import { boundedTokenCount } from './bounded-encode';

/** Counts the tokens of one string: the worker's memoizing encoder implements this. */
export interface StringTokenCounter {
  countTokens(text: string): number;
}

/** A js-tiktoken encoder, or anything counting strings the same way (e.g. with a memo in front). */
export type TokenEncoder = Tiktoken | StringTokenCounter;

export function countString(encoder: TokenEncoder, text: string): number {
  return 'countTokens' in encoder ? encoder.countTokens(text) : boundedTokenCount(encoder, text);
}

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * An image for a model whose provider publishes no formula tied to a tokenizer we have (Claude,
 * Mistral, Bedrock): 1,600 tokens, Anthropic's figure for an image at its ~1.15 megapixel size cap
 * (width × height / 750). Images are never fetched or decoded; reported usage settles the difference.
 */
export const ESTIMATED_IMAGE_TOKENS = 1600;

export class PromptTally {
  private textTokens = 0;
  private textBytes = 0;
  private fixedTokens = 0;

  constructor(private readonly encoder: TokenEncoder) {}

  /** A string the model reads (ignored unless it is a non-empty string). */
  text(value: unknown): void {
    if (typeof value !== 'string' || value.length === 0) return;
    this.textTokens += countString(this.encoder, value);
    this.textBytes += Buffer.byteLength(value, 'utf8');
  }

  /** Tokens no tokenizer sees: message framing, per-image estimates, tool-use system prompts. */
  fixed(tokens: number): void {
    this.fixedTokens += tokens;
  }

  /** A value the provider renders as JSON (tool schemas, tool inputs): its compact serialization. */
  json(value: unknown): void {
    if (value === undefined) return;
    let serialized: string | undefined;
    try {
      serialized = JSON.stringify(value);
    } catch {
      // Too deeply nested for JSON.stringify (a body JSON.parse accepted): its strings still count.
      this.strings(value);
      return;
    }
    this.text(serialized);
  }

  /** Every string value inside `value` (documented fallback for shapes this module does not know). */
  strings(value: unknown): void {
    // Iterative: a hostile body can nest deeper than the call stack.
    const stack: unknown[] = [value];
    while (stack.length > 0) {
      const item = stack.pop();
      if (typeof item === 'string') this.text(item);
      else if (Array.isArray(item)) for (const element of item) stack.push(element);
      else if (isObject(item)) for (const element of Object.values(item)) stack.push(element);
    }
  }

  /** Token ids sent as numbers (embeddings and legacy completions accept them): one token each. */
  tokenIds(value: readonly unknown[]): void {
    this.fixedTokens += value.length;
  }

  /**
   * The count. `factor` (≥ 1) scales the tokenizer part for providers whose tokenizer is estimated
   * from o200k_base; the scaled part never exceeds the strings' UTF-8 byte length, because a
   * byte-level BPE (or SentencePiece with byte fallback) token covers at least one byte. Framing is
   * not scaled. Rounded up, never negative.
   */
  total(factor = 1): number {
    const text = factor === 1 ? this.textTokens : Math.min(Math.ceil(this.textTokens * factor), this.textBytes);
    return Math.max(0, text + this.fixedTokens);
  }
}
