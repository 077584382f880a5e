// Sums the usage of every proxied request per minute and dimension (service, connection, operation,
// request and response model) and hands the sums over in batches, each with an id the control plane
// applies once. What is summed but not yet handed over lives only here: `flush()` on shutdown, and a
// short interval (default 1 s) bounds what a crash can lose.
import { randomBytes } from 'node:crypto';
import type { UsageBatchMessage, UsageRecordMessage } from '../config-stream/wire-types';
import type { TokenUsage, UsageOperation } from '../providers/usage-accounting';
import { innerMap } from '../runtime/inner-map';

/** One request's usage, as the proxy settled it. */
export interface UsageEvent {
  readonly serviceId: string;
  readonly organizationId: string;
  readonly projectId: string;
  readonly connectionId: string;
  readonly operation: UsageOperation;
  /** '' when the request named none. */
  readonly requestModel: string;
  /** '' when the response named none. */
  readonly responseModel: string;
  readonly usage: TokenUsage;
  /**
   * The request's outcome: what the client was answered (499: the client left), or what a 2xx
   * response that failed afterwards stands for (ADR 021); 4xx and 5xx count as errors of their class.
   */
  readonly status: number;
  /** Admitted only because a budget that refused it is in shadow mode. */
  readonly wouldHaveRefused?: boolean;
}

interface MinuteTally {
  readonly event: UsageEvent;
  readonly minuteStart: number;
  prompt: number;
  completion: number;
  cachedRead: number;
  cachedWrite: number;
  reasoning: number;
  requests: number;
  errors4xx: number;
  errors5xx: number;
  wouldHaveRefused: number;
}

const MINUTE_MS = 60_000;
/** Longest model name kept; longer ones are cut (they come from request bodies). */
const MAX_MODEL_LENGTH = 256;

export interface UsageReporterOptions {
  /** Receives each batch; must keep it until the control plane acknowledges it. */
  readonly deliver: (batch: UsageBatchMessage) => void;
  readonly proxyId: string;
  /** Default 1000 ms. */
  readonly intervalMs?: number;
  readonly now?: () => number;
}

/**
 * Tallies of one flush interval: minute → service → connection → `operation NUL request model NUL
 * response model`. Nested so that a request's lookup hashes only short strings the proxy has not seen
 * before (the ids come from the snapshot, their hashes cached), not one long key built per request.
 */
type Tallies = Map<number, Map<string, Map<string, Map<string, MinuteTally>>>>;

export class UsageReporter {
  private tallies: Tallies = new Map();
  private size = 0;
  private sequence = 0;
  private readonly timer: NodeJS.Timeout;
  /** Batch ids stay unique across restarts of a proxy that keeps its id. */
  private readonly prefix = randomBytes(6).toString('hex');
  private readonly now: () => number;

  constructor(private readonly options: UsageReporterOptions) {
    this.now = options.now ?? Date.now;
    this.timer = setInterval(() => this.flush(), options.intervalMs ?? 1000);
    this.timer.unref();
  }

  record(event: UsageEvent): void {
    const minuteStart = Math.floor(this.now() / MINUTE_MS) * MINUTE_MS;
    const requestModel = cappedModel(event.requestModel);
    const responseModel = cappedModel(event.responseModel);
    const services = innerMap(this.tallies, minuteStart);
    const connections = innerMap(services, event.serviceId);
    const byDimensions = innerMap(connections, event.connectionId);
    const key = `${event.operation}\u0000${requestModel}\u0000${responseModel}`;
    let tally = byDimensions.get(key);
    if (tally === undefined) {
      tally = { event: { ...event, requestModel, responseModel }, minuteStart, prompt: 0, completion: 0, cachedRead: 0, cachedWrite: 0, reasoning: 0, requests: 0, errors4xx: 0, errors5xx: 0, wouldHaveRefused: 0 };
      byDimensions.set(key, tally);
      this.size += 1;
    }
    const { usage, status } = event;
    tally.prompt += usage.promptTokens;
    tally.completion += usage.completionTokens;
    tally.cachedRead += usage.cachedReadTokens ?? 0;
    tally.cachedWrite += usage.cachedWriteTokens ?? 0;
    tally.reasoning += usage.reasoningTokens ?? 0;
    tally.requests += 1;
    if (event.wouldHaveRefused === true) tally.wouldHaveRefused += 1;
    if (status >= 400 && status < 500) tally.errors4xx += 1;
    else if (status >= 500 || status === 0) tally.errors5xx += 1;
  }

  /** Hands over what was summed since the last flush as one batch (nothing when idle). */
  flush(): void {
    if (this.size === 0) return;
    const records: UsageRecordMessage[] = [];
    for (const services of this.tallies.values()) {
      for (const connections of services.values()) {
        for (const byDimensions of connections.values()) {
          for (const tally of byDimensions.values()) records.push(toRecord(tally));
        }
      }
    }
    this.tallies = new Map();
    this.size = 0;
    this.sequence += 1;
    this.options.deliver({ batch_id: `${this.options.proxyId}:${this.prefix}:${this.sequence}`, records });
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

/** Model names come from request bodies: longer ones are cut. */
function cappedModel(model: string): string {
  return model.length > MAX_MODEL_LENGTH ? model.slice(0, MAX_MODEL_LENGTH) : model;
}

function toRecord(t: MinuteTally): UsageRecordMessage {
  const e = t.event;
  return {
    service_id: e.serviceId,
    connection_id: e.connectionId,
    organization_id: e.organizationId,
    project_id: e.projectId,
    operation: e.operation,
    request_model: e.requestModel,
    response_model: e.responseModel,
    window_unit: 'MINUTE',
    window_start: new Date(t.minuteStart).toISOString(),
    prompt_tokens: String(t.prompt),
    completion_tokens: String(t.completion),
    total_tokens: String(t.prompt + t.completion),
    cached_prompt_read_tokens: String(t.cachedRead),
    cached_prompt_write_tokens: String(t.cachedWrite),
    reasoning_tokens: String(t.reasoning),
    requests: String(t.requests),
    errors_4xx: String(t.errors4xx),
    errors_5xx: String(t.errors5xx),
    would_have_refused: String(t.wouldHaveRefused),
  };
}
