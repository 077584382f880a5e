import { openAIChatStream } from '../../../test/fakes/openai';
import { defaultBehaviour, sse } from '../../../test/fakes/recorder';
import { parseSse } from '../../../test/fakes/wire';
import { openAiStreamCutoff } from '../providers/openai/openai-cutoff';
import { openAiUsageAccounting } from '../providers/openai/openai-usage';
import { openCutoffReader, piecesOf } from '../../../test/support/data-plane/observer-harness';
import { MAX_SSE_EVENT_BYTES } from '../providers/shared/sse-response-observer';
import type { CutoffStreamReader } from '../providers/stream-cutoff';
import { type CutoffCounting, StreamCutter, type StreamCutoffSink } from './stream-cutoff';

const WORDS = Array.from({ length: 40 }, (_, i) => `word${i}`);
/** A chat stream of 40 one-word deltas, with include_usage (as the proxy asks for it). */
const STREAM = Buffer.from(
  openAIChatStream({ ...defaultBehaviour(), content: WORDS.join(' '), usage: { prompt: 11, completion: 40 } }, 'gpt-4o-mini', true)
    .map((chunk) => sse(chunk))
    .join(''),
);

function reader(): CutoffStreamReader {
  const prepared = openAiUsageAccounting.prepareRequest('/v1/chat/completions', Buffer.from('{"model":"gpt-4o-mini","messages":[],"stream":true}'), 'application/json');
  return openCutoffReader(openAiStreamCutoff, prepared, 'text/event-stream');
}

const wordsOf = (text: string): number => text.split(/\s+/).filter((word) => word !== '').length;

/** Counts words (at most one per byte, like tokens), answering when the test says so. */
class ManualCounting implements CutoffCounting {
  readonly texts: string[] = [];
  private pending: Array<{ text: string; resolve: (tokens: number) => void; reject: (error: Error) => void }> = [];
  failing = false;

  countText(text: string): Promise<number> {
    this.texts.push(text);
    return new Promise((resolve, reject) => this.pending.push({ text, resolve, reject }));
  }

  countPrompt(): Promise<number> {
    return Promise.resolve(11);
  }

  get waiting(): number {
    return this.pending.length;
  }

