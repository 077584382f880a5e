import type { UsageBatchMessage, UsageRecordMessage } from '../config-stream/wire-types';
import type { TokenUsage } from '../providers/usage-accounting';
import { type UsageEvent, UsageReporter } from './usage-reporter';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 11, 1, 10, 15, 0); // 10:15:00.000Z

function event(overrides: Partial<UsageEvent> & { usage?: TokenUsage } = {}): UsageEvent {
  return {
    serviceId: 'svc-1',
    organizationId: 'org-1',
    projectId: 'prj-1',
    connectionId: 'conn-1',
    operation: 'chat_completions',
    requestModel: 'gpt-4o',
    responseModel: 'gpt-4o-2024-08-06',
    usage: { promptTokens: 10, completionTokens: 5 },
    status: 200,
    ...overrides,
  };
}

/** A reporter whose clock the test sets and whose batches it collects; its timer never fires on its own. */
function reporter(proxyId = 'proxy-a'): { reporter: UsageReporter; batches: UsageBatchMessage[]; at: (ms: number) => void } {
  const batches: UsageBatchMessage[] = [];
  let now = T0;
  const instance = new UsageReporter({ deliver: (batch) => batches.push(batch), proxyId, intervalMs: 3_600_000, now: () => now });
  return {
    reporter: instance,
    batches,
    at: (ms) => {
      now = ms;
    },
  };
}

function record(overrides: Partial<UsageRecordMessage> = {}): UsageRecordMessage {
  return {
    service_id: 'svc-1',
    connection_id: 'conn-1',
    organization_id: 'org-1',
    project_id: 'prj-1',
    operation: 'chat_completions',
    request_model: 'gpt-4o',
    response_model: 'gpt-4o-2024-08-06',
    window_unit: 'MINUTE',
    window_start: '2026-12-01T10:15:00.000Z',
    prompt_tokens: '0',
    completion_tokens: '0',
    total_tokens: '0',
    cached_prompt_read_tokens: '0',
    cached_prompt_write_tokens: '0',
    reasoning_tokens: '0',
    requests: '0',
    errors_4xx: '0',
    errors_5xx: '0',
    would_have_refused: '0',
    ...overrides,
  };
}

