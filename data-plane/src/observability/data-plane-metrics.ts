// Prometheus metrics of one proxy instance (its own Registry, so several can live in one process).
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { LabelledHistogram } from './labelled-histogram';
import { innerMap } from '../runtime/inner-map';

interface CountCell {
  count: number;
}

/**
 * Provider names of the OpenTelemetry GenAI conventions by provider label: `gen_ai.provider.name`
 * (semconv 1.37+) and the older `gen_ai.system`, which dashboards still use (it spells Azure differently).
 */
const GEN_AI_PROVIDER: Readonly<Record<string, string>> = {
  openai: 'openai',
  'azure-openai': 'azure.ai.openai',
  anthropic: 'anthropic',
  mistral: 'mistral_ai',
  'aws-bedrock': 'aws.bedrock',
};
const GEN_AI_SYSTEM: Readonly<Record<string, string>> = { ...GEN_AI_PROVIDER, 'azure-openai': 'az.ai.openai' };

/** `gen_ai.operation.name` well-known values for Tokengate's operations; the rest keep their own name. */
const GEN_AI_OPERATION: Readonly<Record<string, string>> = {
  chat_completions: 'chat',
  responses: 'chat',
  messages: 'chat',
  converse: 'chat',
  converse_stream: 'chat',
  completions: 'text_completion',
  embeddings: 'embeddings',
  invoke: 'generate_content',
  invoke_stream: 'generate_content',
};

/** One finished exchange, as the metrics see it. */
export interface ExchangeObservation {
  readonly serviceId: string;
  readonly provider: string;
  readonly operation: string;
  readonly requestModel: string | null;
  readonly responseModel: string | null;
  readonly status: number;
  readonly durationSeconds: number;
  readonly firstByteSeconds: number | null;
  /** Streams only: from the request reaching the proxy to the first body chunk relayed. */
  readonly firstChunkSeconds: number | null;
  /** Tokens the exchange was charged; null when it was not metered. */
  readonly usage: { readonly promptTokens: number; readonly completionTokens: number } | null;
}

/**
 * Model names as metric label values, bounded: the models of `allowList`, or when none is given the
 * first `maxModels` distinct models seen; every other model is `other` (model names come from request
 * bodies, so unbounded labels would let any client grow the proxy's memory and the metrics backend).
 */
export class ModelLabels {
  private readonly admitted: Set<string>;
  constructor(
    private readonly allowList: readonly string[] | null,
    private readonly maxModels = 20,
  ) {
    this.admitted = new Set(allowList ?? []);
  }

  label(model: string | null): string {
    if (model === null || model === '') return '';
    if (this.admitted.has(model)) return model;
    if (this.allowList === null && this.admitted.size < this.maxModels && model.length <= 128) {
      this.admitted.add(model);
      return model;
    }
    return 'other';
  }
}

type GenAiLabel = 'gen_ai_operation_name' | 'gen_ai_provider_name' | 'gen_ai_system' | 'gen_ai_request_model' | 'gen_ai_response_model' | 'service';

/** One label set of the GenAI histograms: its keys and label factories (see seriesOf). */
interface Series {
  readonly key: string;
  readonly labels: Readonly<Record<GenAiLabel, string>>;
  readonly plainLabels: () => Readonly<Record<GenAiLabel, string>>;
  readonly durationKey: string;
  readonly durationLabels: () => Readonly<Record<GenAiLabel | 'error_type', string>>;
  readonly firstByteKey: string;
  readonly firstByteLabels: () => Readonly<Record<'gen_ai_system' | 'service', string>>;
  readonly inputKey: string;
  readonly inputLabels: () => Readonly<Record<GenAiLabel | 'gen_ai_token_type', string>>;
  readonly outputKey: string;
  readonly outputLabels: () => Readonly<Record<GenAiLabel | 'gen_ai_token_type', string>>;
}

/** Service → operation → request model → response model → series. */
type SeriesTree = Map<string, Map<string, Map<string, Map<string, Series>>>>;

export class DataPlaneMetrics {
  readonly registry = new Registry();
  /** serviceId → provider label and status → count. Filled on the hot path without allocating per request. */
  private readonly requestCounts = new Map<string, { readonly provider: string; readonly byStatus: Map<number, CountCell> }>();
  private readonly snapshotRevision: Gauge;
  private readonly controlPlaneConnected: Gauge;
  private readonly snapshotRejections: Counter;
  private readonly rateLimitDegraded: Gauge;
  private readonly rateLimitRefusals: Counter<'service' | 'budget' | 'dimension'>;
  private readonly rateLimitWouldHaveRefused: Counter<'service' | 'budget' | 'dimension'>;
  /** service → provider label and input/output tokens; copied into tokengate_tokens_total at scrape time. */
  private readonly tokenCounts = new Map<string, { readonly provider: string; input: number; output: number }>();
  private readonly tokenUsage: LabelledHistogram<GenAiLabel | 'gen_ai_token_type'>;
  private readonly operationDuration: LabelledHistogram<GenAiLabel | 'error_type'>;
  private readonly timeToFirstChunk: LabelledHistogram<GenAiLabel>;
  private readonly upstreamFirstByte: LabelledHistogram<'gen_ai_system' | 'service'>;
  private readonly models: ModelLabels;
  private readonly series: SeriesTree = new Map();

