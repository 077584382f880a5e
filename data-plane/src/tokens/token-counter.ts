// Exact token counting off the event loop: one worker thread holds the encoders (the main thread never
// loads BPE ranks) and runs the functions of prompt-tokens.ts; calls are matched to answers by id.
//
// How the worker starts. From the compiled tree (`node dist/...`, what processes run, ADR 001) this
// file is token-counter.js and tsc has emitted token-worker.js beside it: the worker runs that file.
// From TypeScript sources (jest transforms them with @swc/jest on the main thread only) there is no
// .js sibling and a Worker cannot load .ts; the worker then runs a small eval'd bootstrap that
// registers a `.ts` require hook compiling with @swc/core (a devDependency, present wherever the
// sources are run) and requires token-worker.ts. One worker module, two loaders; no .js file in src/.
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ProviderName } from '../config-stream/wire-types';
import type { EncodingName } from './encodings';
import type { TokenWorkerEnvelope, TokenWorkerRequest, TokenWorkerResponse } from './token-worker-protocol';

/** A count that could not be made: the worker failed or exited, or the counter is closed. */
export class TokenCounterError extends Error {
  override readonly name = 'TokenCounterError';
}

interface PendingCall {
  resolve(value: number): void;
  reject(error: Error): void;
}

/**
 * Runs token counts in one worker thread. A worker that fails or exits rejects every call it had
 * not answered and is replaced by a new one (re-warmed) at the next call. Calls are answered in order.
 */
export class TokenCounter {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, PendingCall>();
  private nextId = 1;
  private closed = false;
  /** Encodings every worker of this counter should build ahead of the first count. */
  private readonly wanted = new Set<EncodingName>();
  /** Warm-ups sent to the current worker, by encoding. */
  private warming = new Map<EncodingName, Promise<void>>();

  private constructor(private readonly launch: () => Worker) {}

  /** A counter whose worker starts at its first call (for proxies that may never count). */
  static startLazily(): TokenCounter {
    return new TokenCounter(launchTokenWorker);
  }

  /** Starts the worker (it builds no encoder until `warm` or the first count). */
  static start(): TokenCounter {
    const counter = new TokenCounter(launchTokenWorker);
    counter.currentWorker();
    return counter;
  }

  /**
   * Builds encoders in the worker (~0.2–1.3 s each, off the event loop). Idempotent and cheap once
   * requested: call it whenever a snapshot with rate limits arrives. Defaults to o200k_base, the
   * encoding of current OpenAI models and the base of every estimate; cl100k_base (GPT-4, GPT-3.5,
   * text-embedding-3/ada-002) is otherwise built at its first count.
   */
  warm(encodings: readonly EncodingName[] = ['o200k_base']): Promise<void> {
    if (this.closed) return Promise.reject(new TokenCounterError('the token counter is closed'));
    // First: starting a replacement worker re-sends the wanted warm-ups and resets `warming`.
    this.currentWorker();
    const missing = encodings.filter((encoding) => !this.warming.has(encoding));
    for (const encoding of encodings) this.wanted.add(encoding);
    if (missing.length > 0) {
      const warming = this.call({ kind: 'warm', encodings: missing }).then(() => undefined);
      const current = this.warming;
      for (const encoding of missing) current.set(encoding, warming);
      // A failed warm-up is retried by the next warm().
      warming.catch(() => {
        for (const encoding of missing) if (current.get(encoding) === warming) current.delete(encoding);
      });
    }
    return Promise.all(encodings.map((encoding) => this.warming.get(encoding))).then(() => undefined);
  }

  /**
   * Prompt tokens of a parsed request body, as `countPromptTokens` counts them (see prompt-tokens.ts).
   * `bodyBytes`, the JSON text `body` was parsed from, is sent instead when `body` is nested too deeply
   * to be copied to the worker (structured cloning recurses; JSON.parse does not).
   */
  countPrompt(provider: ProviderName | number, providerPath: string, body: unknown, model: string | null, bodyBytes?: Buffer): Promise<number> {
    const request: TokenWorkerRequest = { kind: 'count-prompt', provider, providerPath, body, model };
    if (bodyBytes === undefined) return this.call(request);
    return this.call(request, () => ({ ...request, body: null, bodyText: jsonText(bodyBytes) }));
  }

  /** Tokens of completion text, as `countCompletionTokens` counts them (exact or estimated per provider). */
  countText(provider: ProviderName | number, model: string | null, text: string): Promise<number> {
    return this.call({ kind: 'count-text', provider, model, text });
  }

