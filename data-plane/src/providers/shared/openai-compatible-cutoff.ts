// Stream cut-off for the OpenAI wire format, shared by OpenAI, Azure OpenAI and Mistral; each lists
// only where its closing events report usage. A Chat Completions (or legacy Completions) stream ended
// by the proxy closes as the API closes one that reached max_tokens: a chunk with `finish_reason:
// "length"` for every choice still open, the usage where the provider reports it, then `data: [DONE]`.
// Responses API streams: openai-responses-cutoff.ts.
import type { CutoffStreamReader, CutoffTokens, StreamCutoff } from '../stream-cutoff';
import type { PreparedRequest, UsageOperation } from '../usage-accounting';
import { bodyKind } from './content-type';
import { type JsonObject, arrayMember, isJsonObject, member, parseJsonObject, tokenCount } from './json-values';
import { choiceDeltaText } from './openai-compatible-usage';
import { ResponsesCutoffReader } from './openai-responses-cutoff';
import { SseFramer, sseEvent, sseFields } from './sse-frames';

export interface OpenAiCompatibleCutoffDifferences {
  /**
   * Where the usage goes: `usage-chunk` (OpenAI, Azure) in a `choices: []` chunk before `[DONE]`, only
   * when the request asked for `stream_options.include_usage` (the proxy may have asked on the
   * client's behalf: the observer then hides that chunk again); `finish-chunk` (Mistral) on the last
   * chunk, always.
   */
  readonly usageOn: 'usage-chunk' | 'finish-chunk';
}

const CUT_OPERATIONS: ReadonlySet<UsageOperation> = new Set<UsageOperation>(['chat_completions', 'completions', 'responses']);

/** The members every chunk of a stream repeats, copied into the closing chunks. */
const CHUNK_HEAD = ['id', 'object', 'created', 'model', 'system_fingerprint'] as const;

export function createOpenAiCompatibleStreamCutoff(differences: OpenAiCompatibleCutoffDifferences): StreamCutoff {
  return {
    canCut: (prepared) => prepared.stream && CUT_OPERATIONS.has(prepared.operation),
    open(prepared: PreparedRequest, contentType: string | undefined): CutoffStreamReader | null {
      const kind = bodyKind(contentType);
      if (kind !== 'sse' && kind !== 'none') return null;
      if (prepared.operation === 'responses') return new ResponsesCutoffReader();
      const usageOn = differences.usageOn === 'finish-chunk' ? 'finish-chunk' : asksForUsage(prepared.json) ? 'usage-chunk' : null;
      return new ChunkStreamCutoffReader(usageOn);
    },
  };
}

/** `stream_options.include_usage: true` in the body sent upstream. */
function asksForUsage(json: unknown): boolean {
  return member(member(json, 'stream_options'), 'include_usage') === true;
}

class ChunkStreamCutoffReader implements CutoffStreamReader {
  readonly framer = new SseFramer();
  readonly needsPromptTokens: boolean;
  /** The chunk last read, until accepted. */
  private last: JsonObject | null = null;
  /** The last relayed chunk that had choices: its head members are the closing chunks'. */
  private reference: JsonObject | null = null;
  /** Indexes of the choices relayed that have no finish_reason yet, and of those that have one. */
  private readonly open = new Set<number>();
  private readonly finished = new Set<number>();
  /** The stream's chunks carry `"usage": null` (OpenAI with include_usage) / its choices `logprobs`. */
  private usageNull = false;
  private logprobs = false;

  constructor(private readonly usageOn: 'usage-chunk' | 'finish-chunk' | null) {
    this.needsPromptTokens = usageOn !== null;
  }

  read(frame: Buffer): string {
    this.last = null;
    const fields = sseFields(frame);
    if (fields === null || fields.data === '[DONE]') return '';
    const chunk = parseJsonObject(fields.data);
    if (chunk === null) return '';
    this.last = chunk;
    let text = '';
    for (const choice of arrayMember(chunk, 'choices')) text += choiceDeltaText(choice);
    return text;
  }

  accept(): void {
    const chunk = this.last;
    if (chunk === null) return;
    if (chunk.usage === null) this.usageNull = true;
    const choices = arrayMember(chunk, 'choices');
    if (choices.length > 0) this.reference = chunk;
    for (const choice of choices) {
      const index = tokenCount(member(choice, 'index'));
      if (index === null) continue;
      if (isJsonObject(choice) && 'logprobs' in choice) this.logprobs = true;
      const reason = member(choice, 'finish_reason');
      if (reason === null || reason === undefined) {
        if (!this.finished.has(index)) this.open.add(index);
      } else {
        this.open.delete(index);
        this.finished.add(index);
      }
    }
  }

  closing(tokens: CutoffTokens): Buffer {
    const head: Record<string, unknown> = {};
    for (const name of CHUNK_HEAD) {
      const value = this.reference?.[name];
      if (value !== undefined) head[name] = value;
    }
    const usage =
      this.usageOn === null || tokens.promptTokens === null
        ? null
        : { prompt_tokens: tokens.promptTokens, completion_tokens: tokens.completionTokens, total_tokens: tokens.promptTokens + tokens.completionTokens };
    const legacy = head.object === 'text_completion';
    // A stream cut before its first choice arrived still ends its (first) choice.
    const indexes = this.open.size > 0 ? [...this.open].sort((a, b) => a - b) : this.finished.size > 0 ? [] : [0];
    let text = '';
    indexes.forEach((index, position) => {
      const choice: Record<string, unknown> = legacy ? { text: '', index } : { index, delta: {} };
      if (this.logprobs) choice.logprobs = null;
      choice.finish_reason = 'length';
      const chunk: Record<string, unknown> = { ...head, choices: [choice] };
      if (this.usageOn === 'finish-chunk' && usage !== null && position === indexes.length - 1) chunk.usage = usage;
      else if (this.usageNull) chunk.usage = null;
      text += sseEvent(chunk);
    });
    if (this.usageOn === 'usage-chunk' && usage !== null) text += sseEvent({ ...head, choices: [], usage });
    return Buffer.from(`${text}data: [DONE]\n\n`, 'utf8');
  }
}
