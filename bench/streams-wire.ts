// The long-stream benchmark's wire format, shared by its fake upstream (which writes it) and its clients
// (which check it): OpenAI `chat.completion.chunk` server-sent events as the Chat Completions API streams
// them — a role chunk, content chunks, a `finish_reason: "stop"` chunk, with
// `stream_options.include_usage` a final `choices: []` chunk carrying the usage (and `"usage": null` in
// every other chunk), then `data: [DONE]`. Content chunk k (1-based) carries the text ` w<k>`, so a
// client can tell that it got every chunk, in order.

/** Request headers the fake upstream reads (the proxy forwards them unchanged). */
export const STREAM_CHUNKS_HEADER = 'x-bench-stream-chunks';
export const STREAM_INTERVAL_HEADER = 'x-bench-stream-interval-ms';
export const STREAMS_UPSTREAM_PATH = '/v1/chat/completions';

const MODEL = 'gpt-4o-mini-2024-07-18';
const CREATED = 1_765_000_000;
export const PROMPT_TOKENS = 14;

/** Builds each event of one stream; the id is per stream, as OpenAI's is per completion. */
export class ChunkWriter {
  private readonly head: string;
  private readonly tail: string;

  constructor(
    id: string,
    private readonly includeUsage: boolean,
  ) {
    this.head = `data: {"id":"${id}","object":"chat.completion.chunk","created":${CREATED},"model":"${MODEL}","service_tier":"default","system_fingerprint":"fp_bench_streams","choices":[`;
    this.tail = includeUsage ? ',"usage":null}\n\n' : '}\n\n';
  }

  role(): string {
    return `${this.head}{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]${this.tail}`;
  }

  content(k: number): string {
    return `${this.head}{"index":0,"delta":{"content":" w${k}"},"logprobs":null,"finish_reason":null}]${this.tail}`;
  }

  /** finish_reason "stop", then (when asked) the usage chunk, then [DONE]. */
  end(completionTokens: number): string {
    let out = `${this.head}{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]${this.tail}`;
    if (this.includeUsage) {
      const usage = {
        prompt_tokens: PROMPT_TOKENS,
        completion_tokens: completionTokens,
        total_tokens: PROMPT_TOKENS + completionTokens,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      };
      out += `${this.head}],"usage":${JSON.stringify(usage)}}\n\n`;
    }
    return `${out}data: [DONE]\n\n`;
  }
}

/** What a client must see, in order. */
type Expecting = 'role' | 'content' | 'usage' | 'done' | 'end';

const CONTENT_MARK = '"content":" w';
const DONE_EVENT = 'data: [DONE]';

/**
 * Follows one stream as it arrives and checks it against the format above: every content chunk 1..M
 * in order, the stop chunk, the usage chunk exactly when the client asked for it (a proxy that injected
 * `include_usage` itself must hide that chunk), then [DONE] and nothing after. Events are split on the
 * blank line the upstream writes (`\n\n`); the proxy must relay the bytes unchanged.
 */
export class StreamChecker {
  private partial = '';
  private expecting: Expecting = 'role';
  private nextContent = 1;
  /** The stop chunk came and the usage chunk is still due. */
  private usageDue = false;
  /** The first deviation; the stream is failed once it is set. */
  problem: string | null = null;
  events = 0;

  constructor(
    private readonly contentChunks: number,
    private readonly expectUsage: boolean,
  ) {}

  /** Feeds received bytes; returns how many complete events they finished. */
  feed(text: string): number {
    const data = this.partial === '' ? text : this.partial + text;
    let start = 0;
    let completed = 0;
    for (let end = data.indexOf('\n\n', start); end !== -1; end = data.indexOf('\n\n', start)) {
      this.event(data.slice(start, end));
      start = end + 2;
      completed += 1;
    }
    this.partial = start === 0 ? data : data.slice(start);
    this.events += completed;
    return completed;
  }

  /** True once [DONE] came and nothing but the stream's end may follow. */
  get sawDone(): boolean {
    return this.expecting === 'end';
  }

  /** Checks what is left when the response ends. */
  finish(): void {
    if (this.problem !== null) return;
    if (this.partial !== '') this.problem = 'bytes after the last event';
    else if (this.expecting !== 'end') this.problem = `ended while expecting ${this.expecting === 'content' ? `content chunk ${this.nextContent}` : this.expecting}`;
  }

  private event(event: string): void {
    if (this.problem !== null) return;
    switch (this.expecting) {
      case 'role':
        if (event.includes('"role":"assistant"')) this.expecting = this.contentChunks > 0 ? 'content' : 'usage';
        else this.problem = 'first event is not the role chunk';
        return;
      case 'content': {
        const at = event.indexOf(CONTENT_MARK);
        const k = at === -1 ? Number.NaN : Number.parseInt(event.slice(at + CONTENT_MARK.length), 10);
        if (k !== this.nextContent) {
          this.problem = Number.isNaN(k) ? `content chunk ${this.nextContent} missing` : `content chunk ${k} where ${this.nextContent} was due`;
          return;
        }
        this.nextContent += 1;
        if (this.nextContent > this.contentChunks) this.expecting = 'usage';
        return;
      }
      case 'usage':
        // The stop chunk, then the usage chunk if asked for.
        if (!event.includes('"finish_reason":"stop"')) {
          this.problem = 'no stop chunk after the last content chunk';
          return;
        }
        this.expecting = 'done';
        if (this.expectUsage) this.usageDue = true;
        return;
      case 'done':
        if (this.usageDue) {
          if (event.includes('"choices":[]') && event.includes('"usage":{')) this.usageDue = false;
          else this.problem = 'usage chunk missing (the client asked for it)';
          return;
        }
        if (event === DONE_EVENT) this.expecting = 'end';
        else this.problem = event.includes('"choices":[]') ? 'usage chunk the client did not ask for (injected by the proxy, not hidden)' : 'no [DONE] after the last chunk';
        return;
      case 'end':
        this.problem = 'event after [DONE]';
        return;
    }
  }
}
