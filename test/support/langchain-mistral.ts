// Runs LangChain's ChatMistralAI (@langchain/mistralai) in a child Node process.
//
// Its CommonJS build requires @mistralai/mistralai, which is ESM-only; jest here runs tests as
// CommonJS and cannot load it (see test/fakes/mistral-sdk.ts). A child process imports it natively;
// the call and its outcome cross the boundary as JSON.
import { runEsmDriver } from '../fakes/mistral-sdk';

export interface LangChainMistralCall {
  /** ChatMistralAI's `serverURL` (the proxy endpoint; the SDK adds /v1/...). */
  serverURL: string;
  apiKey: string;
  model: string;
  prompt: string;
  /** `invoke` (one response) or `stream` (chunks concatenated, as an app does). */
  mode: 'invoke' | 'stream';
}

export interface LangChainMistralResult {
  /** The text of the message (or of the concatenated chunks). */
  text?: string;
  /** The message's `usage_metadata`, as LangChain reports it to the app. */
  usage?: unknown;
  /** How many chunks `stream` yielded. */
  chunks?: number;
  /** Set when the call (or iterating its stream) threw. */
  error?: { name: string; message: string };
}

const DRIVER = String.raw`
import { ChatMistralAI } from '@langchain/mistralai';
export async function run(call) {
  const chat = new ChatMistralAI({ model: call.model, apiKey: call.apiKey, serverURL: call.serverURL, maxRetries: 0 });
  const out = {};
  try {
    let message;
    if (call.mode === 'invoke') {
      message = await chat.invoke(call.prompt);
    } else {
      out.chunks = 0;
      for await (const chunk of await chat.stream(call.prompt)) {
        message = message === undefined ? chunk : message.concat(chunk);
        out.chunks += 1;
      }
    }
    out.text = message.text;
    out.usage = message.usage_metadata;
  } catch (error) {
    out.error = { name: error.constructor.name, message: String(error.message) };
  }
  return out;
}
`;

export function runLangChainMistral(call: LangChainMistralCall): Promise<LangChainMistralResult> {
  return runEsmDriver<LangChainMistralResult>(DRIVER, call, 'LangChain Mistral driver');
}