describe('UsageReporter', () => {
  const open: UsageReporter[] = [];
  afterEach(() => {
    for (const instance of open.splice(0)) instance.close();
  });
  function started(proxyId?: string): ReturnType<typeof reporter> {
    const made = reporter(proxyId);
    open.push(made.reporter);
    return made;
  }

  it('sums the requests of one minute and dimension into one record', () => {
    const { reporter: r, batches, at } = started();
    r.record(event({ usage: { promptTokens: 100, completionTokens: 20 } }));
    at(T0 + 59_999); // still 10:15
    r.record(event({ usage: { promptTokens: 1, completionTokens: 2 } }));
    r.flush();
    expect(batches).toHaveLength(1);
    expect(batches[0].records).toEqual([record({ prompt_tokens: '101', completion_tokens: '22', total_tokens: '123', requests: '2' })]);
  });

  it('keeps minutes and every dimension apart', () => {
    const { reporter: r, batches, at } = started();
    const variants: Array<Partial<UsageEvent>> = [
      {},
      { serviceId: 'svc-2' },
      { connectionId: 'conn-2' },
      { operation: 'embeddings' },
      { requestModel: 'gpt-4o-mini' },
      { responseModel: '' },
    ];
    for (const variant of variants) r.record(event(variant));
    at(T0 + MINUTE);
    r.record(event());
    r.flush();
    const records = batches[0].records;
    expect(records).toHaveLength(variants.length + 1);
    // In any order: a batch is a set of records.
    expect(records.map((rec) => [rec.window_start, rec.service_id, rec.connection_id, rec.operation, rec.request_model, rec.response_model])).toEqual(expect.arrayContaining([
      ['2026-12-01T10:15:00.000Z', 'svc-1', 'conn-1', 'chat_completions', 'gpt-4o', 'gpt-4o-2024-08-06'],
      ['2026-12-01T10:15:00.000Z', 'svc-2', 'conn-1', 'chat_completions', 'gpt-4o', 'gpt-4o-2024-08-06'],
      ['2026-12-01T10:15:00.000Z', 'svc-1', 'conn-2', 'chat_completions', 'gpt-4o', 'gpt-4o-2024-08-06'],
      ['2026-12-01T10:15:00.000Z', 'svc-1', 'conn-1', 'embeddings', 'gpt-4o', 'gpt-4o-2024-08-06'],
      ['2026-12-01T10:15:00.000Z', 'svc-1', 'conn-1', 'chat_completions', 'gpt-4o-mini', 'gpt-4o-2024-08-06'],
      ['2026-12-01T10:15:00.000Z', 'svc-1', 'conn-1', 'chat_completions', 'gpt-4o', ''],
      ['2026-12-01T10:16:00.000Z', 'svc-1', 'conn-1', 'chat_completions', 'gpt-4o', 'gpt-4o-2024-08-06'],
    ]));
    for (const rec of records) expect(rec.requests).toBe('1');
  });

  it('counts errors by the status class the client was answered: 4xx (499 included), 5xx (0: never answered)', () => {
    const { reporter: r, batches } = started();
    for (const status of [200, 201, 304, 400, 404, 429, 499, 500, 502, 504, 0]) r.record(event({ status, usage: { promptTokens: 0, completionTokens: 0 } }));
    r.flush();
    expect(batches[0].records).toEqual([record({ requests: '11', errors_4xx: '4', errors_5xx: '4' })]);
  });

  it('sums cached and reasoning tokens, absent details counting 0', () => {
    const { reporter: r, batches } = started();
    r.record(event({ usage: { promptTokens: 2006, completionTokens: 300, cachedReadTokens: 1920, reasoningTokens: 128 } }));
    r.record(event({ usage: { promptTokens: 500, completionTokens: 10, cachedReadTokens: 100, cachedWriteTokens: 380 } }));
    r.record(event({ usage: { promptTokens: 4, completionTokens: 1 } }));
    r.flush();
    expect(batches[0].records).toEqual([
      record({
        prompt_tokens: '2510',
        completion_tokens: '311',
        total_tokens: '2821',
        cached_prompt_read_tokens: '2020',
        cached_prompt_write_tokens: '380',
        reasoning_tokens: '128',
        requests: '3',
      }),
    ]);
  });

  it('hands over batches with unique, increasing ids, and nothing when idle', () => {
    const { reporter: r, batches } = started('proxy-a');
    r.flush();
    expect(batches).toHaveLength(0);
    for (let i = 0; i < 12; i += 1) {
      r.record(event());
      r.flush();
    }
    r.flush(); // emptied by the last flush: nothing to hand over
    expect(batches).toHaveLength(12);
    const ids = batches.map((batch) => batch.batch_id);
    expect(new Set(ids).size).toBe(12);
    const sequence = ids.map((id) => {
      const match = /^proxy-a:([0-9a-f]+):(\d+)$/.exec(id);
      expect(match).not.toBeNull();
      return Number(match?.[2]);
    });
    for (let i = 1; i < sequence.length; i += 1) expect(sequence[i]).toBeGreaterThan(sequence[i - 1]);
    for (const batch of batches) expect(batch.records).toEqual([record({ prompt_tokens: '10', completion_tokens: '5', total_tokens: '15', requests: '1' })]);
  });

  it('gives a restarted proxy (same id) batch ids that differ from its previous life', () => {
    const first = started('proxy-a');
    const second = started('proxy-a');
    first.reporter.record(event());
    second.reporter.record(event());
    first.reporter.flush();
    second.reporter.flush();
    expect(first.batches[0].batch_id).not.toBe(second.batches[0].batch_id);
  });

  it('cuts model names longer than 256 characters, so they share a record', () => {
    const { reporter: r, batches } = started();
    const long = 'm'.repeat(256);
    r.record(event({ requestModel: `${long}-one`, responseModel: `${long}-two` }));
    r.record(event({ requestModel: `${long}-three`, responseModel: long }));
    r.flush();
    expect(batches[0].records).toEqual([record({ request_model: long, response_model: long, prompt_tokens: '20', completion_tokens: '10', total_tokens: '30', requests: '2' })]);
  });

  it('flushes on its interval and once more on close', () => {
    jest.useFakeTimers({ now: T0 });
    try {
      const batches: UsageBatchMessage[] = [];
      const r = new UsageReporter({ deliver: (batch) => batches.push(batch), proxyId: 'p', intervalMs: 1000 });
      r.record(event());
      jest.advanceTimersByTime(999);
      expect(batches).toHaveLength(0);
      jest.advanceTimersByTime(1);
      expect(batches).toHaveLength(1);
      r.record(event());
      r.close();
      expect(batches).toHaveLength(2);
      jest.advanceTimersByTime(10_000);
      r.record(event());
      jest.advanceTimersByTime(10_000);
      expect(batches).toHaveLength(2); // closed: the timer is gone
    } finally {
      jest.useRealTimers();
    }
  });
});
