// Prometheus metrics of one proxy instance (its own Registry, so several can live in one process).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

interface CountCell {
  count: number;
}

/** gen_ai.system values of the OpenTelemetry semantic conventions, by provider label. */
const GEN_AI_SYSTEM: Readonly<Record<string, string>> = {
  openai: 'openai',
  'azure-openai': 'az.ai.openai',
  anthropic: 'anthropic',
  mistral: 'mistral_ai',
  'aws-bedrock': 'aws.bedrock',
};

export class DataPlaneMetrics {
  readonly registry = new Registry();
  /** serviceId → provider label and status → count. Filled on the hot path without allocating per request. */
  private readonly requestCounts = new Map<string, { readonly provider: string; readonly byStatus: Map<number, CountCell> }>();
  private readonly snapshotRevision: Gauge;
  private readonly controlPlaneConnected: Gauge;
  private readonly snapshotRejections: Counter;
  private readonly rateLimitDegraded: Gauge;
  private readonly rateLimitRefusals: Counter<'service' | 'dimension'>;
  private readonly tokens: Counter<'service' | 'provider' | 'type'>;
  private readonly tokenUsage: Histogram<'gen_ai_system' | 'gen_ai_token_type' | 'service'>;
  private readonly operationDuration: Histogram<'gen_ai_system' | 'service'>;
  private readonly upstreamFirstByte: Histogram<'gen_ai_system' | 'service'>;

  constructor(options: { readonly collectProcessMetrics?: boolean; readonly environment?: string } = {}) {
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
      help: '1 while Redis is unavailable and token budgets are enforced on local counters (this proxy’s share), else 0.',
      registers: [this.registry],
    });
    this.rateLimitDegraded.set(0);
    this.rateLimitRefusals = new Counter({
      name: 'tokengate_rate_limit_refusals_total',
      help: 'Requests refused by token budgets, by service and exhausted dimension (prompt, completion, total, request_too_large).',
      labelNames: ['service', 'dimension'],
      registers: [this.registry],
    });
    this.tokens = new Counter({
      name: 'tokengate_tokens_total',
      help: 'Tokens charged to rate-limited services, by service, provider and type (input = prompt, output = completion).',
      labelNames: ['service', 'provider', 'type'],
      registers: [this.registry],
    });
    // OpenTelemetry GenAI semantic conventions, in their Prometheus spelling (seconds, tokens).
    this.operationDuration = new Histogram({
      name: 'gen_ai_client_operation_duration_seconds',
      help: 'gen_ai.client.operation.duration: time from the request reaching the proxy to the end of the response, by provider (gen_ai.system) and service.',
      labelNames: ['gen_ai_system', 'service'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [this.registry],
    });
    this.upstreamFirstByte = new Histogram({
      name: 'tokengate_upstream_time_to_first_byte_seconds',
      help: 'Time from sending a request to the provider to its response headers.',
      labelNames: ['gen_ai_system', 'service'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [this.registry],
    });
    this.tokenUsage = new Histogram({
      name: 'gen_ai_client_token_usage',
      help: 'gen_ai.client.token.usage: tokens per request to rate-limited services, by gen_ai.token.type (input, output).',
      labelNames: ['gen_ai_system', 'gen_ai_token_type', 'service'],
      buckets: [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304],
      registers: [this.registry],
    });
    if (options.collectProcessMetrics === true) collectDefaultMetrics({ register: this.registry });
  }

  observeExchange(serviceId: string, providerLabel: string, durationSeconds: number, firstByteSeconds: number | null): void {
    const system = GEN_AI_SYSTEM[providerLabel] ?? providerLabel;
    this.operationDuration.observe({ gen_ai_system: system, service: serviceId }, durationSeconds);
    if (firstByteSeconds !== null) this.upstreamFirstByte.observe({ gen_ai_system: system, service: serviceId }, firstByteSeconds);
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

  countRateLimitRefusal(serviceId: string, dimension: string): void {
    this.rateLimitRefusals.inc({ service: serviceId, dimension });
  }

  countTokens(serviceId: string, providerLabel: string, prompt: number, completion: number): void {
    const system = GEN_AI_SYSTEM[providerLabel] ?? providerLabel;
    if (prompt > 0) this.tokens.inc({ service: serviceId, provider: providerLabel, type: 'input' }, prompt);
    if (completion > 0) this.tokens.inc({ service: serviceId, provider: providerLabel, type: 'output' }, completion);
    this.tokenUsage.observe({ gen_ai_system: system, gen_ai_token_type: 'input', service: serviceId }, prompt);
    this.tokenUsage.observe({ gen_ai_system: system, gen_ai_token_type: 'output', service: serviceId }, completion);
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
