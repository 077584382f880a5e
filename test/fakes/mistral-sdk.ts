// Runs the official @mistralai/mistralai SDK in a child Node process.
//
// The SDK (2.x) is ESM-only, and jest here runs tests as CommonJS (no --experimental-vm-modules,
// node_modules not transformed), so a test cannot import it. A child process runs it natively;
// the call and its outcome cross the boundary as JSON.
import { execFile } from 'node:child_process';

export type MistralSdkOperation = 'chat.complete' | 'chat.stream' | 'embeddings.create' | 'ocr.process';

export interface MistralSdkCall {
  /** Passed as the client's `serverURL` (may carry a path prefix). */
  serverURL: string;
  apiKey: string;
  operation: MistralSdkOperation;
  /** The request as the SDK takes it (camelCase), e.g. `{ model, messages }`. */
  request: Record<string, unknown>;
  /** Extra client options; retries are off (`retryConfig: { strategy: 'none' }`) unless given. */
  clientOptions?: Record<string, unknown>;
}

export interface MistralSdkError {
  /** The SDK's error class (`SDKError`, `HTTPValidationError`, `ResponseValidationError`, ...). */
  name: string;
  message: string;
  statusCode?: number;
  body?: string;
}

export interface MistralSdkResult {
  /** What the SDK returned: the parsed response, or for `chat.stream` the `data` of every event. */
  result?: unknown;
  /** Set when the SDK call (or iterating its stream) threw. */
  error?: MistralSdkError;
}

const DRIVER = String.raw`
import { Mistral } from '@mistralai/mistralai';
const call = JSON.parse(process.argv[1]);
const client = new Mistral({
  serverURL: call.serverURL,
  apiKey: call.apiKey,
  retryConfig: { strategy: 'none' },
  ...(call.clientOptions || {}),
});
const out = {};
try {
  if (call.operation === 'chat.complete') {
    out.result = await client.chat.complete(call.request);
  } else if (call.operation === 'chat.stream') {
    const events = [];
    for await (const event of await client.chat.stream(call.request)) events.push(event.data);
    out.result = events;
  } else if (call.operation === 'embeddings.create') {
    out.result = await client.embeddings.create(call.request);
  } else if (call.operation === 'ocr.process') {
    out.result = await client.ocr.process(call.request);
  } else {
    throw new Error('unknown operation ' + call.operation);
  }
} catch (error) {
  out.error = { name: error.constructor.name, message: String(error.message), statusCode: error.statusCode, body: error.body };
}
process.stdout.write(JSON.stringify(out));
`;

export function runMistralSdk(call: MistralSdkCall): Promise<MistralSdkResult> {
  return runEsmDriver<MistralSdkResult>(DRIVER, call, 'Mistral SDK driver');
}

/**
 * Runs `driver` (ESM source) in a child Node process with `input` as its JSON argument and parses the
 * JSON it prints. Bare specifiers of --eval code resolve from the working directory: this repository.
 */
export function runEsmDriver<T>(driver: string, input: unknown, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '--eval', driver, JSON.stringify(input)], { cwd: __dirname, timeout: 30_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`${what} failed: ${error.message}\n${stderr}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout) as T);
      } catch {
        reject(new Error(`${what} printed no JSON: ${stdout}\n${stderr}`));
      }
    });
  });
}
