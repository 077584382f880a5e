// OpenAI background Responses (`background: true`) read through the proxies in every way the API
// allows: the provider bills such a response once, so its usage is charged once, whichever request
// and whichever proxy sees it — a streamed create cut and resumed on another proxy
// (`starting_after`), a queued create polled until completed and retrieved again, a stream read to
// the end and replayed. Official `openai` SDK, real proxies, the control plane's usage totals.
import OpenAI, { AzureOpenAI, toFile } from 'openai';
import type { DataPlaneHandle } from '../../data-plane/src/main';
import { FAKE_TRAINED_TOKENS } from '../fakes/openai';
import { type Gateway, PROVIDER_SECRETS, type ServiceName, startGateway } from '../support/gateway-harness';
import { usageRows } from '../support/usage-report';
import { waitFor } from '../support/wait';

/** What the fake OpenAI bills every response (above any count the proxy makes of these small requests). */
const BILLED = { prompt: 50, completion: 40 };
const CONTENT = 'Once upon a time a small robot learned to paint the sea at night.';

let gw: Gateway;
let second: DataPlaneHandle;

beforeAll(async () => {
  gw = await startGateway({ rateLimiting: { usageReportIntervalMs: 100 } });
  second = await gw.startProxy();
});
afterAll(async () => {
  await gw?.stop();
});
beforeEach(() => {
  gw.fakes.openai.reset();
  gw.fakes.azure.reset();
  gw.fakes.azure.behaviour.usage = { ...BILLED };
  gw.fakes.openai.behaviour.usage = { ...BILLED };
  gw.fakes.openai.behaviour.content = CONTENT;
});

function clientOf(proxy: DataPlaneHandle): OpenAI {
  return new OpenAI({ baseURL: `${proxy.url}/acme${gw.services.openai.contextPath}`, apiKey: gw.services.openai.key, maxRetries: 0 });
}

interface Totals {
  requests: number;
  promptTokens: number;
  completionTokens: number;
}

async function totals(service: ServiceName = 'openai'): Promise<Totals> {
  const rows = await usageRows(gw, gw.services[service].connectionId);
  return rows.reduce((sum, row) => ({ requests: sum.requests + row.requests, promptTokens: sum.promptTokens + row.promptTokens, completionTokens: sum.completionTokens + row.completionTokens }), { requests: 0, promptTokens: 0, completionTokens: 0 });
}

/** The tokens charged by the next `requests` requests `calls` makes (waits until all of them are reported). */
async function chargedFor(requests: number, calls: () => Promise<void>, service: ServiceName = 'openai'): Promise<Totals> {
  const before = await totals(service);
  await calls();
  const after = await waitFor(async () => {
    const now = await totals(service);
    return now.requests === before.requests + requests && now;
  }, `${requests} requests to be reported`);
  // A charge reported late (a request settled twice) would show up after the last request's.
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect((await totals(service)).requests).toBe(after.requests);
  return { requests: requests, promptTokens: after.promptTokens - before.promptTokens, completionTokens: after.completionTokens - before.completionTokens };
}

const ONCE = { promptTokens: BILLED.prompt, completionTokens: BILLED.completion };

it('a streamed background response cut and resumed on another proxy is charged once', async () => {
  let id = '';
  let lastSeen = -1;
  const resumedTypes: string[] = [];
  const charged = await chargedFor(3, async () => {
    gw.fakes.openai.behaviour.cutStreamAfterChunks = 6;
    const stream = await clientOf(gw.proxy).responses.create({ model: 'gpt-4o-mini', input: 'Tell me a story', background: true, stream: true });
    await expect(
      (async () => {
        for await (const event of stream) {
          lastSeen = event.sequence_number;
          if (event.type === 'response.created') id = event.response.id;
        }
      })(),
    ).rejects.toThrow();
    expect(lastSeen).toBe(5);
    delete gw.fakes.openai.behaviour.cutStreamAfterChunks;
    // The rest of the stream, from another proxy: its response.completed carries the usage.
    const resumed = await clientOf(second).responses.retrieve(id, { stream: true, starting_after: lastSeen });
    for await (const event of resumed) resumedTypes.push(event.type);
    // And the finished response, retrieved: it shows the same usage.
    const retrieved = await clientOf(gw.proxy).responses.retrieve(id);
    expect(retrieved.usage).toMatchObject({ input_tokens: BILLED.prompt, output_tokens: BILLED.completion });
  });
  expect(resumedTypes[resumedTypes.length - 1]).toBe('response.completed');
  expect(resumedTypes).not.toContain('response.created');
  expect(charged).toMatchObject(ONCE);
});

