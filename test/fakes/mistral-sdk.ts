// Runs the official @mistralai/mistralai SDK in a child Node process.
//
// The SDK (2.x) is ESM-only, and jest here runs tests as CommonJS (no --experimental-vm-modules,
// node_modules not transformed), so a test cannot import it. A child process runs it natively;
// the call and its outcome cross the boundary as JSON.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

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
export async function run(call) {
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
  return out;
}
`;

export function runMistralSdk(call: MistralSdkCall): Promise<MistralSdkResult> {
  return runEsmDriver<MistralSdkResult>(DRIVER, call, 'Mistral SDK driver');
}

/**
 * Where driver modules are written: inside the repository, so their bare specifiers resolve from its
 * node_modules, and ignored by git.
 */
const DRIVER_DIR = join(__dirname, '../../node_modules/.cache/tokengate-esm-drivers');

// One Node process per test file runs every driver call of that file: importing an SDK costs a
// child about 0.8 s of CPU, paid once instead of per call. It loads each driver module once (by the
// hash of its source) and answers calls in any order, by id, over the IPC channel.
const HOST = String.raw`
import { pathToFileURL } from 'node:url';
process.on('message', async ({ id, file, input }) => {
  let reply;
  try {
    const { run } = await import(pathToFileURL(file).href);
    reply = { id, output: JSON.stringify(await run(input)) };
  } catch (error) {
    reply = { id, failure: String(error && error.stack || error) };
  }
  process.send(reply);
});
process.on('disconnect', () => process.exit(0));
`;

interface PendingCall {
  resolve(output: string): void;
  reject(error: Error): void;
}

let host: { child: ChildProcess; pending: Map<number, PendingCall>; stderr: string } | undefined;
let nextCallId = 0;

function driverHost(): NonNullable<typeof host> {
  if (host && host.child.exitCode === null && host.child.signalCode === null) return host;
  const child = spawn(process.execPath, ['--input-type=module', '--eval', HOST], { cwd: __dirname, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  const current = { child, pending: new Map<number, PendingCall>(), stderr: '' };
  child.stderr!.on('data', (chunk: Buffer) => (current.stderr += chunk.toString()));
  child.on('message', (message: { id: number; output?: string; failure?: string }) => {
    const call = current.pending.get(message.id);
    current.pending.delete(message.id);
    if (message.output !== undefined) call?.resolve(message.output);
    else call?.reject(new Error(message.failure));
  });
  child.once('exit', (code, signal) => {
    for (const call of current.pending.values()) call.reject(new Error(`driver process exited (${signal ?? code})\n${current.stderr}`));
    current.pending.clear();
  });
  // An idle host never keeps jest (or the test file) from finishing; it exits with its parent.
  child.unref();
  (child.channel as { unref?(): void } | undefined)?.unref?.();
  host = current;
  return current;
}

// jest loads this module afresh for each test file: its host ends with the file.
if (typeof afterAll === 'function') {
  afterAll(() => {
    host?.child.kill();
    host = undefined;
  });
}

/**
 * Runs `driver` (ESM source exporting `async function run(input)`, which returns a JSON-serializable
 * value) in a child Node process and returns what `run` returned, through JSON.
 */
export function runEsmDriver<T>(driver: string, input: unknown, what: string): Promise<T> {
  const file = join(DRIVER_DIR, `${createHash('sha256').update(driver).digest('hex').slice(0, 16)}.mjs`);
  if (!existsSync(file)) {
    // Written whole or not at all: another test run may be importing the same file.
    mkdirSync(DRIVER_DIR, { recursive: true });
    writeFileSync(`${file}.${process.pid}`, driver);
    renameSync(`${file}.${process.pid}`, file);
  }
  const { child, pending } = driverHost();
  const id = nextCallId++;
  return new Promise<T>((resolve, reject) => {
    // As the process per call had: a driver that hangs fails its test instead of the whole file.
    const timer = setTimeout(() => {
      pending.delete(id);
      child.kill();
      reject(new Error(`${what} failed: no answer within 30 s`));
    }, 30_000);
    pending.set(id, {
      resolve: (output) => {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(output) as T);
        } catch {
          reject(new Error(`${what} returned no JSON: ${output}`));
        }
      },
      reject: (error) => {
        clearTimeout(timer);
        reject(new Error(`${what} failed: ${error.message}`));
      },
    });
    child.send({ id, file, input });
  });
}