  constructor(options: { readonly collectProcessMetrics?: boolean; readonly environment?: string; readonly metricModels?: readonly string[] | null; readonly maxMetricModels?: number } = {}) {
    this.models = new ModelLabels(options.metricModels ?? null, options.maxMetricModels);
    if (options.environment !== undefined) this.registry.setDefaultLabels({ environment: options.environment });
    const requestCounts = this.requestCounts;
    new Counter({
      name: 'tokengate_proxy_requests_total',
      help: 'Requests answered by the proxy, by service, provider and HTTP status (refusals included).',
      labelNames: ['service', 'provider', 'status'],
      registers: [this.registry],
      // Counted in plain numbers on the request path and copied into the metric at scrape time.
      collect(this: Counter<'service' | 'provider' | 'status'>) {
        this.reset();
        for (const [service, entry] of requestCounts) {
          for (const [status, cell] of entry.byStatus) this.inc({ service, provider: entry.provider, status: String(status) }, cell.count);
        }
      },
    });
    this.snapshotRevision = new Gauge({
      name: 'tokengate_snapshot_revision',
      help: 'Revision of the configuration snapshot being served (0 before the first one).',
      registers: [this.registry],
    });
    this.snapshotRevision.set(0);
    this.controlPlaneConnected = new Gauge({
      name: 'tokengate_control_plane_connected',
      help: '1 while the config stream to the control plane is open, else 0.',
      registers: [this.registry],
    });
    this.controlPlaneConnected.set(0);
    this.snapshotRejections = new Counter({
      name: 'tokengate_snapshot_rejections_total',
      help: 'Snapshots or deltas NACKed by this proxy.',
      registers: [this.registry],
    });
    this.rateLimitDegraded = new Gauge({
      name: 'tokengate_rate_limit_degraded',
      help: '1 while Redis is unavailable and token budgets are enforced on this proxy’s leases (or, fail-open, its local share), else 0.',
      registers: [this.registry],
    });
    this.rateLimitDegraded.set(0);
    this.rateLimitRefusals = new Counter({
      name: 'tokengate_rate_limit_refusals_total',
      help: 'Requests refused by token budgets, by service, budget (service or connection) and exhausted dimension (prompt, completion, total, request_too_large).',
      labelNames: ['service', 'budget', 'dimension'],
      registers: [this.registry],
    });
    this.rateLimitWouldHaveRefused = new Counter({
      name: 'tokengate_rate_limit_would_have_refused_total',
      help: 'Requests admitted only because the budget that would have refused them is in shadow mode, by service, budget (service or connection) and dimension.',
      labelNames: ['service', 'budget', 'dimension'],
      registers: [this.registry],
    });
    const tokenCounts = this.tokenCounts;
    new Counter({
      name: 'tokengate_tokens_total',
      help: 'Tokens billed by the providers (every metered request of every service), by service, provider and type (input = prompt, output = completion).',
      labelNames: ['service', 'provider', 'type'],
      registers: [this.registry],
      collect(this: Counter<'service' | 'provider' | 'type'>) {
        this.reset();
        for (const [service, cell] of tokenCounts) {
          if (cell.input > 0) this.inc({ service, provider: cell.provider, type: 'input' }, cell.input);
          if (cell.output > 0) this.inc({ service, provider: cell.provider, type: 'output' }, cell.output);
        }
      },
    });
    // OpenTelemetry GenAI semantic conventions, in their Prometheus spelling (seconds, tokens). Labels:
    // operation, provider (both spellings), request and response model (bounded by ModelLabels), service.
    // Connections are never a label: per-connection usage is in the control plane's GraphQL.
    const seconds = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
    this.operationDuration = new LabelledHistogram(
      'gen_ai_client_operation_duration_seconds',
      'gen_ai.client.operation.duration: time from the request reaching the proxy to the end of the response; error_type is the HTTP status class of failed requests.',
      seconds,
      this.registry,
    );
    this.timeToFirstChunk = new LabelledHistogram(
      'gen_ai_client_operation_time_to_first_chunk_seconds',
      'gen_ai.client.operation.time_to_first_chunk: streams only, from the request reaching the proxy to the first response chunk relayed.',
      seconds,
      this.registry,
    );
    this.upstreamFirstByte = new LabelledHistogram(
      'tokengate_upstream_time_to_first_byte_seconds',
      'Time from sending a request to the provider to its response headers.',
      [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      this.registry,
    );
    this.tokenUsage = new LabelledHistogram(
      'gen_ai_client_token_usage',
      'gen_ai.client.token.usage: tokens billed per request (every metered request of every service), by gen_ai.token.type (input, output).',
      [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864],
      this.registry,
    );
    if (options.collectProcessMetrics === true) collectDefaultMetrics({ register: this.registry });
  }

  /** Records a finished exchange: its duration, time to first chunk (streams) and tokens. */
  observeExchange(exchange: ExchangeObservation): void {
    const provider = exchange.provider;
    const service = exchange.serviceId;
    const series = this.seriesOf(service, provider, exchange.operation, this.models.label(exchange.requestModel), this.models.label(exchange.responseModel));
    const { key, labels } = series;
    const status = exchange.status;
    if (status >= 400 || status === 0) {
      const errorType = status === 0 ? '5xx' : `${Math.floor(status / 100)}xx`;
      this.operationDuration.observe(`${key}\u0000${errorType}`, () => ({ ...labels, error_type: errorType }), exchange.durationSeconds);
    } else {
      this.operationDuration.observe(series.durationKey, series.durationLabels, exchange.durationSeconds);
    }
    if (exchange.firstChunkSeconds !== null) this.timeToFirstChunk.observe(key, series.plainLabels, exchange.firstChunkSeconds);
    if (exchange.firstByteSeconds !== null) this.upstreamFirstByte.observe(series.firstByteKey, series.firstByteLabels, exchange.firstByteSeconds);
    const failed = status >= 400 || status === 0;
    const usage = exchange.usage;
    if (usage === null) return;
    let tokens = this.tokenCounts.get(service);
    if (tokens === undefined) {
      tokens = { provider, input: 0, output: 0 };
      this.tokenCounts.set(service, tokens);
    }
    tokens.input += usage.promptTokens;
    tokens.output += usage.completionTokens;
    // Token usage is recorded for requests the provider answered (the convention: when the count is available).
    if (failed && usage.promptTokens === 0 && usage.completionTokens === 0) return;
    this.tokenUsage.observe(series.inputKey, series.inputLabels, usage.promptTokens);
    this.tokenUsage.observe(series.outputKey, series.outputLabels, usage.completionTokens);
  }

  /**
   * The keys and labels of one label set, built once: a request looks them up through maps keyed by
   * strings it already holds (ids from the snapshot, operation names, model labels) instead of joining
   * and hashing five long keys per request.
   */
  private seriesOf(service: string, provider: string, operationId: string, requestModel: string, responseModel: string): Series {
    const byResponseModel = innerMap(innerMap(innerMap(this.series, service), operationId), requestModel);
    let series = byResponseModel.get(responseModel);
    if (series === undefined) {
      const operation = GEN_AI_OPERATION[operationId] ?? operationId;
      // One key for the label values (NUL separates them: no label value holds one).
      const key = `${operation}\u0000${provider}\u0000${requestModel}\u0000${responseModel}\u0000${service}`;
      const labels: Record<GenAiLabel, string> = {
        gen_ai_operation_name: operation,
        gen_ai_provider_name: GEN_AI_PROVIDER[provider] ?? provider,
        gen_ai_system: GEN_AI_SYSTEM[provider] ?? provider,
        gen_ai_request_model: requestModel,
        gen_ai_response_model: responseModel,
        service,
      };
      const created: Series = {
        key,
        labels,
        plainLabels: () => labels,
        durationKey: `${key}\u0000`,
        durationLabels: () => ({ ...labels, error_type: '' }),
        firstByteKey: `${provider}\u0000${service}`,
        firstByteLabels: () => ({ gen_ai_system: labels.gen_ai_system, service }),
        inputKey: `${key}\u0000input`,
        inputLabels: () => ({ ...labels, gen_ai_token_type: 'input' }),
        outputKey: `${key}\u0000output`,
        outputLabels: () => ({ ...labels, gen_ai_token_type: 'output' }),
      };
      series = created;
      byResponseModel.set(responseModel, series);
    }
    return series;
  }

  /** serviceId '' stands for requests that matched no service (404s, not ready). */
  countRequest(serviceId: string, providerLabel: string, status: number): void {
    let entry = this.requestCounts.get(serviceId);
    if (entry === undefined) {
      entry = { provider: providerLabel, byStatus: new Map() };
      this.requestCounts.set(serviceId, entry);
    }
    const cell = entry.byStatus.get(status);
    if (cell === undefined) entry.byStatus.set(status, { count: 1 });
    else cell.count += 1;
  }

  setSnapshotRevision(revision: bigint): void {
    this.snapshotRevision.set(Number(revision));
  }

  setControlPlaneConnected(connected: boolean): void {
    this.controlPlaneConnected.set(connected ? 1 : 0);
  }

  setRateLimitDegraded(degraded: boolean): void {
    this.rateLimitDegraded.set(degraded ? 1 : 0);
  }

  countRateLimitRefusal(serviceId: string, budget: string, dimension: string): void {
    this.rateLimitRefusals.inc({ service: serviceId, budget, dimension });
  }

  countWouldHaveRefused(serviceId: string, budget: string, dimension: string): void {
    this.rateLimitWouldHaveRefused.inc({ service: serviceId, budget, dimension });
  }

  countSnapshotRejection(): void {
    this.snapshotRejections.inc();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