it('a background response polled until completed, and retrieved again, is charged once', async () => {
  const charged = await chargedFor(4, async () => {
    const client = clientOf(gw.proxy);
    const created = await client.responses.create({ model: 'gpt-4o-mini', input: 'Tell me a story', background: true });
    expect(created).toMatchObject({ status: 'queued', background: true, usage: null });
    let polled = await clientOf(second).responses.retrieve(created.id);
    expect(polled.status).toBe('in_progress');
    polled = await client.responses.retrieve(created.id);
    expect(polled).toMatchObject({ status: 'completed', usage: { input_tokens: BILLED.prompt, output_tokens: BILLED.completion } });
    // Polled once more (another tab, a retry): the same usage, already charged.
    await clientOf(second).responses.retrieve(created.id);
  });
  expect(charged).toMatchObject(ONCE);
});

it('a background stream read to the end and then replayed from its start is charged once', async () => {
  const charged = await chargedFor(2, async () => {
    const client = clientOf(gw.proxy);
    let id = '';
    let completed = false;
    for await (const event of await client.responses.create({ model: 'gpt-4o-mini', input: 'Tell me a story', background: true, stream: true })) {
      if (event.type === 'response.created') id = event.response.id;
      if (event.type === 'response.completed') completed = true;
    }
    expect(completed).toBe(true);
    const replayed: string[] = [];
    for await (const event of await clientOf(second).responses.retrieve(id, { stream: true })) replayed.push(event.type);
    expect(replayed[0]).toBe('response.created');
    expect(replayed[replayed.length - 1]).toBe('response.completed');
  });
  expect(charged).toMatchObject(ONCE);
});

it('an ordinary (not background) Response is still charged by its create alone', async () => {
  const charged = await chargedFor(1, async () => {
    const response = await clientOf(gw.proxy).responses.create({ model: 'gpt-4o-mini', input: 'Tell me a story' });
    expect(response.usage).toMatchObject({ input_tokens: BILLED.prompt, output_tokens: BILLED.completion });
  });
  expect(charged).toMatchObject(ONCE);
});

it('a batch polled through two proxies until it completes, then retrieved again, is charged its usage once', async () => {
  let batchId = '';
  const statuses: string[] = [];
  // Created, polled through alternating proxies until completed (validating → in_progress →
  // finalizing → completed), then read twice more: 1 + 3 + 2 requests.
  const charged = await chargedFor(6, async () => {
    const batch = await clientOf(gw.proxy).batches.create({ input_file_id: 'file-abc123', endpoint: '/v1/chat/completions', completion_window: '24h' });
    batchId = batch.id;
    for (let i = 0; i < 5; i++) statuses.push((await clientOf(i % 2 === 0 ? second : gw.proxy).batches.retrieve(batchId)).status);
  });
  expect(statuses).toEqual(['in_progress', 'finalizing', 'completed', 'completed', 'completed']);
  // The fake's batch holds two requests: it reports (and OpenAI bills) twice the per-request usage.
  expect(charged).toEqual({ requests: 6, promptTokens: 2 * BILLED.prompt, completionTokens: 2 * BILLED.completion });
});

it('a batch only ever listed (its output file named in the list) is charged its usage once, by the list that first shows it finished', async () => {
  let batchId = '';
  const statuses: string[] = [];
  // Created, then listed through alternating proxies (each read moves it one status on) until
  // completed and twice after: 1 + 5 requests.
  const charged = await chargedFor(6, async () => {
    batchId = (await clientOf(gw.proxy).batches.create({ input_file_id: 'file-abc123', endpoint: '/v1/chat/completions', completion_window: '24h' })).id;
    for (let i = 0; i < 5; i++) {
      const page = await clientOf(i % 2 === 0 ? second : gw.proxy).batches.list();
      statuses.push(page.data.find((batch) => batch.id === batchId)?.status ?? 'missing');
    }
  });
  expect(statuses).toEqual(['in_progress', 'finalizing', 'completed', 'completed', 'completed']);
  expect(charged).toEqual({ requests: 6, promptTokens: 2 * BILLED.prompt, completionTokens: 2 * BILLED.completion });
  // A retrieval afterwards finds it charged.
  expect(await chargedFor(1, async () => void (await clientOf(second).batches.retrieve(batchId)))).toEqual({ requests: 1, promptTokens: 0, completionTokens: 0 });
});

