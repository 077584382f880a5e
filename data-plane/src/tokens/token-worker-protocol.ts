// Messages between TokenCounter (main thread) and its worker (token-worker.ts). Type-only module.
import type { ProviderName } from '../config-stream/wire-types';
import type { EncodingName } from './encodings';

export type TokenWorkerRequest =
  | { readonly kind: 'warm'; readonly encodings: readonly EncodingName[] }
  | {
      readonly kind: 'count-prompt';
      readonly provider: ProviderName | number;
      readonly providerPath: string;
      readonly body: unknown;
      readonly model: string | null;
      /**
       * The body as JSON text, sent instead of `body` (then null) when the parsed body cannot be copied
       * to the worker: structured cloning recurses, and a body nested deeper than its stack (which
       * JSON.parse accepts) makes postMessage throw. The worker parses it itself.
       */
      readonly bodyText?: string;
    }
  | { readonly kind: 'count-text'; readonly provider: ProviderName | number; readonly model: string | null; readonly text: string }
  /** Test hook: the worker throws outside any handler, exercising the crash path for real. */
  | { readonly kind: 'crash' };

/** Every request carries an id; its response carries the same one. Requests are answered in order. */
export interface TokenWorkerEnvelope {
  readonly id: number;
  readonly request: TokenWorkerRequest;
}

export type TokenWorkerResponse =
  | { readonly id: number; readonly ok: true; readonly value: number }
  | { readonly id: number; readonly ok: false; readonly error: string };
