import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { DataPlaneMetrics, type ExchangeObservation, ModelLabels } from './data-plane-metrics';

function exchange(overrides: Partial<ExchangeObservation> = {}): ExchangeObservation {
  return {
    serviceId: 'svc-1',
    provider: 'openai',
    operation: 'chat_completions',
    requestModel: 'gpt-4o',
    responseModel: 'gpt-4o-2024-08-06',
    status: 200,
    durationSeconds: 1.5,
    firstByteSeconds: 0.4,
    firstChunkSeconds: null,
    usage: { promptTokens: 120, completionTokens: 30 },
    ...overrides,
  };
}

type Sample = MetricValue<string> & { metricName?: string };

async function samples(metrics: DataPlaneMetrics, name: string): Promise<Sample[]> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((each) => each.name === name) as MetricObjectWithValues<MetricValue<string>> | undefined;
  if (metric === undefined) throw new Error(`no metric ${name}`);
  return metric.values as Sample[];
}

/** A histogram's `_count` and `_sum` samples, keyed by their labels (as JSON, without `le`). */
type Labels = Partial<Record<string, string | number>>;

async function histogram(metrics: DataPlaneMetrics, name: string): Promise<Array<{ labels: Labels; count: number; sum: number }>> {
  const rows = new Map<string, { labels: Labels; count: number; sum: number }>();
  for (const sample of await samples(metrics, name)) {
    if (sample.metricName !== `${name}_count` && sample.metricName !== `${name}_sum`) continue;
    const key = JSON.stringify(sample.labels);
    const row = rows.get(key) ?? { labels: { ...sample.labels }, count: 0, sum: 0 };
    if (sample.metricName.endsWith('_count')) row.count = sample.value;
    else row.sum = sample.value;
    rows.set(key, row);
  }
  return [...rows.values()];
}

const OPENAI_CHAT_LABELS = {
  gen_ai_operation_name: 'chat',
  gen_ai_provider_name: 'openai',
  gen_ai_system: 'openai',
  gen_ai_request_model: 'gpt-4o',
  gen_ai_response_model: 'gpt-4o-2024-08-06',
  service: 'svc-1',
};