/** Downloads a file's content through `proxy` with the SDK and returns the custom ids of its lines. */
async function downloadedIds(proxy: DataPlaneHandle, fileId: string): Promise<string[]> {
  const text = await (await clientOf(proxy).files.content(fileId)).text();
  return text.trim().split('\n').map((line) => (JSON.parse(line) as { custom_id: string }).custom_id);
}

/** Creates a batch and retrieves it through alternating proxies until completed (1 + 3 requests); its output file id. */
async function completedBatch(): Promise<string> {
  const created = await clientOf(gw.proxy).batches.create({ input_file_id: 'file-abc123', endpoint: '/v1/chat/completions', completion_window: '24h' });
  let batch = created;
  for (let i = 0; batch.status !== 'completed'; i++) batch = await clientOf(i % 2 === 0 ? second : gw.proxy).batches.retrieve(created.id);
  if (batch.output_file_id === null || batch.output_file_id === undefined) throw new Error('the completed batch names no output file');
  return batch.output_file_id;
}

it('a batch’s output file downloaded after the batch was charged charges nothing more (the batch and its file are charged under one id)', async () => {
  let outputFile = '';
  const charged = await chargedFor(4, async () => void (outputFile = await completedBatch()));
  expect(charged).toEqual({ requests: 4, promptTokens: 2 * BILLED.prompt, completionTokens: 2 * BILLED.completion });
  const downloads = await chargedFor(2, async () => {
    expect(await downloadedIds(second, outputFile)).toEqual(['request-1', 'request-2']);
    expect(await downloadedIds(gw.proxy, outputFile)).toEqual(['request-1', 'request-2']);
  });
  expect(downloads).toEqual({ requests: 2, promptTokens: 0, completionTokens: 0 });
});

it('a batch whose Batch object reports no usage is charged from its output file, read whole, once', async () => {
  gw.fakes.openai.behaviour.batchUsage = false;
  let outputFile = '';
  // Retrievals that show it completed without usage charge nothing, and leave it to its file.
  expect(await chargedFor(4, async () => void (outputFile = await completedBatch()))).toEqual({ requests: 4, promptTokens: 0, completionTokens: 0 });
  const first = await chargedFor(1, async () => expect(await downloadedIds(gw.proxy, outputFile)).toEqual(['request-1', 'request-2']));
  expect(first).toEqual({ requests: 1, promptTokens: 2 * BILLED.prompt, completionTokens: 2 * BILLED.completion });
  // Through the other proxy, and a retrieval of the batch afterwards: nothing more.
  const again = await chargedFor(1, async () => expect(await downloadedIds(second, outputFile)).toEqual(['request-1', 'request-2']));
  expect(again).toEqual({ requests: 1, promptTokens: 0, completionTokens: 0 });
});

