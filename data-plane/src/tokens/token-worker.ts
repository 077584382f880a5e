// Entry point of TokenCounter's worker thread (see token-counter.ts for how it is started). Holds the
// only encoder instances: one per encoding, built on first use or on `warm`, each with its memo.
// Answers requests one at a time, in arrival order; a failing count answers with an error, it does
// not end the thread.
import { parentPort } from 'node:worker_threads';
import { Tiktoken } from 'js-tiktoken/lite';
import cl100kBase from 'js-tiktoken/ranks/cl100k_base';
import o200kBase from 'js-tiktoken/ranks/o200k_base';
import { MemoizedEncoder } from './memoized-encoder';
import type { EncodingName } from './encodings';
import { countCompletionTokens, countPromptTokens, encodingFor, requestModel } from './prompt-tokens';
import type { TokenWorkerEnvelope, TokenWorkerRequest, TokenWorkerResponse } from './token-worker-protocol';

const port = parentPort;
if (port === null) throw new Error('token-worker runs only as the worker thread of a TokenCounter');

const RANKS = { o200k_base: o200kBase, cl100k_base: cl100kBase } as const;
const encoders = new Map<EncodingName, MemoizedEncoder>();

function encoder(encoding: EncodingName): MemoizedEncoder {
  let built = encoders.get(encoding);
  if (built === undefined) {
    // ~0.2–1.3 s and ~60–160 MB per encoding: why this runs here and not on the event loop.
    built = new MemoizedEncoder(new Tiktoken(RANKS[encoding]));
    encoders.set(encoding, built);
  }
  return built;
}

function handle(request: TokenWorkerRequest): number {
  switch (request.kind) {
    case 'warm':
      for (const encoding of request.encodings) encoder(encoding);
      return 0;
    case 'count-prompt': {
      const body: unknown = request.bodyText === undefined ? request.body : JSON.parse(request.bodyText);
      const model = request.model ?? requestModel(request.provider, request.providerPath, body);
      return countPromptTokens(encoder(encodingFor(request.provider, model)), request.provider, request.providerPath, body, model);
    }
    case 'count-text':
      return countCompletionTokens(encoder(encodingFor(request.provider, request.model)), request.provider, request.model, request.text);
    case 'crash':
      throw new Error('unreachable');
  }
}

port.on('message', ({ id, request }: TokenWorkerEnvelope) => {
  if (request.kind === 'crash') throw new Error('token worker crash requested');
  let response: TokenWorkerResponse;
  try {
    response = { id, ok: true, value: handle(request) };
  } catch (error) {
    response = { id, ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(response);
});