  /** True once close() was called: a call that failed since failed because of it. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Stops the worker. Calls not yet answered, and every later call, reject with TokenCounterError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const worker = this.worker;
    this.worker = null;
    this.rejectPending('the token counter is closed');
    if (worker !== null) await worker.terminate();
  }

  /** Test hook: makes the current worker throw an uncaught error, as a crash in the encoder would. */
  crashWorkerForTesting(): void {
    this.call({ kind: 'crash' }).catch(() => undefined);
  }

  /** `fallback`: the same request in a form that always clones, sent when `request` cannot be. */
  private call(request: TokenWorkerRequest, fallback?: () => TokenWorkerRequest): Promise<number> {
    if (this.closed) return Promise.reject(new TokenCounterError('the token counter is closed'));
    const worker = this.currentWorker();
    const id = this.nextId++;
    return new Promise<number>((resolve, reject) => {
      try {
        try {
          worker.postMessage({ id, request } satisfies TokenWorkerEnvelope);
        } catch (error) {
          if (fallback === undefined) throw error;
          worker.postMessage({ id, request: fallback() } satisfies TokenWorkerEnvelope);
        }
      } catch (error) {
        reject(new TokenCounterError(`cannot send the request to the token counter worker: ${(error as Error).message}`));
        return;
      }
      this.pending.set(id, { resolve, reject });
      // An idle worker does not keep the process alive; one with calls to answer does.
      if (this.pending.size === 1) worker.ref();
    });
  }

  private currentWorker(): Worker {
    if (this.worker !== null) return this.worker;
    const worker = this.launch();
    worker.unref();
    worker.on('message', (response: TokenWorkerResponse) => this.answer(worker, response));
    worker.on('error', (error: Error) => this.lose(worker, `the token counter worker failed: ${error.message}`));
    worker.on('messageerror', (error: Error) => {
      this.lose(worker, `the token counter worker sent an unreadable answer: ${error.message}`);
      void worker.terminate();
    });
    worker.on('exit', (code: number) => this.lose(worker, `the token counter worker exited with code ${code}`));
    this.worker = worker;
    this.warming = new Map();
    if (this.wanted.size > 0) this.warm([...this.wanted]).catch(() => undefined);
    return worker;
  }

  private answer(worker: Worker, response: TokenWorkerResponse): void {
    if (worker !== this.worker) return;
    const call = this.pending.get(response.id);
    if (call === undefined) return;
    this.pending.delete(response.id);
    if (this.pending.size === 0) worker.unref();
    if (response.ok) call.resolve(response.value);
    else call.reject(new TokenCounterError(`token counting failed: ${response.error}`));
  }

  /** The worker is gone (error, exit): its unanswered calls fail; the next call starts a new worker. */
  private lose(worker: Worker, reason: string): void {
    if (worker !== this.worker) return;
    this.worker = null;
    this.rejectPending(reason);
  }

  private rejectPending(reason: string): void {
    const error = new TokenCounterError(reason);
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const call of calls) call.reject(error);
  }
}

/**
 * Runs in the worker when this module is TypeScript source: compiles `.ts` files with @swc/core as
 * they are required (commonjs, like the tsc build), then loads token-worker.ts.
 */
const TYPESCRIPT_WORKER_BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const Module = require('node:module');
const fromEntry = Module.createRequire(workerData.entry);
const swc = fromEntry('@swc/core');
Module._extensions['.ts'] = (module, filename) => {
  const { code } = swc.transformSync(readFileSync(filename, 'utf8'), {
    filename,
    swcrc: false,
    configFile: false,
    sourceMaps: 'inline',
    module: { type: 'commonjs' },
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
  });
  module._compile(code, filename);
};
fromEntry(workerData.entry);
`;

function launchTokenWorker(): Worker {
  const name = 'tokengate-token-counter';
  if (__filename.endsWith('.js')) return new Worker(join(__dirname, 'token-worker.js'), { name });
  return new Worker(TYPESCRIPT_WORKER_BOOTSTRAP, { eval: true, name, workerData: { entry: join(__dirname, 'token-worker.ts') } });
}

/** A JSON body's text, without the UTF-8 byte order mark JSON.parse would refuse (see parseJsonRequestBody). */
function jsonText(bytes: Buffer): string {
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  return bytes.toString('utf8', bom ? 3 : 0);
}
