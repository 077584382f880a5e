// Call surfaces beyond generateText/streamText and invoke/stream: structured output, tools,
// embeddings, legacy completions, batches of calls, and the raw SDKs' less common calls (helpers,
// multipart uploads, beta endpoints, FIM and agents, InvokeModel of embedding models, CountTokens),
// each through the proxy, the metered usage compared with what the provider reported.
import { randomBytes } from 'node:crypto';
import Anthropic from '@anthropic-ai/sdk';
import { createAmazonBedrock } from '@ai-sdk/amazon-bedrock';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createAzure } from '@ai-sdk/azure';
import { createMistral } from '@ai-sdk/mistral';
import { createOpenAI } from '@ai-sdk/openai';
import { BedrockRuntimeClient, ConverseStreamCommand, CountTokensCommand, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';
import { ChatAnthropic } from '@langchain/anthropic';
import { BedrockEmbeddings, ChatBedrockConverse } from '@langchain/aws';
import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai';
import { embed, embedMany, generateObject, generateText, streamObject, streamText, tool } from 'ai';
import OpenAI, { toFile } from 'openai';
import { z } from 'zod';
import { runEsmDriver, runMistralSdk } from '../fakes';
import { type Gateway, PROVIDER_SECRETS, startGateway } from '../support/gateway-harness';
import { BEDROCK_MODEL, BILLED, PROMPT, prepare } from '../support/framework-calls';
import { meteredCall, meteredMany, usageRows } from '../support/usage-report';
import { waitFor } from '../support/wait';

let gw: Gateway;

beforeAll(async () => {
  gw = await startGateway({ rateLimiting: { usageReportIntervalMs: 100 } });
});
afterAll(async () => {
  await gw?.stop();
});

const OPENAI_CHARGED = { promptTokens: BILLED.prompt, completionTokens: BILLED.completion, cachedPromptReadTokens: BILLED.cachedRead, cachedPromptWriteTokens: 0, reasoningTokens: BILLED.reasoning };
const CLAUDE_CHARGED = { promptTokens: BILLED.prompt, completionTokens: BILLED.completion, cachedPromptReadTokens: BILLED.cachedRead, cachedPromptWriteTokens: BILLED.cachedWrite, reasoningTokens: 0 };
const PLAIN = { prompt: BILLED.prompt, completion: BILLED.completion };
const PLAIN_CHARGED = { promptTokens: BILLED.prompt, completionTokens: BILLED.completion, cachedPromptReadTokens: 0, cachedPromptWriteTokens: 0, reasoningTokens: 0 };
const EMBEDDING_CHARGED = { promptTokens: BILLED.prompt, completionTokens: 0, cachedPromptReadTokens: 0, cachedPromptWriteTokens: 0, reasoningTokens: 0 };
const FREE = { promptTokens: 0, completionTokens: 0, cachedPromptReadTokens: 0, cachedPromptWriteTokens: 0, reasoningTokens: 0 };
const OBJECT_JSON = '{"name":"Ada","age":36}';
const PERSON = z.object({ name: z.string(), age: z.number() });

describe('Vercel AI SDK', () => {
  const openai = () => createOpenAI({ baseURL: gw.services.openai.endpoint, apiKey: gw.services.openai.key });

  it.each(['responses', 'chat'] as const)('generateObject and streamObject on OpenAI (%s)', async (api) => {
    for (const mode of ['generate', 'stream'] as const) {
      prepare(gw.fakes.openai);
      gw.fakes.openai.behaviour.content = OBJECT_JSON;
      const model = api === 'chat' ? openai().chat('gpt-4o-mini') : openai()('gpt-5-mini');
      const { call, charged } = await meteredCall(gw, 'openai', async () => {
        if (mode === 'generate') return (await generateObject({ model, schema: PERSON, prompt: PROMPT, maxRetries: 0 })).object;
        const result = streamObject({ model, schema: PERSON, prompt: PROMPT, maxRetries: 0 });
        for await (const _ of result.partialObjectStream) void _;
        return result.object;
      });
      expect(call).toEqual({ name: 'Ada', age: 36 });
      expect(charged).toMatchObject({ operation: api === 'chat' ? 'chat_completions' : 'responses', requests: 1, ...OPENAI_CHARGED });
    }
  });

  it('generateText and streamText with tools on OpenAI Responses', async () => {
    const tools = { weather: tool({ description: 'Weather of a city', inputSchema: z.object({ city: z.string() }), execute: async () => 'sunny' }) };
    for (const mode of ['generate', 'stream'] as const) {
      prepare(gw.fakes.openai);
      const { call, charged } = await meteredCall(gw, 'openai', async () => {
        if (mode === 'generate') return (await generateText({ model: openai()('gpt-5-mini'), tools, prompt: PROMPT, maxRetries: 0 })).text;
        const result = streamText({ model: openai()('gpt-5-mini'), tools, prompt: PROMPT, maxRetries: 0 });
        return await result.text;
      });
      expect(call).toBe('Hello from the fake');
      expect(gw.fakes.openai.received[0].json).toMatchObject({ tools: [{ type: 'function', name: 'weather' }] });
      expect(charged).toMatchObject({ operation: 'responses', requests: 1, ...OPENAI_CHARGED });
    }
  });

  it.each(['generate', 'stream'] as const)('%s on legacy Completions (.completion)', async (mode) => {
    prepare(gw.fakes.openai, PLAIN);
    const model = openai().completion('gpt-3.5-turbo-instruct');
    const { call, charged } = await meteredCall(gw, 'openai', async () => {
      if (mode === 'generate') return (await generateText({ model, prompt: PROMPT, maxRetries: 0 })).text;
      const result = streamText({ model, prompt: PROMPT, maxRetries: 0 });
      return await result.text;
    });
    expect(call).toBe('Hello from the fake');
    expect(gw.fakes.openai.received[0].path).toBe('/v1/completions');
    expect(charged).toMatchObject({ operation: 'completions', requestModel: 'gpt-3.5-turbo-instruct', requests: 1, ...PLAIN_CHARGED });
  });

  it('embed and embedMany on OpenAI (.embedding)', async () => {
    prepare(gw.fakes.openai, { prompt: BILLED.prompt, completion: 0 });
    const model = openai().embedding('text-embedding-3-small');
    const { call, charged } = await meteredCall(gw, 'openai', async () => (await embed({ model, value: PROMPT, maxRetries: 0 })).usage);
    expect(call).toEqual({ tokens: BILLED.prompt });
    expect(charged).toMatchObject({ operation: 'embeddings', requestModel: 'text-embedding-3-small', requests: 1, ...EMBEDDING_CHARGED });
    prepare(gw.fakes.openai, { prompt: BILLED.prompt, completion: 0 });
    const many = await meteredCall(gw, 'openai', async () => (await embedMany({ model, values: [PROMPT, 'b', 'c'], maxRetries: 0 })).embeddings.length);
    expect(many.call).toBe(3);
    expect(many.charged).toMatchObject({ operation: 'embeddings', requests: 1, ...EMBEDDING_CHARGED });
  });

  it('embed on Azure (v1 API) and generateObject on Azure Responses', async () => {
    prepare(gw.fakes.azure, { prompt: BILLED.prompt, completion: 0 });
    // A base URL that is not *.openai.azure.com is used as given: the v1 API's base URL.
    const azure = createAzure({ baseURL: `${gw.services.azure.endpoint}/openai/v1`, apiKey: gw.services.azure.key });
    const { charged } = await meteredCall(gw, 'azure', async () => (await embed({ model: azure.embedding('text-embedding-3-small'), value: PROMPT, maxRetries: 0 })).usage);
    expect(gw.fakes.azure.received[0].path).toBe('/openai/v1/embeddings');
    expect(charged).toMatchObject({ operation: 'embeddings', requests: 1, ...EMBEDDING_CHARGED });
    prepare(gw.fakes.azure);
    gw.fakes.azure.behaviour.content = OBJECT_JSON;
    const object = await meteredCall(gw, 'azure', async () => (await generateObject({ model: azure('gpt-4o'), schema: PERSON, prompt: PROMPT, maxRetries: 0 })).object);
    expect(object.call).toEqual({ name: 'Ada', age: 36 });
    expect(object.charged).toMatchObject({ operation: 'responses', requests: 1, ...OPENAI_CHARGED });
  });

  it('generateObject, streamObject and tools on Anthropic', async () => {
    const anthropic = createAnthropic({ baseURL: `${gw.services.anthropic.endpoint}/v1`, apiKey: gw.services.anthropic.key });
    for (const mode of ['generate', 'stream'] as const) {
      prepare(gw.fakes.anthropic);
      gw.fakes.anthropic.behaviour.content = OBJECT_JSON;
      const { call, charged } = await meteredCall(gw, 'anthropic', async () => {
        const model = anthropic('claude-sonnet-5-5');
        const options = { model, schema: PERSON, prompt: PROMPT, maxRetries: 0, providerOptions: { anthropic: { structuredOutputMode: 'jsonTool' } } } as const;
        if (mode === 'generate') return (await generateObject(options).catch((e: unknown) => ({ error: String(e) }))) as unknown;
        const result = streamObject(options);
        for await (const _ of result.partialObjectStream) void _;
        return await result.object.catch((e: unknown) => ({ error: String(e) }));
      });
      // The fake answers text, not a tool call: what matters here is what was charged.
      void call;
      expect(charged).toMatchObject({ operation: 'messages', requests: 1, ...CLAUDE_CHARGED });
    }
  });

  it('embed on Mistral', async () => {
    prepare(gw.fakes.mistral, { prompt: BILLED.prompt, completion: 0 });
    const mistral = createMistral({ baseURL: `${gw.services.mistral.endpoint}/v1`, apiKey: gw.services.mistral.key });
    const { call, charged } = await meteredCall(gw, 'mistral', async () => (await embedMany({ model: mistral.embedding('mistral-embed'), values: [PROMPT, 'b'], maxRetries: 0 })).usage);
    expect(call).toEqual({ tokens: BILLED.prompt });
    expect(charged).toMatchObject({ operation: 'embeddings', requestModel: 'mistral-embed', requests: 1, ...EMBEDDING_CHARGED });
  });

  describe('Bedrock', () => {
    const bedrock = (service: 'bedrock' | 'bedrockApiKey') => createAmazonBedrock({ baseURL: gw.services[service].endpoint, region: PROVIDER_SECRETS.awsRegion, apiKey: gw.services[service].key });

    it('embed with Titan Text Embeddings (InvokeModel) is charged the input tokens Bedrock reported', async () => {
      const modelId = 'amazon.titan-embed-text-v2:0';
      prepare(gw.fakes.bedrock, { prompt: BILLED.prompt, completion: 0 });
      const { call, charged } = await meteredCall(gw, 'bedrock', async () => (await embed({ model: bedrock('bedrock').embedding(modelId), value: PROMPT, maxRetries: 0 })).usage);
      expect(call).toEqual({ tokens: BILLED.prompt });
      expect(gw.fakes.bedrock.received[0].path).toBe(`/model/${encodeURIComponent(modelId)}/invoke`);
      expect(charged).toMatchObject({ operation: 'invoke', requestModel: modelId, requests: 1, ...EMBEDDING_CHARGED });
    });

    it.each(['generate', 'stream'] as const)('%s an object with tools on Converse (API key service)', async (mode) => {
      prepare(gw.fakes.bedrock);
      gw.fakes.bedrock.behaviour.content = OBJECT_JSON;
      const model = bedrock('bedrockApiKey')(BEDROCK_MODEL);
      const { charged } = await meteredCall(gw, 'bedrockApiKey', async () => {
        if (mode === 'generate') return await generateObject({ model, schema: PERSON, prompt: PROMPT, maxRetries: 0 }).catch(() => null);
        const result = streamObject({ model, schema: PERSON, prompt: PROMPT, maxRetries: 0, onError: () => undefined });
        for await (const _ of result.partialObjectStream) void _;
        return await result.object.catch(() => null);
      });
      expect(charged).toMatchObject({ operation: mode === 'stream' ? 'converse_stream' : 'converse', requests: 1, ...CLAUDE_CHARGED });
    });
  });
});

describe('LangChain', () => {
  const chatOpenAI = (fields: Record<string, unknown> = {}) =>
    new ChatOpenAI({ model: 'gpt-4o-mini', apiKey: gw.services.openai.key, configuration: { baseURL: gw.services.openai.endpoint }, maxRetries: 0, ...fields });

  it('ChatOpenAI.batch of three prompts is charged three times what the provider reported', async () => {
    prepare(gw.fakes.openai);
    const charged = await meteredMany(gw, 'openai', 3, async () => {
      const replies = await chatOpenAI().batch([PROMPT, 'two', 'three']);
      expect(replies.map((r) => r.text)).toEqual(['Hello from the fake', 'Hello from the fake', 'Hello from the fake']);
    });
    expect(charged).toMatchObject({ requests: 3, promptTokens: 3 * BILLED.prompt, completionTokens: 3 * BILLED.completion, cachedPromptReadTokens: 3 * BILLED.cachedRead, reasoningTokens: 3 * BILLED.reasoning });
  });

  it.each([false, true])('ChatOpenAI.withStructuredOutput (Responses API: %s) and bindTools', async (useResponsesApi) => {
    prepare(gw.fakes.openai);
    gw.fakes.openai.behaviour.content = OBJECT_JSON;
    const structured = chatOpenAI({ useResponsesApi }).withStructuredOutput(PERSON, { method: 'jsonSchema' });
    const { call, charged } = await meteredCall(gw, 'openai', () => structured.invoke(PROMPT));
    expect(call).toEqual({ name: 'Ada', age: 36 });
    expect(charged).toMatchObject({ operation: useResponsesApi ? 'responses' : 'chat_completions', requests: 1, ...OPENAI_CHARGED });
    prepare(gw.fakes.openai);
    const withTools = chatOpenAI({ useResponsesApi }).bindTools([{ type: 'function', function: { name: 'weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }]);
    const streamed = await meteredCall(gw, 'openai', async () => {
      let text = '';
      for await (const chunk of await withTools.stream(PROMPT)) text += chunk.text;
      return text;
    });
    expect(streamed.call).toBe('Hello from the fake');
    expect(streamed.charged).toMatchObject({ requests: 1, ...OPENAI_CHARGED });
  });

  it('OpenAIEmbeddings embedQuery and embedDocuments', async () => {
    prepare(gw.fakes.openai, { prompt: BILLED.prompt, completion: 0 });
    const embeddings = new OpenAIEmbeddings({ model: 'text-embedding-3-small', apiKey: gw.services.openai.key, configuration: { baseURL: gw.services.openai.endpoint }, maxRetries: 0 });
    const { call, charged } = await meteredCall(gw, 'openai', () => embeddings.embedQuery(PROMPT));
    expect(call).toHaveLength(8);
    expect(charged).toMatchObject({ operation: 'embeddings', requests: 1, ...EMBEDDING_CHARGED });
    const documents = await meteredCall(gw, 'openai', () => embeddings.embedDocuments([PROMPT, 'two']));
    expect(documents.call).toHaveLength(2);
    expect(documents.charged).toMatchObject({ operation: 'embeddings', requests: 1, ...EMBEDDING_CHARGED });
  });

  it('ChatAnthropic.withStructuredOutput and bindTools stream', async () => {
    const chat = () => new ChatAnthropic({ model: 'claude-sonnet-5-5', apiKey: gw.services.anthropic.key, anthropicApiUrl: gw.services.anthropic.endpoint, maxRetries: 0 });
    prepare(gw.fakes.anthropic);
    const structured = chat().withStructuredOutput(PERSON, { includeRaw: true });
    const { charged } = await meteredCall(gw, 'anthropic', () => structured.invoke(PROMPT).catch(() => null));
    expect(charged).toMatchObject({ operation: 'messages', requests: 1, ...CLAUDE_CHARGED });
    prepare(gw.fakes.anthropic);
    const withTools = chat().bindTools([{ name: 'weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }]);
    const streamed = await meteredCall(gw, 'anthropic', async () => {
      let text = '';
      for await (const chunk of await withTools.stream(PROMPT)) text += chunk.text;
      return text;
    });
    expect(streamed.call).toBe('Hello from the fake');
    expect(streamed.charged).toMatchObject({ operation: 'messages', requests: 1, ...CLAUDE_CHARGED });
  });

  const bedrockClient = (service: 'bedrock' | 'bedrockApiKey' = 'bedrock') =>
    new BedrockRuntimeClient({ endpoint: gw.services[service].endpoint, region: PROVIDER_SECRETS.awsRegion, token: { token: gw.services[service].key }, authSchemePreference: ['httpBearerAuth'], maxAttempts: 1 });

  it('ChatBedrockConverse.bindTools stream and withStructuredOutput', async () => {
    prepare(gw.fakes.bedrock);
    const client = bedrockClient();
    const chat = new ChatBedrockConverse({ model: BEDROCK_MODEL, region: PROVIDER_SECRETS.awsRegion, client });
    const withTools = chat.bindTools([{ name: 'weather', description: 'Weather', schema: z.object({ city: z.string() }) }]);
    const { call, charged } = await meteredCall(gw, 'bedrock', async () => {
      let text = '';
      for await (const chunk of await withTools.stream(PROMPT)) text += chunk.text;
      return text;
    });
    expect(call).toBe('Hello from the fake');
    expect(gw.fakes.bedrock.received[0].json).toMatchObject({ toolConfig: { tools: [{ toolSpec: { name: 'weather' } }] } });
    expect(charged).toMatchObject({ operation: 'converse_stream', requests: 1, ...CLAUDE_CHARGED });
    prepare(gw.fakes.bedrock);
    const structured = await meteredCall(gw, 'bedrock', () => chat.withStructuredOutput(PERSON).invoke(PROMPT).catch(() => null));
    expect(structured.charged).toMatchObject({ operation: 'converse', requests: 1, ...CLAUDE_CHARGED });
    client.destroy();
  });

  it('BedrockEmbeddings (Titan) embedQuery is charged the input tokens Bedrock reported', async () => {
    const model = 'amazon.titan-embed-text-v2:0';
    prepare(gw.fakes.bedrock, { prompt: BILLED.prompt, completion: 0 });
    const client = bedrockClient();
    const embeddings = new BedrockEmbeddings({ model, region: PROVIDER_SECRETS.awsRegion, client });
    const { call, charged } = await meteredCall(gw, 'bedrock', () => embeddings.embedQuery(PROMPT).catch((e: unknown) => String(e)));
    client.destroy();
    expect(call).toHaveLength(4);
    expect(charged).toMatchObject({ operation: 'invoke', requestModel: model, requests: 1, ...EMBEDDING_CHARGED });
  });

  it('MistralAIEmbeddings embedDocuments', async () => {
    prepare(gw.fakes.mistral, { prompt: BILLED.prompt, completion: 0 });
    const driver = String.raw`
import { MistralAIEmbeddings } from '@langchain/mistralai';
export async function run(call) {
  const embeddings = new MistralAIEmbeddings({ model: 'mistral-embed', apiKey: call.apiKey, serverURL: call.serverURL, maxRetries: 0 });
  try { return { vectors: (await embeddings.embedDocuments(['a', 'b'])).length }; }
  catch (error) { return { error: String(error) }; }
}`;
    const { call, charged } = await meteredCall(gw, 'mistral', () => runEsmDriver<{ vectors?: number; error?: string }>(driver, { serverURL: gw.services.mistral.endpoint, apiKey: gw.services.mistral.key }, 'MistralAIEmbeddings driver'));
    expect(call).toEqual({ vectors: 2 });
    expect(charged).toMatchObject({ operation: 'embeddings', requestModel: 'mistral-embed', requests: 1, ...EMBEDDING_CHARGED });
  });
});

describe('openai SDK', () => {
  const client = (fields: Record<string, unknown> = {}) => new OpenAI({ baseURL: gw.services.openai.endpoint, apiKey: gw.services.openai.key, maxRetries: 0, ...fields });

  it('responses.stream, chat.completions.stream and parse helpers', async () => {
    prepare(gw.fakes.openai);
    const responses = await meteredCall(gw, 'openai', async () => (await client().responses.stream({ model: 'gpt-5-mini', input: PROMPT }).finalResponse()).usage);
    expect(responses.call).toMatchObject({ input_tokens: BILLED.prompt, output_tokens: BILLED.completion });
    expect(responses.charged).toMatchObject({ operation: 'responses', requests: 1, ...OPENAI_CHARGED });
    prepare(gw.fakes.openai);
    const chat = await meteredCall(gw, 'openai', async () => {
      const stream = client().chat.completions.stream({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: PROMPT }] });
      return (await stream.finalChatCompletion()).choices[0].message.content;
    });
    expect(chat.call).toBe('Hello from the fake');
    expect(chat.charged).toMatchObject({ operation: 'chat_completions', requests: 1, ...OPENAI_CHARGED });
    prepare(gw.fakes.openai);
    gw.fakes.openai.behaviour.content = OBJECT_JSON;
    const parsed = await meteredCall(gw, 'openai', async () => {
      const completion = await client().chat.completions.parse({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: PROMPT }],
        response_format: { type: 'json_schema', json_schema: { name: 'person', schema: { type: 'object', properties: { name: { type: 'string' }, age: { type: 'number' } } } } },
      });
      return completion.choices[0].message.content;
    });
    expect(parsed.call).toBe(OBJECT_JSON);
    expect(parsed.charged).toMatchObject({ operation: 'chat_completions', requests: 1, ...OPENAI_CHARGED });
  });

  it('embeddings.create with the SDK default (base64) and with float', async () => {
    for (const encoding_format of [undefined, 'float'] as const) {
      prepare(gw.fakes.openai, { prompt: BILLED.prompt, completion: 0 });
      const { call, charged } = await meteredCall(gw, 'openai', async () => (await client().embeddings.create({ model: 'text-embedding-3-small', input: [PROMPT, 'b'], ...(encoding_format ? { encoding_format } : {}) })).data[1].embedding);
      expect(call).toHaveLength(8);
      expect(charged).toMatchObject({ operation: 'embeddings', requests: 1, ...EMBEDDING_CHARGED });
    }
  });

  it('audio.transcriptions.create (multipart): token usage charged as reported; whisper-1 (duration) charged nothing', async () => {
    prepare(gw.fakes.openai, PLAIN);
    const audio = Buffer.alloc(256 * 1024, 7);
    const { call, charged } = await meteredCall(gw, 'openai', async () => client().audio.transcriptions.create({ model: 'gpt-4o-transcribe', file: await toFile(audio, 'speech.mp3', { type: 'audio/mpeg' }) }));
    expect(call.text).toBe('Hello from the fake');
    expect(gw.fakes.openai.received[0].headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(gw.fakes.openai.received[0].rawBody.includes(audio)).toBe(true);
    expect(charged).toMatchObject({ operation: 'other', requestModel: '', requests: 1, ...PLAIN_CHARGED });
    prepare(gw.fakes.openai, PLAIN);
    const whisper = await meteredCall(gw, 'openai', async () => client().audio.transcriptions.create({ model: 'whisper-1', file: await toFile(audio, 'speech.mp3', { type: 'audio/mpeg' }) }));
    expect(whisper.call.text).toBe('Hello from the fake');
    expect(whisper.charged).toMatchObject({ requests: 1, ...FREE });
  });

  it('a 24 MiB audio file (under OpenAI\'s 25 MB limit) passes the default body limit, byte for byte', async () => {
    prepare(gw.fakes.openai, PLAIN);
    const audio = randomBytes(24 * 1024 * 1024);
    const { call, charged } = await meteredCall(gw, 'openai', async () => client().audio.transcriptions.create({ model: 'gpt-4o-transcribe', file: await toFile(audio, 'meeting.mp3', { type: 'audio/mpeg' }) }));
    expect(call.text).toBe('Hello from the fake');
    expect(gw.fakes.openai.received[0].rawBody.includes(audio)).toBe(true);
    expect(charged).toMatchObject({ requests: 1, ...PLAIN_CHARGED });
  });

  it('files.create (multipart, ~0.5 MB) is forwarded byte for byte and charged nothing', async () => {
    prepare(gw.fakes.openai);
    const lines = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ custom_id: `r${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `${PROMPT} ${i} ${'x'.repeat(200)}` }] } })).join('\n');
    const file = await meteredCall(gw, 'openai', async () => client().files.create({ file: await toFile(Buffer.from(lines), 'batch.jsonl'), purpose: 'batch' }));
    expect(file.call.object).toBe('file');
    expect(gw.fakes.openai.received[0].rawBody.includes(Buffer.from(lines))).toBe(true);
    expect(file.charged).toMatchObject({ operation: 'other', requests: 1, ...FREE });
  });

  it('batches.create is charged nothing: the batch is billed when it runs', async () => {
    prepare(gw.fakes.openai);
    const { call, charged } = await meteredCall(gw, 'openai', () => client().batches.create({ input_file_id: 'file-abc123', endpoint: '/v1/chat/completions', completion_window: '24h' }));
    expect(call.object).toBe('batch');
    expect(charged).toMatchObject({ requests: 1, ...FREE });
  });

  it('moderations.create is charged nothing: the moderation models are free', async () => {
    prepare(gw.fakes.openai);
    const { call, charged } = await meteredCall(gw, 'openai', () => client().moderations.create({ model: 'omni-moderation-latest', input: [PROMPT, 'b'] }));
    expect(call.results).toHaveLength(2);
    expect(charged).toMatchObject({ operation: 'moderations', requestModel: 'omni-moderation-latest', requests: 1, ...FREE });
  });

  it('conversations.create is charged nothing: it bills no tokens and reports no usage (realtime.clientSecrets.create is refused, test/proxy/realtime.test.ts)', async () => {
    const instructions = `${PROMPT} Answer as a friendly travel agent. `.repeat(40);
    prepare(gw.fakes.openai);
    const conversation = await meteredCall(gw, 'openai', () => client().conversations.create({ items: [{ type: 'message', role: 'user', content: instructions }] }));
    expect(conversation.call.object).toBe('conversation');
    expect(conversation.charged).toMatchObject({ operation: 'other', requests: 1, ...FREE });
  });

  it('chat.completions.update (a stored completion\'s metadata) is charged nothing: its usage was charged when it was created', async () => {
    prepare(gw.fakes.openai);
    const { call, charged } = await meteredCall(gw, 'openai', () => client().chat.completions.update('chatcmpl-abc123', { metadata: { reviewed: 'yes' } }));
    expect(call.usage?.prompt_tokens).toBe(BILLED.prompt);
    expect(gw.fakes.openai.received[0].path).toBe('/v1/chat/completions/chatcmpl-abc123');
    expect(charged).toMatchObject({ operation: 'other', requests: 1, ...FREE });
  });

  it('audio.speech.create streamed as SSE is charged the usage of its speech.audio.done event', async () => {
    prepare(gw.fakes.openai, PLAIN);
    const { call, charged } = await meteredCall(gw, 'openai', async () => {
      const response = await client().audio.speech.create({ model: 'gpt-4o-mini-tts', voice: 'alloy', input: PROMPT, stream_format: 'sse' });
      return response.text();
    });
    expect(call).toContain('"type":"speech.audio.done"');
    expect(charged).toMatchObject({ requestModel: 'gpt-4o-mini-tts', requests: 1, ...PLAIN_CHARGED });
  });

  it('images.generate (gpt-image-1 reports tokens)', async () => {
    prepare(gw.fakes.openai, PLAIN);
    const { call, charged } = await meteredCall(gw, 'openai', async () => client().images.generate({ model: 'gpt-image-1', prompt: PROMPT }));
    expect(call.usage).toMatchObject({ input_tokens: BILLED.prompt, output_tokens: BILLED.completion });
    expect(charged).toMatchObject({ requestModel: 'gpt-image-1', requests: 1, ...PLAIN_CHARGED });
  });

  it('images.generate streamed is charged the usage of its image_generation.completed event', async () => {
    prepare(gw.fakes.openai, PLAIN);
    const { call, charged } = await meteredCall(gw, 'openai', async () => {
      const types: string[] = [];
      for await (const event of await client().images.generate({ model: 'gpt-image-1', prompt: PROMPT, stream: true, partial_images: 2 })) types.push(event.type);
      return types;
    });
    expect(call).toEqual(['image_generation.partial_image', 'image_generation.partial_image', 'image_generation.completed']);
    expect(charged).toMatchObject({ requestModel: 'gpt-image-1', requests: 1, ...PLAIN_CHARGED });
  });

  it('SDK retries: a 500 then a 200 charges the tokens once, the 500 as an error', async () => {
    prepare(gw.fakes.openai);
    gw.fakes.openai.behaviour.status = 500;
    const fake = gw.fakes.openai;
    const retrying = client({
      maxRetries: 2,
      fetch: async (url: string | URL | Request, init?: RequestInit) => {
        const response = await fetch(url, init);
        fake.behaviour.status = undefined; // the next attempt succeeds
        return response;
      },
    });
    const charged = await meteredMany(gw, 'openai', 2, async () => {
      const reply = await retrying.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: PROMPT }] });
      expect(reply.usage?.prompt_tokens).toBe(BILLED.prompt);
    });
    expect(fake.received).toHaveLength(2);
    expect(charged).toMatchObject({ requests: 2, errors5xx: 1, promptTokens: BILLED.prompt, completionTokens: BILLED.completion });
  });
});

describe('Anthropic SDK', () => {
  const client = () => new Anthropic({ baseURL: gw.services.anthropic.endpoint, apiKey: gw.services.anthropic.key, maxRetries: 0 });

  it('beta.messages.create and its stream keep the anthropic-beta header and are metered', async () => {
    for (const stream of [false, true]) {
      prepare(gw.fakes.anthropic);
      const { charged } = await meteredCall(gw, 'anthropic', async () => {
        const params = { model: 'claude-sonnet-5-5', max_tokens: 100, messages: [{ role: 'user' as const, content: PROMPT }], betas: ['prompt-caching-2024-07-31'] };
        if (stream) return (await client().beta.messages.stream(params).finalMessage()).usage;
        return (await client().beta.messages.create(params)).usage;
      });
      const [upstream] = gw.fakes.anthropic.received;
      expect(upstream.url).toBe('/v1/messages');
      expect(upstream.headers['anthropic-beta']).toBe('prompt-caching-2024-07-31');
      expect(charged).toMatchObject({ operation: 'messages', requests: 1, ...CLAUDE_CHARGED });
    }
  });

  it('a query string (?beta=true, as older SDKs send it) reaches the provider unchanged', async () => {
    prepare(gw.fakes.anthropic);
    const { call, charged } = await meteredCall(gw, 'anthropic', async () => {
      const response = await fetch(`${gw.services.anthropic.endpoint}/v1/messages?beta=true&x=a%2Fb`, {
        method: 'POST',
        headers: { 'x-api-key': gw.services.anthropic.key, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'prompt-caching-2024-07-31', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-sonnet-5-5', max_tokens: 100, messages: [{ role: 'user', content: PROMPT }] }),
      });
      return response.status;
    });
    expect(call).toBe(200);
    expect(gw.fakes.anthropic.received[0].url).toBe('/v1/messages?beta=true&x=a%2Fb');
    expect(charged).toMatchObject({ operation: 'messages', requests: 1, ...CLAUDE_CHARGED });
  });

  it('messages.countTokens is free; prompt caching (cache_control) is charged as billed', async () => {
    prepare(gw.fakes.anthropic);
    const counted = await meteredCall(gw, 'anthropic', () => client().messages.countTokens({ model: 'claude-sonnet-5-5', messages: [{ role: 'user', content: PROMPT }] }));
    expect(counted.call.input_tokens).toBe(BILLED.prompt);
    expect(counted.charged).toMatchObject({ operation: 'count_tokens', requests: 1, ...FREE });
    prepare(gw.fakes.anthropic);
    const cached = await meteredCall(gw, 'anthropic', () =>
      client().messages.create({ model: 'claude-sonnet-5-5', max_tokens: 100, system: [{ type: 'text', text: 'Long policy', cache_control: { type: 'ephemeral' } }], messages: [{ role: 'user', content: PROMPT }] }));
    expect(cached.call.usage.cache_read_input_tokens).toBe(BILLED.cachedRead);
    expect(cached.charged).toMatchObject({ operation: 'messages', requests: 1, ...CLAUDE_CHARGED });
  });

  it('messages.batches.create is charged nothing: the batch is billed when it runs', async () => {
    prepare(gw.fakes.anthropic);
    const requests = Array.from({ length: 50 }, (_, i) => ({ custom_id: `r${i}`, params: { model: 'claude-sonnet-5-5', max_tokens: 100, messages: [{ role: 'user' as const, content: `${PROMPT} ${i}` }] } }));
    const { call, charged } = await meteredCall(gw, 'anthropic', () => client().messages.batches.create({ requests }));
    expect(call.type).toBe('message_batch');
    expect(charged).toMatchObject({ requests: 1, ...FREE });
  });

  it('messages.batches.results reads the results through the proxy (the batch names them at a results_url under the proxy, not at the provider), charging the batch’s usage once', async () => {
    prepare(gw.fakes.anthropic);
    // Every earlier test waited for its request to be reported: from here on this test's requests add up.
    const totals = async () => {
      const rows = await usageRows(gw, gw.services.anthropic.connectionId);
      const sum = (name: keyof typeof CLAUDE_CHARGED | 'requests') => rows.reduce((total, row) => total + row[name], 0);
      return { requests: sum('requests'), promptTokens: sum('promptTokens'), completionTokens: sum('completionTokens'), cachedPromptReadTokens: sum('cachedPromptReadTokens'), cachedPromptWriteTokens: sum('cachedPromptWriteTokens'), reasoningTokens: sum('reasoningTokens') };
    };
    const start = await totals();
    /** What this test's requests were charged once `requests` of them are reported. */
    const chargedAfter = async (requests: number) => {
      const now = await waitFor(async () => {
        const current = await totals();
        return current.requests === start.requests + requests && current;
      }, `${requests} requests of the test to be reported`);
      return Object.fromEntries(Object.entries(now).map(([name, value]) => [name, value - start[name as keyof typeof start]]));
    };
    const requests = ['a', 'b', 'c'].map((id) => ({ custom_id: id, params: { model: 'claude-sonnet-5-5', max_tokens: 100, messages: [{ role: 'user' as const, content: `${PROMPT} ${id}` }] } }));
    const batch = await client().messages.batches.create({ requests });
    const ended = await client().messages.batches.retrieve(batch.id);
    expect(ended.processing_status).toBe('ended');
    // The provider names its own origin; the client is given the proxy's (this service's path on it).
    expect(ended.results_url).toBe(`${gw.services.anthropic.endpoint}/v1/messages/batches/${batch.id}/results`);
    const listed = await client().messages.batches.list();
    expect(listed.data.find((b) => b.id === batch.id)?.results_url).toBe(ended.results_url);
    const readResults = async (): Promise<string[]> => {
      const ids: string[] = [];
      for await (const line of await client().messages.batches.results(batch.id)) if (line.result.type === 'succeeded') ids.push(line.custom_id);
      return ids;
    };
    // The batch is billed through its results (each succeeded request's usage), read whole, once.
    // The SDK retrieves the batch, then reads its results_url: two requests per read.
    expect(await readResults()).toEqual(['a', 'b', 'c']);
    const times3 = Object.fromEntries(Object.entries(CLAUDE_CHARGED).map(([name, value]) => [name, 3 * value]));
    expect(await chargedAfter(5)).toEqual({ requests: 5, ...times3 });
    expect(await readResults()).toEqual(['a', 'b', 'c']);
    expect(await chargedAfter(7)).toEqual({ requests: 7, ...times3 });
    // Every request reached the provider through the proxy, with the provider's key.
    const paths = gw.fakes.anthropic.received.map((r) => `${r.method} ${r.path}`);
    const read = [`GET /v1/messages/batches/${batch.id}`, `GET /v1/messages/batches/${batch.id}/results`];
    expect(paths).toEqual(['POST /v1/messages/batches', `GET /v1/messages/batches/${batch.id}`, 'GET /v1/messages/batches', ...read, ...read]);
    expect(gw.fakes.anthropic.received.every((r) => r.headers['x-api-key'] === PROVIDER_SECRETS.anthropic)).toBe(true);
  });
});

describe('Mistral SDK', () => {
  const sdk = (operation: string, request: Record<string, unknown>) =>
    runMistralSdk({ serverURL: gw.services.mistral.endpoint, apiKey: gw.services.mistral.key, operation: operation as never, request });

  it('embeddings.create', async () => {
    prepare(gw.fakes.mistral, { prompt: BILLED.prompt, completion: 0 });
    const { call, charged } = await meteredCall(gw, 'mistral', () => sdk('embeddings.create', { model: 'mistral-embed', inputs: [PROMPT, 'b'] }));
    expect(call.error).toBeUndefined();
    expect(charged).toMatchObject({ operation: 'embeddings', requestModel: 'mistral-embed', requests: 1, ...EMBEDDING_CHARGED });
  });

  it.each([['fim.complete', 'fim'], ['fim.stream', 'fim'], ['agents.complete', 'agents'], ['agents.stream', 'agents']])('%s', async (operation, kind) => {
    prepare(gw.fakes.mistral, PLAIN);
    const driver = String.raw`
import { Mistral } from '@mistralai/mistralai';
export async function run(call) {
  const client = new Mistral({ serverURL: call.serverURL, apiKey: call.apiKey, retryConfig: { strategy: 'none' } });
  const [group, method] = call.operation.split('.');
  const request = group === 'fim' ? { model: 'codestral-latest', prompt: 'def f(', suffix: 'return 1' } : { agentId: 'ag-0123', messages: [{ role: 'user', content: 'Hi' }] };
  try {
    const result = await client[group][method](request);
    if (method === 'stream') { const events = []; for await (const e of result) events.push(e.data); return { result: events }; }
    return { result };
  } catch (error) { return { error: String(error) }; }
}`;
    const { call, charged } = await meteredCall(gw, 'mistral', () => runEsmDriver<{ result?: unknown; error?: string }>(driver, { serverURL: gw.services.mistral.endpoint, apiKey: gw.services.mistral.key, operation }, 'Mistral driver'));
    expect(call.error).toBeUndefined();
    expect(gw.fakes.mistral.received[0].path).toBe(`/v1/${kind}/completions`);
    expect(charged).toMatchObject({ operation: 'completions', requests: 1, ...PLAIN_CHARGED });
  });
  describe('batch jobs (billed only through their results)', () => {
    // Uploads a JSONL of three requests, runs a job over it (polled until SUCCESS) and downloads its
    // output file twice; or runs a job of two inline requests, reads it inline and downloads its file.
    const driver = String.raw`
import { Mistral } from '@mistralai/mistralai';
export async function run(call) {
  const client = new Mistral({ serverURL: call.serverURL, apiKey: call.apiKey, retryConfig: { strategy: 'none' } });
  const request = (id) => ({ max_tokens: 50, messages: [{ role: 'user', content: 'Question ' + id }] });
  let job;
  if (call.inline) {
    const ids = call.requests ?? ['x', 'y'];
    job = await client.batch.jobs.create({ requests: ids.map((id) => ({ customId: id, body: request(id) })), model: 'mistral-small-latest', endpoint: '/v1/chat/completions' });
  } else {
    const lines = ['a', 'b', 'c'].map((id) => JSON.stringify({ custom_id: id, body: request(id) })).join('\n');
    const file = await client.files.upload({ file: { fileName: 'requests.jsonl', content: new TextEncoder().encode(lines) }, purpose: 'batch' });
    job = await client.batch.jobs.create({ inputFiles: [file.id], model: 'mistral-small-latest', endpoint: '/v1/chat/completions' });
  }
  const statuses = [];
  while (job.status !== 'SUCCESS') {
    job = await client.batch.jobs.get({ jobId: job.id, inline: call.inline });
    statuses.push(job.status);
  }
  for (let i = 0; i < (call.rereads ?? 0); i++) job = await client.batch.jobs.get({ jobId: job.id, inline: call.inline });
  const inline = (job.outputs ?? []).map((output) => output.custom_id);
  const downloads = [];
  for (let i = 0; i < call.downloads; i++) {
    const text = await new Response(await client.files.download({ fileId: job.outputFile })).text();
    downloads.push(text.trim().split('\n').map((line) => JSON.parse(line).custom_id));
  }
  return { statuses, inline, downloads };
}`;
    const run = (inline: boolean, downloads: number, more: { requests?: string[]; rereads?: number } = {}) =>
      runEsmDriver<{ statuses: string[]; inline: string[]; downloads: string[][] }>(driver, { serverURL: gw.services.mistral.endpoint, apiKey: gw.services.mistral.key, inline, downloads, ...more }, 'Mistral batch driver');
    const times = (n: number) => ({ promptTokens: n * BILLED.prompt, completionTokens: n * BILLED.completion });

    it('a job over an uploaded file is charged its requests’ usage once, from its output file read whole (twice)', async () => {
      prepare(gw.fakes.mistral, PLAIN);
      let outcome: Awaited<ReturnType<typeof run>> | undefined;
      // upload, create, two reads (RUNNING, SUCCESS), two downloads
      const charged = await meteredMany(gw, 'mistral', 6, async () => void (outcome = await run(false, 2)));
      expect(outcome).toEqual({ statuses: ['RUNNING', 'SUCCESS'], inline: [], downloads: [['a', 'b', 'c'], ['a', 'b', 'c']] });
      expect(charged).toMatchObject({ requests: 6, ...times(3) });
      // The output file went through the proxy, with the provider's key.
      const paths = gw.fakes.mistral.received.map((r) => `${r.method} ${r.path}`);
      expect(paths.filter((path) => path.endsWith('/content'))).toHaveLength(2);
      expect(gw.fakes.mistral.received.every((r) => r.headers.authorization === `Bearer ${PROVIDER_SECRETS.mistral}`)).toBe(true);
    });

    it('a job of inline requests read inline is charged once, and its output file downloaded afterwards charges nothing more', async () => {
      prepare(gw.fakes.mistral, PLAIN);
      let outcome: Awaited<ReturnType<typeof run>> | undefined;
      // create, two reads (the second shows the outputs inline), one download
      const charged = await meteredMany(gw, 'mistral', 4, async () => void (outcome = await run(true, 1)));
      expect(outcome).toEqual({ statuses: ['RUNNING', 'SUCCESS'], inline: ['x', 'y'], downloads: [['x', 'y']] });
      expect(charged).toMatchObject({ requests: 4, ...times(2) });
    });

    it('a job of 400 inline requests, its answer too large to parse whole (~1 MB), read inline twice and never downloaded, is charged once', async () => {
      prepare(gw.fakes.mistral, PLAIN);
      gw.fakes.mistral.behaviour.content = 'All work and no play makes a long answer. '.repeat(50);
      const requests = Array.from({ length: 400 }, (_, i) => `r${i}`);
      let outcome: Awaited<ReturnType<typeof run>> | undefined;
      // create, two reads (RUNNING, SUCCESS with the outputs), one more read
      const charged = await meteredMany(gw, 'mistral', 4, async () => void (outcome = await run(true, 0, { requests, rereads: 1 })));
      expect(outcome?.statuses).toEqual(['RUNNING', 'SUCCESS']);
      expect(outcome?.inline).toEqual(requests);
      expect(charged).toMatchObject({ requests: 4, ...times(400) });
    });
  });
});

describe('AWS SDK (Bedrock Runtime)', () => {
  const client = (service: 'bedrock' | 'bedrockApiKey' = 'bedrock') =>
    new BedrockRuntimeClient({ endpoint: gw.services[service].endpoint, region: PROVIDER_SECRETS.awsRegion, token: { token: gw.services[service].key }, authSchemePreference: ['httpBearerAuth'], maxAttempts: 1 });

  it('ConverseStream with tools is metered from its metadata event', async () => {
    prepare(gw.fakes.bedrock);
    const bedrock = client();
    const { charged } = await meteredCall(gw, 'bedrock', async () => {
      const reply = await bedrock.send(new ConverseStreamCommand({
        modelId: BEDROCK_MODEL,
        messages: [{ role: 'user', content: [{ text: PROMPT }] }],
        toolConfig: { tools: [{ toolSpec: { name: 'weather', inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } } } } } }] },
      }));
      for await (const _ of reply.stream!) void _;
    });
    bedrock.destroy();
    expect(charged).toMatchObject({ operation: 'converse_stream', requests: 1, ...CLAUDE_CHARGED });
  });

  it('InvokeModel of Titan Text Embeddings is charged the input token count Bedrock reported', async () => {
    const modelId = 'amazon.titan-embed-text-v2:0';
    prepare(gw.fakes.bedrock, { prompt: BILLED.prompt, completion: 0 });
    const bedrock = client();
    const body = { inputText: PROMPT };
    const { charged } = await meteredCall(gw, 'bedrock', () => bedrock.send(new InvokeModelCommand({ modelId, body: JSON.stringify(body), contentType: 'application/json', accept: 'application/json' })));
    bedrock.destroy();
    expect(charged).toMatchObject({ operation: 'invoke', requestModel: modelId, requests: 1, ...EMBEDDING_CHARGED });
  });

  it('CountTokens is free', async () => {
    prepare(gw.fakes.bedrock);
    const bedrock = client();
    const { call, charged } = await meteredCall(gw, 'bedrock', () => bedrock.send(new CountTokensCommand({ modelId: BEDROCK_MODEL, input: { converse: { messages: [{ role: 'user', content: [{ text: PROMPT }] }] } } })));
    bedrock.destroy();
    expect(call.inputTokens).toBe(BILLED.prompt);
    expect(gw.fakes.bedrock.received[0].path).toBe('/model/anthropic.claude-3-haiku-20240307-v1%3A0/count-tokens');
    expect(charged).toMatchObject({ operation: 'count_tokens', requests: 1, ...FREE });
  });
});