  /** Answers every count asked, and those asked meanwhile, until none is left. */
  async answerAll(): Promise<void> {
    await flush();
    while (this.pending.length > 0) {
      const pending = this.pending;
      this.pending = [];
      for (const call of pending) {
        if (this.failing) call.reject(new Error('worker gone'));
        else call.resolve(wordsOf(call.text));
      }
      await flush();
    }
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

class RecordingSink implements StreamCutoffSink {
  readonly relayed: Buffer[] = [];
  holds = 0;
  releases = 0;
  cuts = 0;
  ends = 0;
  readonly reasons: string[] = [];
  relay(bytes: Buffer): void {
    this.relayed.push(Buffer.from(bytes));
  }
  hold(): void {
    this.holds += 1;
  }
  release(): void {
    this.releases += 1;
  }
  cut(): void {
    this.cuts += 1;
  }
  ended(): void {
    this.ends += 1;
  }
  gaveUp(reason: string): void {
    this.reasons.push(reason);
  }
  get text(): string {
    return Buffer.concat(this.relayed).toString('utf8');
  }
  /** The completion text the client received. */
  get content(): string {
    return parseSse(this.text)
      .filter((event) => event.data !== '[DONE]')
      .map((event) => (JSON.parse(event.data) as { choices: Array<{ delta?: { content?: string } }> }).choices[0]?.delta?.content ?? '')
      .join('');
  }
}

function cutter(allowance: number, counting: CutoffCounting, sink: StreamCutoffSink): StreamCutter {
  return new StreamCutter(reader(), allowance, counting, sink, () => 42);
}

describe('StreamCutter', () => {
  it('relays every event unchanged, counting nothing, while the text bytes stay within the allowance', async () => {
    const counting = new ManualCounting();
    const sink = new RecordingSink();
    const stream = cutter(10_000, counting, sink);
    for (const piece of piecesOf(STREAM, [7, 100, 101, 333, 900])) stream.write(piece);
    stream.end();
    await counting.answerAll();
    expect(sink.text).toBe(STREAM.toString('utf8'));
    expect(counting.texts).toEqual([]);
    expect({ cuts: sink.cuts, ends: sink.ends, holds: sink.holds }).toEqual({ cuts: 0, ends: 1, holds: 0 });
  });

  it('ends the stream before the event that would exceed the allowance, with the closing events and an exact count', async () => {
    const counting = new ManualCounting();
    const sink = new RecordingSink();
    const stream = cutter(10, counting, sink);
    stream.write(STREAM);
    await counting.answerAll();
    expect(sink.content).toBe(WORDS.slice(0, 10).join(' '));
    const events = parseSse(sink.text);
    const [finish, usage, done] = events.slice(-3).map((event) => event.data);
    expect(JSON.parse(finish)).toMatchObject({ object: 'chat.completion.chunk', model: 'gpt-4o-mini', choices: [{ index: 0, delta: {}, finish_reason: 'length' }], usage: null });
    expect(JSON.parse(usage)).toMatchObject({ choices: [], usage: { prompt_tokens: 11, completion_tokens: 10, total_tokens: 21 } });
    expect(done).toBe('[DONE]');
    expect({ cuts: sink.cuts, ends: sink.ends }).toEqual({ cuts: 1, ends: 0 });
    // Counted near the allowance only, each text once, then the whole text for the closing count.
    expect(counting.texts.at(-1)).toBe(sink.content);
    expect(counting.texts.slice(0, -1).join('')).toBe(`${sink.content} word10`);
    // Nothing more once cut, even if the upstream goes on.
    stream.write(STREAM);
    stream.end();
    expect(sink.ends).toBe(0);
  });

  it('queues what arrives while an event waits for its count, holding the upstream until it is decided', async () => {
    const counting = new ManualCounting();
    const sink = new RecordingSink();
    const stream = cutter(40, counting, sink);
    const [head, tail] = piecesOf(STREAM, [STREAM.length / 2]);
    stream.write(head);
    await flush();
    expect(counting.waiting).toBe(1);
    expect(stream.holding).toBe(true);
    expect(sink.holds).toBe(1);
    const relayedWhileHolding = sink.text.length;
    stream.write(tail);
    expect(sink.text.length).toBe(relayedWhileHolding);
    await counting.answerAll();
    expect(stream.holding).toBe(false);
    expect(sink.releases).toBeGreaterThan(0);
    stream.end();
    // All 40 words fit: the stream ends as the provider ended it.
    expect(sink.text).toBe(STREAM.toString('utf8'));
    expect({ cuts: sink.cuts, ends: sink.ends }).toEqual({ cuts: 0, ends: 1 });
  });

  it('ends the response only once the events queued behind a count are relayed', async () => {
    const counting = new ManualCounting();
    const sink = new RecordingSink();
    const stream = cutter(40, counting, sink);
    stream.write(STREAM);
    stream.end();
    expect(sink.ends).toBe(0);
    await counting.answerAll();
    expect(sink.text).toBe(STREAM.toString('utf8'));
    expect({ cuts: sink.cuts, ends: sink.ends }).toEqual({ cuts: 0, ends: 1 });
  });

  it('relays the rest uncut when a count fails', async () => {
    const counting = new ManualCounting();
    counting.failing = true;
    const sink = new RecordingSink();
    const stream = cutter(5, counting, sink);
    stream.write(STREAM);
    await counting.answerAll();
    stream.end();
    expect(sink.text).toBe(STREAM.toString('utf8'));
    expect(sink.reasons).toEqual([expect.stringContaining('worker gone')]);
    expect({ cuts: sink.cuts, ends: sink.ends }).toEqual({ cuts: 0, ends: 1 });
  });

  it('relays everything in order, uncut, when the stream stops making events while an event waits for its count', async () => {
    const counting = new ManualCounting();
    const sink = new RecordingSink();
    const stream = cutter(5, counting, sink);
    stream.write(STREAM);
    await flush();
    expect(counting.waiting).toBe(1);
    const oversized = Buffer.alloc(MAX_SSE_EVENT_BYTES + 1, 0x61);
    stream.write(oversized);
    expect(sink.reasons).toEqual(['a stream frame could not be split']);
    expect(Buffer.concat(sink.relayed).equals(Buffer.concat([STREAM, oversized]))).toBe(true);
    await counting.answerAll();
    stream.write(Buffer.from('data: more\n\n'));
    stream.end();
    expect(sink.text.endsWith('data: more\n\n')).toBe(true);
    expect({ cuts: sink.cuts, ends: sink.ends }).toEqual({ cuts: 0, ends: 1 });
  });

  it('relays nothing more once abandoned, even when a count answers later', async () => {
    const counting = new ManualCounting();
    const sink = new RecordingSink();
    const stream = cutter(5, counting, sink);
    stream.write(STREAM);
    await flush();
    const relayed = sink.text;
    stream.abandon();
    await counting.answerAll();
    expect(sink.text).toBe(relayed);
    expect({ cuts: sink.cuts, ends: sink.ends }).toEqual({ cuts: 0, ends: 0 });
  });

  it('closes a stream cut before any text with an empty completion', async () => {
    const counting = new ManualCounting();
    const sink = new RecordingSink();
    const stream = cutter(0, counting, sink);
    stream.write(STREAM);
    await counting.answerAll();
    expect(sink.content).toBe('');
    expect(JSON.parse(parseSse(sink.text).at(-2)?.data ?? '')).toMatchObject({ usage: { prompt_tokens: 11, completion_tokens: 0 } });
    expect(sink.cuts).toBe(1);
  });
});
