// What is measured. A case is one request shape under one load; adding a case (another body, another
// load) is one entry in BENCH_CASES. Every case runs against every target.

/**
 * - `latency`: one connection, sequential requests, time to the last byte of the response (µs).
 * - `first-byte`: one connection, sequential requests, time to the first body chunk (an SSE stream's first event).
 * - `throughput`: N connections kept busy by the load generator: requests/s and latency percentiles.
 */
export type CaseKind = 'latency' | 'first-byte' | 'throughput';

export interface BenchCase {
  /** Stable name, used in BENCH_CASES, the result JSON and goals. */
  readonly id: string;
  readonly title: string;
  readonly kind: CaseKind;
  /** 1 for `latency` and `first-byte` (the precise client is sequential). */
  readonly connections: number;
  /** Fixed delay of the fake upstream before its response headers. */
  readonly upstreamDelayMs: number;
  /** POST body for /chat/completions. */
  readonly body: string;
  /** Extra request headers the client sends (the target's credentials are added to them). */
  readonly requestHeaders?: Readonly<Record<string, string>>;
}

export interface ChatRequestOptions {
  readonly stream?: boolean;
  /** Pads the user message to about this many bytes (for prompt-size cases); default: a short prompt. */
  readonly promptBytes?: number;
}

const PROMPT_FILLER = 'Summarize the following meeting notes in three bullet points, keeping names and dates. ';

export function chatRequestBody(options: ChatRequestOptions = {}): string {
  const content = options.promptBytes === undefined ? 'Say hello in five words.' : PROMPT_FILLER.repeat(Math.ceil(options.promptBytes / PROMPT_FILLER.length)).slice(0, options.promptBytes);
  return JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content },
    ],
    max_tokens: 64,
    ...(options.stream ? { stream: true } : {}),
  });
}

export const BENCH_CASES: readonly BenchCase[] = [
  { id: 'json-1c', title: 'JSON, 1 connection (full response)', kind: 'latency', connections: 1, upstreamDelayMs: 0, body: chatRequestBody() },
  { id: 'sse-1c', title: 'SSE, 1 connection (first event)', kind: 'first-byte', connections: 1, upstreamDelayMs: 0, body: chatRequestBody({ stream: true }) },
  { id: 'json-50c-0ms', title: 'JSON, 50 connections, 0 ms upstream', kind: 'throughput', connections: 50, upstreamDelayMs: 0, body: chatRequestBody() },
  { id: 'json-50c-4kb', title: 'JSON, 50 connections, 0 ms upstream, 4 KB prompt', kind: 'throughput', connections: 50, upstreamDelayMs: 0, body: chatRequestBody({ promptBytes: 4096 }) },
  { id: 'json-50c-20ms', title: 'JSON, 50 connections, 20 ms upstream', kind: 'throughput', connections: 50, upstreamDelayMs: 20, body: chatRequestBody() },
  // What the OpenAI SDKs send by default; the upstream then answers gzip, as the providers do, and
  // the gateway decodes a copy to read the usage while forwarding the compressed bytes.
  {
    id: 'json-50c-0ms-gzip',
    title: 'JSON, 50 connections, 0 ms upstream, gzip response (accept-encoding: gzip, deflate)',
    kind: 'throughput',
    connections: 50,
    upstreamDelayMs: 0,
    body: chatRequestBody(),
    requestHeaders: { 'accept-encoding': 'gzip, deflate' },
  },
];