it('an Azure OpenAI batch (AzureOpenAI client, dated api-version) whose Batch reports no usage is charged once, from its output file', async () => {
  gw.fakes.azure.behaviour.batchUsage = false;
  const azureOf = (proxy: DataPlaneHandle) =>
    new AzureOpenAI({ endpoint: `${proxy.url}/acme${gw.services.azure.contextPath}`, apiKey: gw.services.azure.key, apiVersion: '2025-03-01-preview', maxRetries: 0 });
  let outputFile = '';
  const polled = await chargedFor(
    4,
    async () => {
      const created = await azureOf(gw.proxy).batches.create({ input_file_id: 'file-abc123', endpoint: '/v1/chat/completions', completion_window: '24h' });
      let batch = created;
      for (let i = 0; batch.status !== 'completed'; i++) batch = await azureOf(i % 2 === 0 ? second : gw.proxy).batches.retrieve(created.id);
      outputFile = batch.output_file_id ?? '';
    },
    'azure',
  );
  expect(polled).toEqual({ requests: 4, promptTokens: 0, completionTokens: 0 });
  const read = async (proxy: DataPlaneHandle) => (await (await azureOf(proxy).files.content(outputFile)).text()).trim().split('\n').length;
  expect(await chargedFor(2, async () => void expect([await read(second), await read(gw.proxy)]).toEqual([2, 2]), 'azure')).toEqual({ requests: 2, promptTokens: 2 * BILLED.prompt, completionTokens: 2 * BILLED.completion });
  // Every request reached Azure's own paths with the service's key and the client's api-version.
  const received = gw.fakes.azure.received;
  expect(received.map((r) => `${r.method} ${r.path}`)).toEqual([
    'POST /openai/batches',
    ...Array.from({ length: 3 }, () => expect.stringMatching(/^GET \/openai\/batches\/batch_/)),
    `GET /openai/files/${outputFile}/content`,
    `GET /openai/files/${outputFile}/content`,
  ]);
  expect(received.every((r) => r.headers['api-key'] === PROVIDER_SECRETS.azure && r.query['api-version'] === '2025-03-01-preview')).toBe(true);
});

it('a file the client uploaded, read back through the proxy, is never charged the usage its own lines claim', async () => {
  // Lines shaped as a batch's output, claiming 10^9 tokens each, uploaded and downloaded by the app.
  const forged = [1, 2].map((n) => JSON.stringify({ id: `batch_req_${n}`, custom_id: `request-${n}`, response: { status_code: 200, body: { object: 'chat.completion', model: 'gpt-4o-mini', usage: { prompt_tokens: 1e9, completion_tokens: 1e9 } } }, error: null })).join('\n');
  let fileId = '';
  const uploaded = await chargedFor(1, async () => {
    fileId = (await clientOf(gw.proxy).files.create({ file: await toFile(Buffer.from(forged), 'forged.jsonl'), purpose: 'batch' })).id;
  });
  expect(uploaded).toEqual({ requests: 1, promptTokens: 0, completionTokens: 0 });
  // Read back at once, through either proxy: the upload's answer reached the client only once the file was marked.
  const downloaded = await chargedFor(2, async () => {
    expect(await downloadedIds(gw.proxy, fileId)).toEqual(['request-1', 'request-2']);
    expect(await downloadedIds(second, fileId)).toEqual(['request-1', 'request-2']);
  });
  expect(downloaded).toEqual({ requests: 2, promptTokens: 0, completionTokens: 0 });
});

it('an eval run polled through two proxies until completed, and listed afterwards, is charged the usage of every model it called, once', async () => {
  let runId = '';
  const statuses: string[] = [];
  // Created, then retrieved through alternating proxies (queued → in_progress → completed) and once more: 1 + 3 requests.
  const charged = await chargedFor(4, async () => {
    const run = await clientOf(gw.proxy).evals.runs.create('eval_123', { name: 'nightly', data_source: { type: 'jsonl', source: { type: 'file_id', id: 'file-abc123' } } });
    runId = run.id;
    for (let i = 0; i < 3; i++) statuses.push((await clientOf(i % 2 === 0 ? second : gw.proxy).evals.runs.retrieve(runId, { eval_id: 'eval_123' })).status);
  });
  expect(statuses).toEqual(['in_progress', 'completed', 'completed']);
  // Three items, each sampled once and graded once by a model: 6 calls of the billed usage.
  expect(charged).toEqual({ requests: 4, promptTokens: 6 * BILLED.prompt, completionTokens: 6 * BILLED.completion });
  const listed = await chargedFor(1, async () => {
    const page = await clientOf(second).evals.runs.list('eval_123');
    expect(page.data.find((run) => run.id === runId)?.status).toBe('completed');
  });
  expect(listed).toEqual({ requests: 1, promptTokens: 0, completionTokens: 0 });
});