describe('DataPlaneMetrics.observeExchange', () => {
  it('records input and output tokens in gen_ai_client_token_usage, and the tokens counter', async () => {
    const metrics = new DataPlaneMetrics();
    metrics.observeExchange(exchange());
    metrics.observeExchange(exchange({ usage: { promptTokens: 80, completionTokens: 0 } }));
    expect(await histogram(metrics, 'gen_ai_client_token_usage')).toEqual([
      { labels: { ...OPENAI_CHAT_LABELS, gen_ai_token_type: 'input' }, count: 2, sum: 200 },
      { labels: { ...OPENAI_CHAT_LABELS, gen_ai_token_type: 'output' }, count: 2, sum: 30 },
    ]);
    expect((await samples(metrics, 'tokengate_tokens_total')).map(({ labels, value }) => ({ labels, value }))).toEqual([
      { labels: { service: 'svc-1', provider: 'openai', type: 'input' }, value: 200 },
      { labels: { service: 'svc-1', provider: 'openai', type: 'output' }, value: 30 },
    ]);
  });

  it('records the duration, with error_type the status class of a failed request', async () => {
    const metrics = new DataPlaneMetrics();
    metrics.observeExchange(exchange({ durationSeconds: 2 }));
    metrics.observeExchange(exchange({ status: 429, durationSeconds: 0.01, usage: { promptTokens: 0, completionTokens: 0 } }));
    metrics.observeExchange(exchange({ status: 499, durationSeconds: 3, usage: { promptTokens: 50, completionTokens: 7 } }));
    metrics.observeExchange(exchange({ status: 502, durationSeconds: 0.5, usage: null }));
    expect(await histogram(metrics, 'gen_ai_client_operation_duration_seconds')).toEqual([
      { labels: { ...OPENAI_CHAT_LABELS, error_type: '' }, count: 1, sum: 2 },
      { labels: { ...OPENAI_CHAT_LABELS, error_type: '4xx' }, count: 2, sum: 3.01 },
      { labels: { ...OPENAI_CHAT_LABELS, error_type: '5xx' }, count: 1, sum: 0.5 },
    ]);
    // Token usage only where tokens were charged: the refused 429 is left out, the client that left (499) is not.
    expect(await histogram(metrics, 'gen_ai_client_token_usage')).toEqual([
      { labels: { ...OPENAI_CHAT_LABELS, gen_ai_token_type: 'input' }, count: 2, sum: 170 },
      { labels: { ...OPENAI_CHAT_LABELS, gen_ai_token_type: 'output' }, count: 2, sum: 37 },
    ]);
  });

  it('records the time to first chunk for streams only', async () => {
    const metrics = new DataPlaneMetrics();
    metrics.observeExchange(exchange({ firstChunkSeconds: null }));
    expect(await histogram(metrics, 'gen_ai_client_operation_time_to_first_chunk_seconds')).toEqual([]);
    metrics.observeExchange(exchange({ firstChunkSeconds: 0.25 }));
    expect(await histogram(metrics, 'gen_ai_client_operation_time_to_first_chunk_seconds')).toEqual([{ labels: OPENAI_CHAT_LABELS, count: 1, sum: 0.25 }]);
  });

  it.each([
    ['openai', 'openai', 'openai'],
    ['azure-openai', 'azure.ai.openai', 'az.ai.openai'],
    ['anthropic', 'anthropic', 'anthropic'],
    ['mistral', 'mistral_ai', 'mistral_ai'],
    ['aws-bedrock', 'aws.bedrock', 'aws.bedrock'],
  ])('names provider %s gen_ai_provider_name=%s and gen_ai_system=%s', async (provider, providerName, system) => {
    const metrics = new DataPlaneMetrics();
    metrics.observeExchange(exchange({ provider }));
    const [row] = await histogram(metrics, 'gen_ai_client_operation_duration_seconds');
    expect(row.labels).toMatchObject({ gen_ai_provider_name: providerName, gen_ai_system: system });
    const [firstByte] = await histogram(metrics, 'tokengate_upstream_time_to_first_byte_seconds');
    expect(firstByte).toEqual({ labels: { gen_ai_system: system, service: 'svc-1' }, count: 1, sum: 0.4 });
  });

  it.each([
    ['chat_completions', 'chat'],
    ['responses', 'chat'],
    ['messages', 'chat'],
    ['converse', 'chat'],
    ['converse_stream', 'chat'],
    ['completions', 'text_completion'],
    ['embeddings', 'embeddings'],
    ['invoke', 'generate_content'],
    ['invoke_stream', 'generate_content'],
    ['count_tokens', 'count_tokens'],
    ['other', 'other'],
  ])('names operation %s gen_ai_operation_name=%s', async (operation, name) => {
    const metrics = new DataPlaneMetrics();
    metrics.observeExchange(exchange({ operation }));
    const [row] = await histogram(metrics, 'gen_ai_client_operation_duration_seconds');
    expect(row.labels.gen_ai_operation_name).toBe(name);
  });

  it('labels unknown models `other` past the allowed ones, and no model as empty', async () => {
    const metrics = new DataPlaneMetrics({ metricModels: ['gpt-4o'] });
    metrics.observeExchange(exchange({ requestModel: 'gpt-4o', responseModel: 'gpt-4o-2024-08-06' }));
    metrics.observeExchange(exchange({ requestModel: null, responseModel: null }));
    const rows = await histogram(metrics, 'gen_ai_client_operation_duration_seconds');
    expect(rows.map((row) => [row.labels.gen_ai_request_model, row.labels.gen_ai_response_model])).toEqual([
      ['gpt-4o', 'other'],
      ['', ''],
    ]);
  });

  it('has no connection label on any metric', async () => {
    const metrics = new DataPlaneMetrics({ environment: 'production' });
    metrics.observeExchange(exchange({ firstChunkSeconds: 0.1 }));
    metrics.countRequest('svc-1', 'openai', 200);
    metrics.countRateLimitRefusal('svc-1', 'connection', 'prompt');
    metrics.countWouldHaveRefused('svc-1', 'connection', 'total');
    const all = await metrics.registry.getMetricsAsJSON();
    expect(all.length).toBeGreaterThan(5);
    for (const metric of all) {
      for (const value of (metric as MetricObjectWithValues<MetricValue<string>>).values) {
        expect(value.labels.environment).toBe('production');
        expect(Object.keys(value.labels).filter((name) => name.includes('connection'))).toEqual([]);
      }
    }
    expect(await metrics.render()).not.toMatch(/connection(_id)?="/);
  });
});

describe('ModelLabels', () => {
  it('with an allow-list: those models, every other one `other`', () => {
    const labels = new ModelLabels(['gpt-4o', 'claude-sonnet-4-5']);
    expect(labels.label('gpt-4o')).toBe('gpt-4o');
    expect(labels.label('claude-sonnet-4-5')).toBe('claude-sonnet-4-5');
    expect(labels.label('gpt-4o-mini')).toBe('other');
    expect(labels.label('anything')).toBe('other');
    expect(labels.label(null)).toBe('');
    expect(labels.label('')).toBe('');
  });

  it('without an allow-list: the first N distinct models, then `other` for new ones', () => {
    const labels = new ModelLabels(null, 3);
    expect(['a', 'b', 'a', 'c', 'd', 'e'].map((model) => labels.label(model))).toEqual(['a', 'b', 'a', 'c', 'other', 'other']);
    expect(labels.label('b')).toBe('b'); // admitted models keep their label
    expect(new ModelLabels(null).label('x'.repeat(129))).toBe('other'); // too long to be a label
    expect(new ModelLabels(null).label('x'.repeat(128))).toBe('x'.repeat(128));
  });

  it('defaults to 20 models, and DataPlaneMetrics bounds its labels with maxMetricModels', async () => {
    const labels = new ModelLabels(null);
    const models = Array.from({ length: 21 }, (_, i) => `model-${i}`);
    expect(models.map((model) => labels.label(model))).toEqual([...models.slice(0, 20), 'other']);
    const metrics = new DataPlaneMetrics({ maxMetricModels: 1 });
    metrics.observeExchange(exchange({ requestModel: 'gpt-4o', responseModel: 'gpt-4o-2024-08-06' }));
    const [row] = await histogram(metrics, 'gen_ai_client_operation_duration_seconds');
    expect([row.labels.gen_ai_request_model, row.labels.gen_ai_response_model]).toEqual(['gpt-4o', 'other']);
  });
});