describe('fine-tuning jobs: the training is billed per trained token, once the job ends', () => {
  const create = (proxy: DataPlaneHandle) => clientOf(proxy).fineTuning.jobs.create({ model: 'gpt-4o-mini-2024-07-18', training_file: 'file-abc123' });

  it('polled through two proxies until it succeeded, retrieved and listed again: charged its trained tokens once', async () => {
    let jobId = '';
    const statuses: string[] = [];
    // Created (0/0: nothing trained yet), then retrieved through alternating proxies and once more: 1 + 4 requests.
    const charged = await chargedFor(5, async () => {
      jobId = (await create(gw.proxy)).id;
      for (let i = 0; i < 4; i++) statuses.push((await clientOf(i % 2 === 0 ? second : gw.proxy).fineTuning.jobs.retrieve(jobId)).status);
    });
    expect(statuses).toEqual(['queued', 'running', 'succeeded', 'succeeded']);
    expect(charged).toEqual({ requests: 5, promptTokens: FAKE_TRAINED_TOKENS, completionTokens: 0 });
    const listed = await chargedFor(1, async () => {
      const page = await clientOf(second).fineTuning.jobs.list();
      expect(page.data.find((job) => job.id === jobId)?.trained_tokens).toBe(FAKE_TRAINED_TOKENS);
    });
    expect(listed).toEqual({ requests: 1, promptTokens: 0, completionTokens: 0 });
  });

  it('first seen ended in a list: charged there, and not again when retrieved', async () => {
    let jobId = '';
    // Each list moves every job one status on: the third shows this one succeeded.
    const charged = await chargedFor(4, async () => {
      jobId = (await create(second)).id;
      for (let i = 0; i < 3; i++) await clientOf(i % 2 === 0 ? gw.proxy : second).fineTuning.jobs.list();
    });
    expect(charged).toEqual({ requests: 4, promptTokens: FAKE_TRAINED_TOKENS, completionTokens: 0 });
    const retrieved = await chargedFor(1, async () => {
      expect((await clientOf(gw.proxy).fineTuning.jobs.retrieve(jobId)).status).toBe('succeeded');
    });
    expect(retrieved).toEqual({ requests: 1, promptTokens: 0, completionTokens: 0 });
  });

  it('Azure OpenAI (AzureOpenAI client): polled until it succeeded, charged its trained tokens once', async () => {
    const azureOf = (proxy: DataPlaneHandle) => new AzureOpenAI({ endpoint: `${proxy.url}/acme${gw.services.azure.contextPath}`, apiKey: gw.services.azure.key, apiVersion: '2025-03-01-preview', maxRetries: 0 });
    const charged = await chargedFor(
      5,
      async () => {
        const { id } = await azureOf(gw.proxy).fineTuning.jobs.create({ model: 'gpt-4o-mini-2024-07-18', training_file: 'file-abc123' });
        const statuses: string[] = [];
        for (let i = 0; i < 4; i++) statuses.push((await azureOf(i % 2 === 0 ? second : gw.proxy).fineTuning.jobs.retrieve(id)).status);
        expect(statuses).toEqual(['queued', 'running', 'succeeded', 'succeeded']);
      },
      'azure',
    );
    expect(charged).toEqual({ requests: 5, promptTokens: FAKE_TRAINED_TOKENS, completionTokens: 0 });
    expect(gw.fakes.azure.received.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /openai/fine_tuning/jobs', ...Array.from({ length: 4 }, () => expect.stringMatching(/^GET \/openai\/fine_tuning\/jobs\/ftjob-/))]);
  });

  it('cancelled while training: charged what it trained, once', async () => {
    const charged = await chargedFor(5, async () => {
      const { id } = await create(gw.proxy);
      await clientOf(second).fineTuning.jobs.retrieve(id); // queued
      await clientOf(gw.proxy).fineTuning.jobs.retrieve(id); // running
      expect((await clientOf(second).fineTuning.jobs.cancel(id)).status).toBe('cancelled');
      expect((await clientOf(gw.proxy).fineTuning.jobs.retrieve(id)).trained_tokens).toBe(Math.floor(FAKE_TRAINED_TOKENS / 3));
    });
    expect(charged).toEqual({ requests: 5, promptTokens: Math.floor(FAKE_TRAINED_TOKENS / 3), completionTokens: 0 });
  });
});
